import { startServer, launchBrowser } from '/work/main/web/browser-tests/lib/harness.mjs';
const server = await startServer();
const browser = await launchBrowser();
const page = await browser.newPage();
await page.goto(server.url + '?v=1');
const warmMem = process.argv[2] ?? '64 MiB';
const res = await page.evaluate(async (warmMem) => {
  const w = await new Promise((ok) => { const w = new Worker('./livemig-sim-worker_loader.js'); w.onmessage = (e) => { if (e.data.includes('Ready')) ok(w); }; });
  const run = (alg, mem) => new Promise((ok) => {
    const t0 = performance.now();
    w.onmessage = (e) => ok([alg, mem, Math.round(JSON.parse(e.data).Done.ms)]);
    const set = mem === '4 GiB' ? '&set=vm.memory%3D4+GiB' : `&set=vm.memory%3D${encodeURIComponent(mem)}&set=workload.working_set%3D${encodeURIComponent('8 MiB')}&set=workload.working_set_offset%3D${encodeURIComponent('4 MiB')}`;
    w.postMessage(JSON.stringify({ id: 1, job: { query: '?v=1&preset=web-server' + set, overrides: [], algorithm: alg } }));
  });
  const out = [];
  const t0 = performance.now();
  if (warmMem !== 'none') for (const a of ['postcopy-demand', 'mecom', 'delta', 'xbzrle', 'postcopy-bubbling', 'hybrid', 'precopy-xen', 'tsmc']) out.push(await run(a, warmMem));
  out.push(['warm total', Math.round(performance.now() - t0)]);
  for (const a of ['postcopy-demand', 'mecom', 'delta']) out.push(await run(a, '4 GiB'));
  return out;
}, warmMem);
console.log(JSON.stringify(res));
await browser.close(); await server.close(); process.exit(0);
