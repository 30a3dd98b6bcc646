// The Assignments view: a student answers a bundled assignment in the page (a prediction locks
// before its run unlocks), checks it, and downloads the answers file; `livemig assignment check
// --json` grades that file with exactly the page's verdicts and feedback, and the file reopens in
// the page. An assignment opens from a URL; a malformed assignment file shows a message naming
// the task and field, and no panic.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, assertNoErrors, openApp, withServerAndBrowser } from '../lib/harness.mjs';

/** `livemig assignment check NAME FILE --json`: the grade of the one answers file. */
function cliGrade(assignment, file) {
  const r = spawnSync(CLI, ['assignment', 'check', assignment, file, '--json'], { encoding: 'utf8', timeout: 120_000 });
  assert.ok(r.status === 0 || r.status === 1, `livemig assignment check exited ${r.status}: ${r.stderr}`);
  const list = JSON.parse(r.stdout);
  assert.equal(list.length, 1);
  return { grade: list[0], status: r.status };
}

describe('assignments', () => {
  let server, browser;
  withServerAndBrowser((s, b) => {
    server = s;
    browser = b;
  });

  it('the page and `livemig assignment check` grade the same answers identically', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'livemig-assignment-'));
    const { page, context, errors } = await openApp(browser, server, '?v=1&view=assignments&assignment=precopy-convergence', {
      waitFor: '[data-testid=assignment-title]',
    });
    try {
      assert.match(await page.getByTestId('assignment-title').textContent(), /Pre-copy convergence/);
      // The Markdown intro is rendered: emphasis and a code block, as elements.
      assert.ok((await page.locator('[data-testid=assignment-intro] strong').count()) > 0);
      assert.match(await page.locator('[data-testid=assignment-intro] pre').first().textContent(), /dirty rate/);

      await page.getByTestId('student-name').fill('Ada');
      await page.getByTestId('answer-downtime-1g').fill('31.5'); // 3x too high
      await page.getByTestId('answer-rounds-1g').fill('11');
      await page.getByTestId('answer-least-data-precopy-qemu').check();
      await page.getByTestId('answer-lowest-bandwidth').fill('365 Mbit/s');
      // lowest-converging stays unanswered.

      // The prediction's run is locked until the prediction is.
      const predictionRun = page.getByTestId('run-converges-100m-precopy-xen-db-slow');
      assert.equal(await predictionRun.isDisabled(), true, 'the run of a prediction waits for the prediction');
      await page.getByTestId('answer-converges-100m-yes').check();
      await page.getByTestId('lock-converges-100m').click();
      await page.getByTestId('locked-converges-100m').waitFor({ state: 'visible' });
      assert.equal(await page.getByTestId('answer-converges-100m-no').isDisabled(), true, 'a locked prediction cannot change');
      assert.equal(await predictionRun.isDisabled(), false);

      // A task's run plays in the view.
      await page.getByTestId('run-rounds-1g-precopy-xen-db').click();
      await page.getByTestId('assignment-player').waitFor({ state: 'visible', timeout: 60_000 });
      await page.locator('[data-testid=assignment-player] [data-testid=grid-source] canvas').waitFor({ state: 'visible', timeout: 60_000 });

      await page.getByTestId('check-answers').click();
      await page.getByTestId('grade-total').waitFor({ state: 'visible', timeout: 120_000 });
      const shown = await page.evaluate(() =>
        [...document.querySelectorAll('[data-testid^="grade-"][data-passed]')]
          .filter((el) => el.dataset.testid !== 'grade-total')
          .map((el) => {
            const id = el.dataset.testid.slice('grade-'.length);
            return { id, passed: el.dataset.passed === 'true', feedback: el.querySelector(`[data-testid="feedback-${id}"]`).textContent };
          }),
      );

      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-answers').click()]);
      const file = join(dir, 'answers.toml');
      await download.saveAs(file);
      const text = readFileSync(file, 'utf8');
      assert.match(text, /student = "Ada"/);
      assert.match(text, /assignment = "precopy-convergence"/);

      const { grade, status } = cliGrade('precopy-convergence', file);
      assert.equal(status, 1, 'not every task passes');
      assert.equal(shown.length, grade.tasks.length, 'the page grades every task');
      for (const t of grade.tasks) {
        const s = shown.find((x) => x.id === t.id);
        assert.ok(s, `the page shows no grade for ${t.id}`);
        assert.equal(s.passed, t.passed, `${t.id}: page ${s.passed}, CLI ${t.passed}`);
        assert.equal(s.feedback, t.feedback, `${t.id}: the page's feedback differs from the CLI's`);
      }
      // The answers were graded as intended: right, wrong and unanswered.
      const verdict = Object.fromEntries(grade.tasks.map((t) => [t.id, t.passed]));
      assert.deepEqual(verdict, {
        'downtime-1g': false,
        'rounds-1g': true,
        'converges-100m': false,
        'least-data': true,
        'lowest-bandwidth': true,
        'lowest-converging': false,
      });
      assert.match(grade.tasks[0].feedback, /3\.0x too high/);
      assert.match(await page.getByTestId('grade-total').textContent(), new RegExp(`^${grade.points} of ${grade.max_points} points`));

      // The saved file reopens in a fresh page: predictions stay locked, and the grade is the same.
      await page.goto(`${server.url}?v=1&view=assignments&assignment=precopy-convergence`, { waitUntil: 'load' });
      await page.getByTestId('open-answers').setInputFiles(file);
      await page.getByTestId('locked-converges-100m').waitFor({ state: 'visible', timeout: 30_000 });
      assert.equal(await page.getByTestId('answer-downtime-1g').inputValue(), '31.5');
      await page.getByTestId('check-answers').click();
      await page.getByTestId('grade-total').waitFor({ state: 'visible', timeout: 120_000 });
      for (const t of grade.tasks) {
        assert.equal(await page.getByTestId(`grade-${t.id}`).getAttribute('data-passed'), String(t.passed), t.id);
      }
      await assertNoErrors(page, errors);
    } finally {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an assignment opens from a URL in the link', async () => {
    const toml = 'title = "From a URL"\nintro = "Fetched *by* the page."\n[scenarios.s]\npreset = "idle-vm"\nset = ["vm.memory=64MiB"]\n[[task]]\nid = "t"\nkind = "numeric"\nquestion = "Downtime?"\nscenario = "s"\nalgorithm = "precopy-xen"\nmetric = "downtime_s"\nunit = "ms"\n';
    const url = `data:text/plain,${encodeURIComponent(toml)}`;
    const { page, context, errors } = await openApp(browser, server, `?v=1&view=assignments&assignment=${encodeURIComponent(url)}`, {
      waitFor: '[data-testid=assignment-title]',
    });
    try {
      assert.equal(await page.getByTestId('assignment-title').textContent(), 'From a URL');
      assert.equal(await page.locator('[data-testid=assignment-intro] em').textContent(), 'by');
      await page.getByTestId('answer-t').fill('10');
      await page.getByTestId('check-answers').click();
      await page.getByTestId('grade-t').waitFor({ state: 'visible', timeout: 60_000 });
      assert.match(await page.getByTestId('feedback-t').textContent(), /downtime_s of precopy-xen on s/);
      await assertNoErrors(page, errors);
    } finally {
      await context.close();
    }
  });

  it('a malformed assignment file shows a message naming the task and field, not a panic', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'livemig-assignment-'));
    const file = join(dir, 'mine.toml');
    writeFileSync(
      file,
      'title = "Mine"\nintro = "x"\n[scenarios.s]\npreset = "idle-vm"\n[[task]]\nid = "t"\nkind = "numeric"\nquestion = "?"\nscenario = "s"\nalgorithm = "quantum"\nmetric = "downtime_s"\n',
    );
    const { page, context, errors } = await openApp(browser, server, '?v=1&view=assignments', { waitFor: '[data-testid=open-assignment]' });
    try {
      await page.getByTestId('open-assignment').setInputFiles(file);
      const message = page.getByTestId('assignment-error');
      await message.waitFor({ state: 'visible', timeout: 30_000 });
      const text = await message.textContent();
      assert.match(text, /mine\.toml/);
      assert.match(text, /task 't' \(task\[0\]\)\.algorithm: unknown algorithm 'quantum'/);
      await assertNoErrors(page, errors);
    } finally {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
