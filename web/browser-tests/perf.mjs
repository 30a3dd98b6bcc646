// Performance of the browser playground, measured in headless Chromium (not a pass/fail test):
//
// * wasm size, raw, gzip -9 and brotli (what a server would send), and the JS glue;
// * time to first interactive render on 127.0.0.1: navigation start -> both host grids drawn
//   (canvas in the page with coloured pixels) and the play button there, median of several
//   fresh loads;
// * frame times while playing a 1 GiB VM (web-server, postcopy-bubbling) at a fast speed for
//   ~5 s: the interval between animation frames (what the eye sees) and the time the app's own
//   requestAnimationFrame callbacks take with the yew render they cause (its work per frame),
//   median and 95th percentile.
//
// * the same for a four-way race of 1 GiB VMs (web-server; --race names the racers), on the
//   normal page at 1400x1000 and in presentation mode at 1920x1080;
// * entering presentation mode (the `p` key) on a single run and on the four-way race at
//   1920x1080: keydown to the first frame with presentation mode's grids drawn, median of
//   several fresh pages;
// * a comparison of every algorithm on web-server with a 4 GiB VM: time to the table.
//
//   node perf.mjs [--seconds 5] [--speed 4] [--loads 5] [--query '?v=1&...'] [--compare-memory '4 GiB']
//                 [--click-after MS] [--race a,b,c,d] [--skip-compare] [--json]
//
// (--click-after: wait that long on the Compare view before clicking, as a reader would; by
// default the click comes as soon as the button is there, while the workers may still load.)
//
// `cargo xtask perf` builds the release playground first and runs this. Environment: as the
// tests (LIVEMIG_DIST, CHROMIUM), see lib/harness.mjs.

import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { brotliCompressSync, constants as zc, gzipSync } from 'node:zlib';
import { DIST, gotoApp, launchBrowser, startServer, watchErrors } from './lib/harness.mjs';

const { values: opt } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    speed: { type: 'string', default: '4' },
    loads: { type: 'string', default: '5' },
    query: { type: 'string', default: '?v=1&preset=web-server&alg=postcopy-bubbling' },
    json: { type: 'boolean', default: false },
    'compare-memory': { type: 'string', default: '4 GiB' },
    'click-after': { type: 'string', default: '0' },
    race: { type: 'string', default: 'precopy-xen,precopy-qemu,postcopy-bubbling,tsmc' },
    'skip-compare': { type: 'boolean', default: false },
  },
});
const SECONDS = Number(opt.seconds);
const LOADS = Math.max(1, Number(opt.loads));

const quantile = (xs, q) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
};
const median = (xs) => quantile(xs, 0.5);
// Other work on the machine skews every figure: the load average is printed with them.
const loadAverage = () => loadavg().map((x) => x.toFixed(2)).join(', ');
const ms = (x) => (Number.isFinite(x) ? `${x.toFixed(1)} ms` : 'n/a');
const size = (b) => `${(b / 1024 / 1024).toFixed(2)} MiB (${b.toLocaleString('en')} B)`;

// ---- sizes ----------------------------------------------------------------------------------
function sizes() {
  const files = readdirSync(DIST);
  const pick = (ext) => files.filter((f) => f.endsWith(ext)).map((f) => join(DIST, f));
  const measure = (paths) => {
    const raw = paths.map((p) => readFileSync(p));
    const sum = (f) => raw.reduce((n, b) => n + f(b), 0);
    return {
      files: paths.map((p) => p.slice(DIST.length + 1)),
      raw: sum((b) => b.length),
      gzip: sum((b) => gzipSync(b, { level: 9 }).length),
      brotli: sum((b) => brotliCompressSync(b, { params: { [zc.BROTLI_PARAM_QUALITY]: 11 } }).length),
    };
  };
  return { wasm: measure(pick('.wasm')), js: measure(pick('.js')) };
}

// ---- first render ---------------------------------------------------------------------------
// Installed before the page's own scripts: watches the DOM for both grid canvases and the play
// button, then checks each frame until the source grid has coloured pixels.
const FIRST_RENDER_PROBE = () => {
  window.__perf = { gridsInDom: null, drawn: null };
  const ready = () =>
    document.querySelector('[data-testid=grid-source] canvas') &&
    document.querySelector('[data-testid=grid-destination] canvas') &&
    document.querySelector('[data-testid=play]');
  const painted = () => {
    const c = document.querySelector('[data-testid=grid-source] canvas');
    const ctx = c && c.getContext('2d');
    if (!ctx || !c.width || !c.height) return false;
    const d = ctx.getImageData(0, 0, c.width, Math.min(c.height, 8)).data;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
    return false;
  };
  const watch = () => {
    if (window.__perf.drawn !== null) return;
    if (painted()) window.__perf.drawn = performance.now();
    else requestAnimationFrame(watch);
  };
  const obs = new MutationObserver(() => {
    if (window.__perf.gridsInDom === null && ready()) {
      window.__perf.gridsInDom = performance.now();
      obs.disconnect();
      requestAnimationFrame(watch);
    }
  });
  document.addEventListener('DOMContentLoaded', () => obs.observe(document.body, { childList: true, subtree: true }));
};

async function firstRender(browser, server) {
  const runs = [];
  for (let i = 0; i < LOADS; i++) {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    await page.addInitScript(FIRST_RENDER_PROBE);
    await page.goto(server.url + opt.query);
    await page.waitForFunction(() => window.__perf && window.__perf.drawn !== null, null, { timeout: 60_000 });
    runs.push(
      await page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const wasm = performance.getEntriesByType('resource').find((r) => r.name.endsWith('.wasm'));
        return {
          domContentLoaded: nav.domContentLoadedEventEnd,
          load: nav.loadEventEnd,
          wasmFetched: wasm ? wasm.responseEnd : NaN,
          gridsInDom: window.__perf.gridsInDom,
          drawn: window.__perf.drawn,
        };
      }),
    );
    await context.close();
  }
  const col = (k) => runs.map((r) => r[k]);
  return { runs, median: Object.fromEntries(Object.keys(runs[0]).map((k) => [k, median(col(k))])), min: Math.min(...col('drawn')), max: Math.max(...col('drawn')) };
}

// ---- frames while playing ---------------------------------------------------------------------
// `what` names the player's elements: the single run's (play, speed, time) or the race's
// (race-play, race-speed, race-time). With `present`, the page opens in presentation mode.
const SINGLE = { play: 'play', speed: 'speed', time: 'time', waitFor: '[data-testid=grid-source] canvas' };
const RACE = { play: 'race-play', speed: 'race-speed', time: 'race-time', waitFor: '[data-testid=race] [data-testid=grid-source] canvas' };

async function frames(browser, server, query, what = SINGLE, viewport = { width: 1400, height: 1000 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await gotoApp(page, server, query, { waitFor: what.waitFor });
  await page.getByTestId(what.speed).selectOption(String(opt.speed));
  const info = await page.evaluate((what) => ({
    dpr: devicePixelRatio,
    pages: document.querySelector('[data-testid=grid-source-cells]')?.textContent,
    grids: document.querySelectorAll('canvas.grid').length,
    duration: document.querySelector(`[data-testid=${what.time}]`)?.textContent,
  }), what);
  // Hook requestAnimationFrame: time every callback the app registers; a separate loop on the
  // original function records the frame timestamps.
  await page.evaluate(() => {
    const raf = window.requestAnimationFrame.bind(window);
    window.__frames = { stamps: [], work: [], longTasks: [], restarts: 0, recording: false, raf };
    // yew renders in a microtask after the callback that changed its state, so the time is read
    // two microtask turns after the callback returns: the callback plus the render it caused.
    window.requestAnimationFrame = (cb) =>
      raf((ts) => {
        const t0 = performance.now();
        const record = () => {
          if (window.__frames.recording) window.__frames.work.push(performance.now() - t0);
        };
        try {
          cb(ts);
        } finally {
          queueMicrotask(() => queueMicrotask(() => queueMicrotask(record)));
        }
      });
    try {
      new PerformanceObserver((l) => {
        if (window.__frames.recording) for (const e of l.getEntries()) window.__frames.longTasks.push(e.duration);
      }).observe({ type: 'longtask', buffered: false });
    } catch {
      /* no long task API */
    }
  });
  await page.locator('h1').click(); // focus away from controls
  await page.getByTestId(what.play).click();
  const result = await page.evaluate(
    ([seconds, what]) =>
      new Promise((done) => {
        const f = window.__frames;
        f.recording = true;
        const start = performance.now();
        const loop = (ts) => {
          f.stamps.push(ts);
          // The run may end before the measurement does: play it again (from the start).
          const play = document.querySelector(`[data-testid=${what.play}]`);
          if (play && /Play/.test(play.textContent)) {
            f.restarts++;
            play.click();
          }
          if (performance.now() - start < seconds * 1000) f.raf(loop);
          else {
            f.recording = false;
            done({ stamps: f.stamps, work: f.work, longTasks: f.longTasks, restarts: f.restarts });
          }
        };
        f.raf(loop);
      }),
    [SECONDS, what],
  );
  await context.close();
  const intervals = result.stamps.slice(1).map((t, i) => t - result.stamps[i]);
  return {
    query,
    viewport,
    info,
    frames: result.stamps.length,
    fps: (result.stamps.length - 1) / ((result.stamps.at(-1) - result.stamps[0]) / 1000),
    interval: { median: median(intervals), p95: quantile(intervals, 0.95), max: Math.max(...intervals) },
    work: { median: median(result.work), p95: quantile(result.work, 0.95), max: Math.max(...result.work), count: result.work.length },
    slowFrames: intervals.filter((x) => x > 1000 / 60 * 1.5).length,
    longTasks: result.longTasks.length,
    restarts: result.restarts,
    errors,
  };
}

// ---- entering presentation mode ---------------------------------------------------------------
// Measured in the page: from the `p` keydown to the first frame painted after presentation
// mode's grids are laid out and drawn (every grid canvas has a size and coloured pixels), for
// a single run and for a four-way race, `LOADS` times each from a fresh page.
async function presentEntry(browser, server, query, what, viewport = { width: 1920, height: 1080 }) {
  const runs = [];
  for (let i = 0; i < LOADS; i++) {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await gotoApp(page, server, query, { waitFor: what.waitFor });
    await page.locator('h1').click();
    // Let the page settle (a ResizeObserver's first measurement, the workers' warm-up).
    await page.waitForTimeout(500);
    await page.evaluate(() => {
      window.__present = { down: null, painted: null };
      document.addEventListener('keydown', (e) => {
        if (e.key === 'p' && window.__present.down === null) window.__present.down = performance.now();
      }, { capture: true });
      const drawn = () => {
        if (!document.querySelector('[data-testid=presentation]')) return false;
        const grids = [...document.querySelectorAll('canvas.grid')];
        if (!grids.length) return false;
        return grids.every((c) => {
          if (!c.width || !c.height || !c.getBoundingClientRect().width) return false;
          const d = c.getContext('2d').getImageData(0, 0, c.width, Math.min(c.height, 4)).data;
          for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
          return false;
        });
      };
      const watch = () => {
        if (window.__present.down !== null && drawn()) {
          // The frame that shows it: the next animation frame's start.
          requestAnimationFrame((ts) => (window.__present.painted = ts));
        } else requestAnimationFrame(watch);
      };
      requestAnimationFrame(watch);
    });
    await page.keyboard.press('p');
    await page.waitForFunction(() => window.__present.painted !== null, null, { timeout: 60_000 });
    runs.push(await page.evaluate(() => window.__present.painted - window.__present.down));
    if (errors.length) runs.errors = errors;
    await context.close();
  }
  return { query, viewport, runs, median: median(runs), min: Math.min(...runs), max: Math.max(...runs) };
}

// ---- compare every algorithm on a 4 GiB VM --------------------------------------------------
// The Compare view with every registered algorithm on web-server at 4 GiB: the time from the
// click to the table (measured in the page), the view's own start-to-last-result time, and the
// simulations' time summed over the runs (they run side by side in the workers).
async function compareAll(browser, server) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await gotoApp(page, server, `?v=1&preset=web-server&set=vm.memory%3D${encodeURIComponent(opt['compare-memory'])}&view=compare`, {
    waitFor: '[data-testid=compare-run]',
  });
  await page.getByTestId('pick-all').click();
  const count = Number((await page.getByTestId('compare-run').textContent()).match(/\d+/)[0]);
  // Measured in the page: from the click's event to the table's appearing in the DOM (a
  // MutationObserver), without the test driver's round trips.
  await page.evaluate(() => {
    window.__cmp = {};
    document.addEventListener('click', (e) => {
      if (e.target.closest('[data-testid=compare-run]')) window.__cmp.click = performance.now();
    }, { capture: true });
    new MutationObserver(() => {
      if (window.__cmp.click && !window.__cmp.table && document.querySelector('[data-testid=compare-table]')) window.__cmp.table = performance.now();
    }).observe(document.body, { childList: true, subtree: true });
  });
  if (Number(opt['click-after']) > 0) await page.waitForTimeout(Number(opt['click-after']));
  const t0 = Date.now();
  await page.getByTestId('compare-run').click();
  await page.getByTestId('compare-table').waitFor({ state: 'visible', timeout: 300_000 });
  const driverMs = Date.now() - t0;
  const wallMs = await page.evaluate(() => window.__cmp.table - window.__cmp.click);
  const busyMs = Number(await page.getByTestId('compare-time').getAttribute('data-ms'));
  const runMs = Number(await page.getByTestId('compare-time').getAttribute('data-wall-ms'));
  const where = (await page.locator('.compare-time').textContent()).match(/in the browser ([^:]*):/)?.[1] ?? '?';
  const perRow = await page.evaluate(() =>
    [...document.querySelectorAll('[data-testid^=compare-row-] th[data-ms]')].map((th) => [th.closest('tr').dataset.testid.replace('compare-row-', ''), Number(th.dataset.ms)]),
  );
  const failed = await page.locator('tr.failed').count();
  await context.close();
  return { count, memory: opt['compare-memory'], busyMs, wallMs, runMs, driverMs, where, failed, perAlgorithm: perRow.sort((a, b) => b[1] - a[1]), errors };
}

// ---- main -------------------------------------------------------------------------------------
const server = await startServer();
const browser = await launchBrowser();
try {
  const sz = sizes();
  const fr = await firstRender(browser, server);
  const pl = await frames(browser, server, opt.query);
  const raceQuery = `?v=1&preset=web-server&view=race&cmp=${opt.race}`;
  const race = await frames(browser, server, raceQuery, RACE);
  const racePresented = await frames(browser, server, `${raceQuery}&present=1`, RACE, { width: 1920, height: 1080 });
  const enterSingle = await presentEntry(browser, server, opt.query, SINGLE);
  const enterRace = await presentEntry(browser, server, raceQuery, RACE);
  const cmp = opt['skip-compare'] ? null : await compareAll(browser, server);
  const out = {
    browser: `Chromium ${browser.version()} headless`,
    query: opt.query,
    load: loadAverage(),
    sizes: sz,
    firstRender: fr,
    playing: pl,
    race,
    racePresented,
    presentEntry: { single: enterSingle, race: enterRace },
    compare: cmp,
  };
  if (opt.json) {
    console.log(JSON.stringify(out, null, 2));
  } else {
    const playRows = (label, p) => [
      [`${label} at ${opt.speed}x for ${SECONDS} s, ${p.viewport.width}x${p.viewport.height} (${p.info.grids} grids, ${p.info.pages}, run ${p.info.duration?.split('/ ')[1]})`, `${p.frames} frames, ${p.fps.toFixed(1)} frames/s, ${p.restarts} restarts`],
      ['  frame interval median / p95 / max', `${ms(p.interval.median)} / ${ms(p.interval.p95)} / ${ms(p.interval.max)}`],
      ['  app work per frame (rAF callback + render) median / p95 / max', `${ms(p.work.median)} / ${ms(p.work.p95)} / ${ms(p.work.max)} (${p.work.count} callbacks)`],
      ['  frames over 25 ms / long tasks (> 50 ms)', `${p.slowFrames} / ${p.longTasks}`],
    ];
    const entryRow = (label, e) => [`${label}: p -> drawn, ${e.viewport.width}x${e.viewport.height} (median of ${e.runs.length}; min, max)`, `${ms(e.median)} (${ms(e.min)}, ${ms(e.max)})`];
    const rows = [
      ['load average (1, 5, 15 min) at the start', out.load],
      ['wasm (' + sz.wasm.files.join(', ') + ') raw', size(sz.wasm.raw)],
      ['wasm gzip -9', size(sz.wasm.gzip)],
      ['wasm brotli 11', size(sz.wasm.brotli)],
      ['JS glue raw / gzip -9', `${(sz.js.raw / 1024).toFixed(1)} KiB / ${(sz.js.gzip / 1024).toFixed(1)} KiB`],
      [`first render: navigation -> grids drawn (median of ${LOADS}; min, max)`, `${ms(fr.median.drawn)} (${ms(fr.min)}, ${ms(fr.max)})`],
      ['  of which: DOMContentLoaded / wasm fetched / grids in DOM', `${ms(fr.median.domContentLoaded)} / ${ms(fr.median.wasmFetched)} / ${ms(fr.median.gridsInDom)}`],
      ...playRows(`playing ${opt.query}`, pl),
      ...playRows(`four-way race ${opt.race} (web-server, 1 GiB)`, race),
      ...playRows('  the same race in presentation mode', racePresented),
      entryRow('entering presentation mode, single run', enterSingle),
      entryRow('entering presentation mode, four-way race', enterRace),
    ];
    if (cmp) rows.push(
      [`compare all ${cmp.count} algorithms, web-server at ${cmp.memory} (${cmp.where}): click to table`, `${ms(cmp.wallMs)}${cmp.failed ? ` (${cmp.failed} failed)` : ''}`],
      ['  of which: start to last result / simulations summed over the runs', `${ms(cmp.runMs)} / ${ms(cmp.busyMs)}`],
      ['  per algorithm, slowest first', cmp.perAlgorithm.map(([n, t]) => `${n} ${ms(t)}`).join(', ')],
    );
    const w = Math.max(...rows.map((r) => r[0].length));
    console.log(`LiveMig Lab playground performance: ${out.browser}, served from ${DIST} on 127.0.0.1, device pixel ratio ${pl.info.dpr}\n`);
    for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
    if (cmp?.errors.length) console.log(`\npage errors while comparing:\n  ${[...new Set(cmp.errors)].join('\n  ')}`);
    for (const [what, p] of [['playing', pl], ['racing', race], ['racing presented', racePresented]]) {
      if (p.errors.length) console.log(`\npage errors while ${what}:\n  ${[...new Set(p.errors)].join('\n  ')}`);
    }
  }
} finally {
  await browser.close();
  await server.close();
}
