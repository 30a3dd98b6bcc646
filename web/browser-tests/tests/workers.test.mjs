// The simulation workers behind Compare and Sweep: they run one per core, a comparison that is
// stopped stops them and the next one completes, and where workers cannot load the same runs
// happen on the page's thread with the same results.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertNoErrors, cliReport, gotoApp, metricDifferences, openApp, watchErrors, withServerAndBrowser } from '../lib/harness.mjs';

/** The table's cells of `name`'s row, by column. */
async function rowCells(page, name) {
  const row = page.getByTestId(`compare-row-${name}`);
  await row.waitFor({ state: 'attached' });
  return row.evaluate((tr) => Object.fromEntries([...tr.querySelectorAll('td[data-col]')].map((td) => [td.dataset.col, td.dataset.value])));
}

async function checkRowsAgainstCli(page, names, seed) {
  for (const name of names) {
    const cells = await rowCells(page, name);
    assert.equal(cells.error, undefined, `${name} failed: ${JSON.stringify(cells)}`);
    assert.deepEqual(metricDifferences(cells, cliReport('web-server', name, { seed })), [], `${name}: the row differs from the CLI`);
  }
}

describe('simulation workers', () => {
  let server, browser;
  withServerAndBrowser((s, b) => ([server, browser] = [s, b]));

  it('Compare runs in Web Workers, one per core', async () => {
    const names = ['precopy-xen', 'postcopy-bubbling', 'mecom'];
    const { page, context, errors } = await openApp(browser, server, `?v=1&preset=web-server&seed=3&view=compare&cmp=${names.join(',')}`, {
      waitFor: '[data-testid=compare-table]',
    });
    try {
      const cores = await page.evaluate(() => navigator.hardwareConcurrency);
      const expected = Math.min(Math.max(cores, 1), 8);
      const text = await page.locator('.compare-time').textContent();
      assert.match(text, expected === 1 ? /in a Web Worker/ : new RegExp(`in ${expected} Web Workers`), text);
      assert.equal(page.workers().length, expected, 'one worker per core');
      await checkRowsAgainstCli(page, names, 3);
      await assertNoErrors(page, errors);
    } finally {
      await context.close();
    }
  });

  it('Stop abandons a running comparison, and the next one completes', async () => {
    const { page, context, errors } = await openApp(browser, server, '?v=1&preset=web-server&seed=4&set=vm.memory%3D2+GiB&view=compare', {
      waitFor: '[data-testid=compare-run]',
    });
    try {
      await page.getByTestId('pick-all').click();
      await page.getByTestId('compare-run').click();
      const progress = page.getByTestId('compare-progress');
      await progress.waitFor({ state: 'visible' });
      await progress.getByRole('button', { name: 'Stop' }).click();
      await progress.waitFor({ state: 'detached' });
      assert.equal(await page.getByTestId('compare-table').count(), 0, 'no table from the stopped comparison');
      // The busy workers were replaced: the next comparison (one algorithm per paper) runs.
      await page.getByTestId('pick-default').click();
      const count = Number((await page.getByTestId('compare-run').textContent()).match(/\d+/)[0]);
      await page.getByTestId('compare-run').click();
      await page.getByTestId('compare-table').waitFor({ state: 'visible', timeout: 60_000 });
      assert.equal(await page.locator('[data-testid^=compare-row-]').count(), count);
      assert.equal(await page.locator('[data-testid^=compare-row-].failed').count(), 0, 'no row failed');
      await assertNoErrors(page, errors);
    } finally {
      await context.close();
    }
  });

  it('where workers cannot load, Compare and Sweep run on the page with the same results', async () => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    // A worker script that fails as it loads, as a blocked or broken one would.
    await context.route('**/livemig-sim-worker_loader.js', (route) =>
      route.fulfill({ status: 200, contentType: 'text/javascript', body: 'throw new Error("this worker cannot start");' }),
    );
    const page = await context.newPage();
    const errors = watchErrors(page);
    const names = ['precopy-xen', 'hybrid'];
    try {
      await gotoApp(page, server, `?v=1&preset=web-server&seed=5&view=compare&cmp=${names.join(',')}`, { waitFor: '[data-testid=compare-run]' });
      await page.getByTestId('compare-table').waitFor({ state: 'visible', timeout: 60_000 });
      assert.match(await page.locator('.compare-time').textContent(), /on the page's thread/);
      await checkRowsAgainstCli(page, names, 5);
      await page.getByTestId('tab-sweep').click();
      await page.getByTestId('sweep-run').click();
      await page.getByTestId('sweep-table').waitFor({ state: 'visible', timeout: 120_000 });
      assert.match(await page.getByTestId('sweep-time').locator('..').textContent(), /on the page's thread/);
      await assertNoErrors(page, errors);
    } finally {
      await context.close();
    }
  });
});
