// temporary: CPU profile of a playing four-way race (not committed)
import { gotoApp, launchBrowser, startServer } from './lib/harness.mjs';
const present = process.argv[2] === 'present';
const server = await startServer();
const browser = await launchBrowser();
const context = await browser.newContext({ viewport: present ? { width: 1920, height: 1080 } : { width: 1400, height: 1000 } });
const page = await context.newPage();
await gotoApp(page, server, `?v=1&preset=web-server&view=race&cmp=precopy-xen,precopy-qemu,postcopy-bubbling,tsmc${present ? '&present=1' : ''}`, { waitFor: '[data-testid=race] [data-testid=grid-source] canvas' });
await page.getByTestId('race-speed').selectOption('4');
const cdp = await context.newCDPSession(page);
await cdp.send('Profiler.enable');
await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
await page.locator('h1').click();
await cdp.send('Profiler.start');
await page.getByTestId('race-play').click();
await page.waitForTimeout(4000);
const { profile } = await cdp.send('Profiler.stop');
const self = new Map();
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const dt = profile.timeDeltas;
const counts = new Map();
profile.samples.forEach((id, i) => counts.set(id, (counts.get(id) ?? 0) + (dt[i] ?? 0)));
let total = 0;
for (const [id, us] of counts) {
  const n = byId.get(id);
  const name = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').pop()}`;
  self.set(name, (self.get(name) ?? 0) + us);
  total += us;
}
const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 30);
console.log(`total ${(total / 1000).toFixed(0)} ms`);
for (const [n, us] of top) console.log(`${(us / 1000).toFixed(1).padStart(8)} ms ${(100 * us / total).toFixed(1).padStart(5)}%  ${n.slice(0, 150)}`);
await browser.close();
await server.close();
