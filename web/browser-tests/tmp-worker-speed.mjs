import { startServer, launchBrowser } from '/work/main/web/browser-tests/lib/harness.mjs';
const server = await startServer();
const browser = await launchBrowser();
const page = await browser.newPage();
await page.goto(server.url + '?v=1');
const algs = (process.argv[2] ?? 'postcopy-demand,mecom,delta').split(',');
const parallel = Number(process.argv[3] ?? 1);
const res = await page.evaluate(async ({ algs, parallel }) => {
  const mk = () => new Promise((ok) => { const w = new Worker('./livemig-sim-worker_loader.js'); w.onmessage = (e) => { if (e.data.includes('Ready')) ok(w); }; });
  const workers = await Promise.all(Array.from({ length: parallel }, mk));
  const run = (w, alg) => new Promise((ok) => {
    const t0 = performance.now();
    w.onmessage = (e) => ok([alg, JSON.parse(e.data).Done.ms, performance.now() - t0]);
    w.postMessage(JSON.stringify({ id: 1, job: { query: '?v=1&preset=web-server&set=vm.memory%3D4+GiB', overrides: [], algorithm: alg } }));
  });
  const out = [];
  for (const a of algs) {
    const t0 = performance.now();
    const r = await Promise.all(workers.map((w) => run(w, a)));
    out.push(r);
  }
  return out;
}, { algs, parallel });
console.log(JSON.stringify(res));
await browser.close(); await server.close?.(); process.exit(0);
