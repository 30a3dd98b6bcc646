// The other views: Compare (every algorithm, same scenario and seed: the table equals the CLI),
// Sweep (one parameter varied), a lesson's predict-then-run cycle, and replaying a trace file
// written by `livemig trace`.
//
// Set LIVEMIG_SHOTS=DIR to also save a screenshot of each view there (to look at, not compared).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CLI, assertNoErrors, cliReport, metricDifferences, openApp, readMetrics, until, withServerAndBrowser } from '../lib/harness.mjs';

const SHOTS = process.env.LIVEMIG_SHOTS;
async function shot(page, name) {
  if (SHOTS) await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Every registered algorithm's name, from `livemig algorithms --json`. */
function algorithmNames() {
  const r = spawnSync(CLI, ['algorithms', '--json'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout).map((a) => a.name);
}

describe('the other views', () => {
  let server, browser;
  withServerAndBrowser((s, b) => ([server, browser] = [s, b]));

  it('Compare runs every algorithm and its table equals `livemig simulate --json`', async () => {
    const { page, context, errors } = await openApp(browser, server, '?v=1&preset=web-server&seed=2&view=compare', {
      waitFor: '[data-testid=compare-run]',
    });
    try {
      await page.getByTestId('pick-all').click();
      const names = algorithmNames();
      assert.match(await page.getByTestId('compare-run').textContent(), new RegExp(`Compare ${names.length} algorithms`));
      await page.getByTestId('compare-run').click();
      await page.getByTestId('compare-table').waitFor({ state: 'visible', timeout: 120_000 });
      for (const name of names) {
        const row = page.getByTestId(`compare-row-${name}`);
        await row.waitFor({ state: 'attached' });
        const cells = await row.evaluate((tr) =>
          Object.fromEntries([...tr.querySelectorAll('td[data-col]')].map((td) => [td.dataset.col, td.dataset.value])),
        );
        assert.equal(cells.error, undefined, `${name} failed in the browser: ${await row.textContent()}`);
        const cli = cliReport('web-server', name, { seed: 2 });
        const diffs = metricDifferences(cells, cli);
        assert.deepEqual(diffs, [], `${name}: the browser's row differs from the CLI`);
        assert.equal(cells.verified, String(cli.verified), `${name}: verified`);
      }
      // Four bar charts drawn (a canvas with non-background pixels each).
      for (const metric of ['total-time', 'downtime', 'data-sent', 'faults']) {
        const canvas = page.getByTestId(`compare-chart-${metric}`);
        await canvas.waitFor({ state: 'visible' });
        const inked = await canvas.evaluate((c) => {
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let n = 0;
          for (let i = 0; i < d.length; i += 4) if (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200) n++;
          return n;
        });
        assert.ok(inked > 500, `chart ${metric} has ink (${inked} dark pixels)`);
      }
      await shot(page, 'compare');
      await assertNoErrors(page, errors);
    } finally {
      await context.close();
    }
  });

  it('Sweep varies a parameter and tabulates and plots each algorithm', async () => {
    const { page, context, errors } = await openApp(browser, server, '?v=1&preset=memtester&view=sweep', { waitFor: '[data-testid=sweep-run]' });
    try {
      await page.getByTestId('sweep-run').click();
      const table = page.getByTestId('sweep-table');
      await table.waitFor({ state: 'visible', timeout: 120_000 });
      const rows = await table.locator('tbody tr').count();
      assert.ok(rows >= 2, `the sweep has at least two values (${rows} rows)`);
      await page.getByTestId('sweep-chart').waitFor({ state: 'visible' });
      // The spec is shareable: it is in the link.
      await until(async () => new URL(page.url()).searchParams.get('sweep'), { message: 'sweep= in the link' });
      await shot(page, 'sweep');
      await assertNoErrors(page, errors);
    } finally {
      await context.close();
    }
  });

  it('a lesson locks the prediction before the run, then gives feedback', async () => {
    const { page, context, errors } = await openApp(browser, server, '?v=1&view=lessons&lesson=precopy-convergence', {
      waitFor: '[data-testid=lesson]',
    });
    try {
      assert.equal(await page.getByTestId('lesson').getAttribute('data-lesson'), 'precopy-convergence');
      // The run cannot start before a prediction is locked in.
      const run = page.getByTestId('lesson-run');
      if (await run.count()) assert.equal(await run.isDisabled(), true, 'Run it is disabled before a prediction');
      await page.getByTestId('choice-0').click();
      await page.getByTestId('lock-prediction').click();
      await page.getByTestId('prediction-locked').waitFor({ state: 'visible' });
      // A locked prediction can no longer change.
      const radios = page.locator('input[data-testid^=choice-]');
      if (await radios.count()) assert.equal(await radios.first().isDisabled(), true, 'choices are locked');
      await page.getByTestId('lesson-run').click();
      const reveal = page.getByTestId('lesson-reveal');
      await reveal.waitFor({ state: 'visible', timeout: 60_000 });
      await reveal.click();
      const feedback = page.getByTestId('lesson-feedback');
      await feedback.waitFor({ state: 'visible', timeout: 60_000 });
      assert.match(await page.getByTestId('lesson-answer').textContent(), /\S/);
      await shot(page, 'lesson');
      await assertNoErrors(page, errors);
    } finally {
      await context.close();
    }
  });

  it('a trace file written by `livemig trace` replays with the CLI\'s numbers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'livemig-trace-'));
    const file = join(dir, 'idle-postcopy.json');
    try {
      const r = spawnSync(CLI, ['trace', 'web-server', '--algorithm', 'postcopy-bubbling', '-o', file], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 0, r.stderr);
      const { page, context, errors } = await openApp(browser, server, '?v=1&preset=idle-vm&alg=precopy-xen');
      try {
        await page.getByTestId('open-trace').setInputFiles(file);
        await until(async () => /postcopy-bubbling/.test((await page.getByTestId('export-status').textContent().catch(() => '')) ?? ''), {
          timeout: 60_000,
          message: 'the trace to open',
        });
        await page.getByTestId('end').click();
        await page.getByTestId('outcome').waitFor({ state: 'visible', timeout: 60_000 });
        const diffs = metricDifferences(await readMetrics(page), cliReport('web-server', 'postcopy-bubbling'));
        assert.deepEqual(diffs, [], 'the replayed trace shows the CLI report');
        await shot(page, 'trace-replay');
        await assertNoErrors(page, errors);
      } finally {
        await context.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
