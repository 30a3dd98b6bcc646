// (b) A preset runs to the end and is verified; (c) the metrics shown at the end equal
// `livemig simulate --json` for the same scenario and seed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertNoErrors, cliReport, metricDifferences, openApp, readMetrics, runToEnd, withServerAndBrowser } from '../lib/harness.mjs';

describe('running a preset to the end', () => {
  let server, browser;
  withServerAndBrowser((s, b) => ([server, browser] = [s, b]));

  it('idle-vm with precopy-xen ends verified (End button)', async () => {
    const { page, context, errors } = await openApp(browser, server, '?v=1&preset=idle-vm&alg=precopy-xen');
    try {
      await runToEnd(page);
      const outcome = page.getByTestId('outcome');
      assert.match(await outcome.textContent(), /verified/);
      assert.doesNotMatch(await outcome.textContent(), /NOT verified/);
      assert.equal(await outcome.getAttribute('data-verified'), 'true');
      await assertNoErrors(page, errors);
    } finally {
      await context.close();
    }
  });

  it('idle-vm with precopy-xen ends verified (End key)', async () => {
    const { page, context, errors } = await openApp(browser, server, '?v=1&preset=idle-vm&alg=precopy-xen');
    try {
      await page.locator('h1').click();
      await page.keyboard.press('End');
      await page.getByTestId('outcome').waitFor({ state: 'visible', timeout: 30_000 });
      assert.equal(await page.getByTestId('outcome').getAttribute('data-verified'), 'true');
      await assertNoErrors(page, errors);
    } finally {
      await context.close();
    }
  });
});

describe('the metrics at the end equal `livemig simulate --json`', () => {
  let server, browser;
  withServerAndBrowser((s, b) => ([server, browser] = [s, b]));

  // (preset, algorithm, seed): seed undefined means the preset's own (no `seed=` in the link).
  const CASES = [
    ['web-server', 'postcopy-bubbling', undefined],
    ['memtester', 'tsmc', undefined],
    ['idle-vm', 'mecom', undefined],
    ['slow-wan', 'precopy-qemu', 7],
    ['write-hot-database', 'hybrid', 3],
  ];
  for (const [preset, alg, seed] of CASES) {
    it(`${preset} / ${alg}${seed === undefined ? '' : ` / seed ${seed}`}`, async () => {
      const want = cliReport(preset, alg, { seed });
      const query = `?v=1&preset=${preset}&alg=${alg}${seed === undefined ? '' : `&seed=${seed}`}`;
      const { page, context, errors } = await openApp(browser, server, query);
      try {
        await runToEnd(page);
        const shown = await readMetrics(page);
        assert.deepEqual(metricDifferences(shown, want), [], `page ${JSON.stringify(shown)}`);
        assert.equal(await page.getByTestId('outcome').getAttribute('data-verified'), String(want.verified));
        await assertNoErrors(page, errors);
      } finally {
        await context.close();
      }
    });
  }
});
