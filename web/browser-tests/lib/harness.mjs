// Shared set-up for the browser tests and the performance script.
//
// * `startServer(dist)`: a tiny static server for the built playground on 127.0.0.1, random port;
// * `launchBrowser()`: Debian's Chromium, headless, through playwright-core (no downloaded browser);
// * `openApp(browser, server, query)`: a fresh page that records page errors and console errors,
//   opened on `query` and waited for until the app has rendered;
// * helpers to read the metric tiles and to run the release CLI for the same scenario.
//
// Paths come from the environment when set (`cargo xtask test` sets them), else from the
// workspace layout: LIVEMIG_DIST (the trunk release build), LIVEMIG_CLI (target/release/livemig),
// CHROMIUM (/usr/bin/chromium).

import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
/** The workspace root (web/browser-tests/lib -> ../../..). */
export const ROOT = resolve(here, '..', '..', '..');
/** The built playground: `cargo xtask test` builds it with `trunk build --release --offline --dist target/web-dist`. */
export const DIST = resolve(process.env.LIVEMIG_DIST ?? join(ROOT, 'target', 'web-dist'));
/** The release CLI. */
export const CLI = resolve(process.env.LIVEMIG_CLI ?? join(ROOT, 'target', 'release', 'livemig'));
/** The browser. */
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** The metric tiles (`data-testid=metric-<id>`) and the CLI JSON field each equals at the end of a run. */
export const METRICS = [
  { id: 'total-time', field: 'total_time_s', kind: 'float' },
  { id: 'downtime', field: 'downtime_s', kind: 'float' },
  { id: 'pages-sent', field: 'pages_sent', kind: 'int' },
  { id: 'bytes-sent', field: 'bytes_sent', kind: 'int' },
  { id: 'duplicate-pages', field: 'duplicate_pages', kind: 'int' },
  { id: 'rounds', field: 'rounds', kind: 'int' },
  { id: 'network-faults', field: 'network_faults', kind: 'int' },
  { id: 'fault-stall', field: 'fault_stall_s', kind: 'float' },
];

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.toml': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** Fails early, with what to do, when the build is missing. */
export function checkDist(dist = DIST) {
  if (!existsSync(join(dist, 'index.html'))) {
    throw new Error(
      `no playground build at ${dist}: run \`cargo xtask test\` (or \`trunk build --release --offline --dist target/web-dist\`), ` +
        'or point LIVEMIG_DIST at a trunk dist/ directory',
    );
  }
}

/**
 * Serves `dist` on 127.0.0.1 at a free port. Resolves to `{ url, close() }`; `url` ends with '/'.
 * Unknown paths answer 404 (the app is a single page at '/', its state is in the query string).
 */
export async function startServer(dist = DIST) {
  checkDist(dist);
  const root = resolve(dist);
  const server = createServer((req, res) => {
    let path;
    try {
      path = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname);
    } catch {
      res.writeHead(400).end('bad request');
      return;
    }
    if (path.endsWith('/')) path += 'index.html';
    const file = normalize(join(root, path));
    if (!file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}`);
      return;
    }
    const body = readFileSync(file);
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': body.length,
      'cache-control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  // Keep-alive sockets would hold close() open until they time out.
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    close: () =>
      new Promise((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
}

/** Headless Chromium with the flags that work on this project's machines, in a fresh profile. */
export async function launchBrowser({ args = [] } = {}) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no browser at ${CHROMIUM}: \`apt-get install -y chromium chromium-driver\` (cargo xtask test does), or set CHROMIUM`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'livemig-chromium-'));
  // playwright-core adds --headless and a fresh temporary --user-data-dir of its own (it refuses
  // one in `args`); HOME and the XDG directories point at another fresh directory so that nothing
  // of the machine's user profile is read or written.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...args,
    ],
    env: { ...process.env, HOME: profile, XDG_CONFIG_HOME: profile, XDG_CACHE_HOME: profile },
    timeout: 60_000,
  });
  const close = browser.close.bind(browser);
  browser.close = async () => {
    await close();
    rmSync(profile, { recursive: true, force: true });
  };
  return browser;
}

/**
 * Opens the app at `query` ('' or '?v=1&...') in a new context and page, and waits until the
 * header and both grids are there. Returns `{ page, context, errors }`; `errors` collects every
 * uncaught page error and console error from then on (check it with `assertNoErrors`).
 */
export async function openApp(browser, server, query = '', { waitFor = '[data-testid=grid-source] canvas', viewport } = {}) {
  const context = await browser.newContext({ viewport: viewport ?? { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await gotoApp(page, server, query, { waitFor });
  return { page, context, errors };
}

/** Navigates `page` to the app at `query` and waits for it to render. */
export async function gotoApp(page, server, query = '', { waitFor = '[data-testid=grid-source] canvas' } = {}) {
  await page.goto(server.url + query, { waitUntil: 'load' });
  await page.locator('h1', { hasText: 'LiveMig Lab' }).waitFor({ state: 'visible', timeout: 60_000 });
  if (waitFor) await page.locator(waitFor).first().waitFor({ state: 'visible', timeout: 60_000 });
}

/** Records page errors and console errors of `page` into the returned array. */
export function watchErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console error: ${m.text()}`);
  });
  page.on('crash', () => errors.push('page crashed'));
  return errors;
}

/** The panic panel's message when it is shown, else null. */
export async function panicMessage(page) {
  const shown = await page.locator('#panic-panel').isVisible();
  return shown ? await page.locator('#panic-message').textContent() : null;
}

/** Throws with every recorded error and the panic panel's message, if any. */
export async function assertNoErrors(page, errors) {
  const panic = await panicMessage(page);
  const all = [...errors, ...(panic === null ? [] : [`panic panel shown: ${panic}`])];
  if (all.length) {
    const counted = [...new Set(all)].map((e) => {
      const n = all.filter((x) => x === e).length;
      return n > 1 ? `${e} (${n} times)` : e;
    });
    throw new Error(`the page reported errors:\n  ${counted.join('\n  ')}`);
  }
}

/** The `data-value` of every metric tile, by id (e.g. { 'total-time': '8.61...', ... }). */
export async function readMetrics(page) {
  return page.evaluate((ids) => {
    const out = {};
    for (const id of ids) {
      const el = document.querySelector(`[data-testid="metric-${id}"]`);
      out[id] = el ? el.getAttribute('data-value') : null;
    }
    return out;
  }, METRICS.map((m) => m.id));
}

/** The player's position: the time text and "step N of M". */
export async function readPosition(page) {
  return page.evaluate(() => {
    const time = document.querySelector('[data-testid="time"]')?.textContent ?? null;
    const controls = document.querySelector('[data-testid="time"]')?.closest('section');
    const step = controls?.textContent.match(/step \d+ of \d+/)?.[0] ?? null;
    return { time, step };
  });
}

/** Clicks End and waits for the outcome line. */
export async function runToEnd(page) {
  await page.getByTestId('end').click();
  await page.getByTestId('outcome').waitFor({ state: 'visible', timeout: 60_000 });
}

/** Waits until `fn()` (async) returns a truthy value, polling; returns it. */
export async function until(fn, { timeout = 10_000, interval = 50, message = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${message} (last value: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** `livemig simulate <preset> --algorithm <alg> [--set seed=N] --json`, parsed. */
export function cliReport(preset, algorithm, { seed, sets = [] } = {}) {
  if (!existsSync(CLI)) throw new Error(`no CLI at ${CLI}: \`cargo build --release -p livemig-runner\` (cargo xtask test does), or set LIVEMIG_CLI`);
  const args = ['simulate', preset, '--algorithm', algorithm, '--json'];
  if (seed !== undefined) args.push('--set', `seed=${seed}`);
  for (const s of sets) args.push('--set', s);
  const r = spawnSync(CLI, args, { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${CLI} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/**
 * Compares the page's metric values with a CLI report: integers exactly, floats within `rel`
 * relative (absolute for values near 0). Returns a list of differences (empty when equal).
 */
export function metricDifferences(shown, report, rel = 1e-9) {
  const diffs = [];
  for (const m of METRICS) {
    const want = report[m.field];
    const got = shown[m.id];
    if (got === null || got === undefined) {
      diffs.push(`metric-${m.id}: missing on the page (CLI ${m.field} = ${want})`);
      continue;
    }
    if (m.kind === 'int') {
      if (!/^\d+$/.test(got) || BigInt(got) !== BigInt(want)) diffs.push(`metric-${m.id}: page ${got}, CLI ${m.field} ${want}`);
    } else {
      const g = Number(got);
      const ok = Number.isFinite(g) && Math.abs(g - want) <= rel * Math.max(Math.abs(want), Math.abs(g), 1e-300);
      if (!ok && !(g === 0 && want === 0)) diffs.push(`metric-${m.id}: page ${got}, CLI ${m.field} ${want}`);
    }
  }
  return diffs;
}

/**
 * Registers `before` and `after` hooks in the enclosing `describe`: a server for the build and a
 * browser, handed to `set(server, browser)` before the first test and closed after the last.
 */
export function withServerAndBrowser(set) {
  let server, browser;
  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    set(server, browser);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });
}
