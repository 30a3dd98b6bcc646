// Accessibility checked in the browser: axe-core (the npm package, injected into the page under
// test) runs on every view, and any serious or critical violation fails the test with the rule,
// its help text and the elements it found. Minor and moderate findings are printed, not failed.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { assertNoErrors, openApp, runToEnd, withServerAndBrowser } from '../lib/harness.mjs';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** Runs axe on the page; returns its violations. */
async function axe(page) {
  await page.addScriptTag({ path: AXE });
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 4).map((n) => `${n.target.join(' ')}: ${n.failureSummary?.split('\n').slice(1, 2).join(' ').trim()}`),
      count: v.nodes.length,
    }));
  });
}

/** Fails on serious and critical violations; reports the others as diagnostics. */
async function check(t, page, name) {
  const found = await axe(page);
  const blocking = found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of found.filter((v) => !blocking.includes(v))) t.diagnostic(`${name}: ${v.impact} ${v.id} (${v.count}): ${v.help}`);
  const text = blocking.map((v) => `${v.impact} ${v.id} (${v.count} elements): ${v.help}\n      ${v.nodes.join('\n      ')}`).join('\n    ');
  assert.equal(blocking.length, 0, `${name}: axe found serious or critical violations:\n    ${text}`);
}

// (name, query, how to wait for the view, what to do before checking)
const VIEWS = [
  ['play', '?v=1&preset=web-server&alg=postcopy-bubbling', undefined, (page) => runToEnd(page)],
  ['play, a bad link', '?v=1&preset=nope', undefined, null],
  [
    'compare',
    '?v=1&preset=idle-vm&view=compare&cmp=precopy-xen,postcopy-bubbling',
    '[data-testid=compare-run]',
    async (page) => {
      await page.getByTestId('compare-run').click();
      await page.getByTestId('compare-table').waitFor({ state: 'visible', timeout: 120_000 });
    },
  ],
  [
    'sweep',
    '?v=1&preset=idle-vm&view=sweep',
    '[data-testid=sweep-run]',
    async (page) => {
      await page.getByTestId('sweep-run').click();
      await page.getByTestId('sweep-table').waitFor({ state: 'visible', timeout: 120_000 });
    },
  ],
  ['lessons', '?v=1&view=lessons&lesson=precopy-convergence', '[data-testid=lesson]', null],
  ['assignments', '?v=1&view=assignments&assignment=precopy-convergence', '[data-testid=assignment-title]', null],
  ['race', '?v=1&preset=idle-vm&view=race&cmp=precopy-xen,postcopy-bubbling', '[data-testid=race] canvas.grid', null],
  ['race, presented', '?v=1&preset=idle-vm&view=race&cmp=precopy-xen,postcopy-bubbling&present=1', '[data-testid=race] canvas.grid', null],
  ['presentation mode', '?v=1&preset=web-server&alg=postcopy-bubbling&present=1', '[data-testid=presentation]', (page) => runToEnd(page)],
  ['a race lesson', '?v=1&view=lessons&lesson=race-xen-qemu', '[data-testid=lesson-race]', null],
  [
    'the race of a lesson, stepped to its end',
    '?v=1&preset=write-hot-database&set=vm.memory%3D1GiB&set=workload.working_set%3D512MiB&view=race&cmp=precopy-xen,precopy-qemu&lesson=race-xen-qemu',
    '[data-testid=race-watch]',
    async (page) => {
      await page.getByTestId('race-step').click();
      await page.getByTestId('race-end').click();
      await page.getByTestId('lane-finished').first().waitFor({ state: 'visible' });
    },
  ],
  [
    'the race of a lesson, presented',
    '?v=1&preset=write-hot-database&set=vm.memory%3D1GiB&set=workload.working_set%3D512MiB&view=race&cmp=precopy-xen,precopy-qemu&lesson=race-xen-qemu&present=1',
    '[data-testid=race-watch]',
    null,
  ],
];

describe('accessibility (axe-core)', () => {
  let server, browser;
  withServerAndBrowser((s, b) => ([server, browser] = [s, b]));

  for (const [name, query, waitFor, before] of VIEWS) {
    it(`${name}: no serious or critical violation`, async (t) => {
      const { page, context, errors } = await openApp(browser, server, query, waitFor ? { waitFor } : {});
      try {
        if (before) await before(page);
        await check(t, page, name);
        await assertNoErrors(page, errors);
      } finally {
        await context.close();
      }
    });
  }
});
