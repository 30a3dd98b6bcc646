// Keyboard only: a lesson from its start to the feedback, reaching every control with Tab and
// pressing it with Space or Enter, as a student without a mouse would; and a race opened from a
// lesson, driven with the player's keys (step from moment to moment, back, play, pause), the
// scrubber and the speed from the keyboard, to the end, where every lane is marked finished.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertNoErrors, openApp, until, withServerAndBrowser } from '../lib/harness.mjs';

/** The race clock's time in seconds (`race-time`'s exact value). */
async function raceSeconds(page) {
  const value = Number(await page.getByTestId('race-time').getAttribute('data-value'));
  assert.ok(Number.isFinite(value), 'race-time has a value');
  return value;
}

/** Presses Tab until the element with `testid` has the focus (at most `max` presses); returns the presses. */
async function tabTo(page, testid, max = 250) {
  for (let i = 1; i <= max; i++) {
    await page.keyboard.press('Tab');
    const at = await page.evaluate(() => document.activeElement?.getAttribute('data-testid'));
    if (at === testid) return i;
  }
  throw new Error(`${testid} is not reachable with Tab in ${max} presses`);
}

describe('keyboard only', () => {
  let server, browser;
  withServerAndBrowser((s, b) => ([server, browser] = [s, b]));

  it('a lesson from its start to the feedback', async (t) => {
    const { page, context, errors } = await openApp(browser, server, '?v=1&view=lessons&lesson=precopy-convergence', {
      waitFor: '[data-testid=lesson]',
    });
    try {
      await page.evaluate(() => document.activeElement?.blur());
      const presses = [];
      presses.push(await tabTo(page, 'choice-0'));
      await page.keyboard.press('Space');
      assert.equal(await page.getByTestId('choice-0').isChecked(), true, 'Space picks the focused choice');
      presses.push(await tabTo(page, 'lock-prediction'));
      await page.keyboard.press('Enter');
      await page.getByTestId('prediction-locked').waitFor({ state: 'visible' });
      presses.push(await tabTo(page, 'lesson-run'));
      await page.keyboard.press('Enter');
      await page.getByTestId('lesson-reveal').waitFor({ state: 'visible', timeout: 60_000 });
      presses.push(await tabTo(page, 'lesson-reveal'));
      await page.keyboard.press('Enter');
      await page.getByTestId('lesson-feedback').waitFor({ state: 'visible', timeout: 60_000 });
      assert.match(await page.getByTestId('lesson-answer').textContent(), /\S/);
      t.diagnostic(`Tab presses to each control: ${presses.join(', ')}`);
      await assertNoErrors(page, errors);
    } finally {
      await context.close();
    }
  });

  it('a race from a lesson: step, back, play, pause, scrub, speed, to the end and back to the lesson', async (t) => {
    const lesson = 'race-tsmc-precopy';
    const racers = ['precopy-xen', 'tsmc'];
    const { page, context, errors } = await openApp(browser, server, `?v=1&view=lessons&lesson=${lesson}`, {
      waitFor: '[data-testid=lesson]',
    });
    try {
      await page.evaluate(() => document.activeElement?.blur());
      const presses = [];
      presses.push(await tabTo(page, 'lesson-race'));
      await page.keyboard.press('Enter');
      await page.locator('[data-testid=race] canvas.grid').first().waitFor({ state: 'visible', timeout: 120_000 });
      assert.match(page.url(), /view=race/);
      assert.match(await page.getByTestId('race-watch').textContent(), /pre-copy's dirty pages/);
      assert.deepEqual(await page.locator('.lane h2').evaluateAll((hs) => hs.map((h) => h.firstChild.textContent)), racers);
      assert.match(await page.getByTestId('race-keys').textContent(), /next\/previous moment of any racer/);

      // Step (→) from moment to moment: each step moves the clock forward and names what happened.
      await page.evaluate(() => document.activeElement?.blur());
      const seen = [];
      let last = await raceSeconds(page);
      for (let i = 0; i < 40 && !seen.some((m) => /tsmc: VM paused/.test(m)); i++) {
        await page.keyboard.press('ArrowRight');
        await until(async () => (await raceSeconds(page)) > last, { message: `step ${i + 1} to move the clock` });
        last = await raceSeconds(page);
        seen.push(await page.getByTestId('race-moment').textContent());
        assert.match(seen.at(-1), /^At .*: (precopy-xen|tsmc): (round \d+ starts|VM paused, downtime starts|VM resumed on the destination, downtime ends|migration finished)/);
      }
      assert.ok(seen.some((m) => /precopy-xen: round 2 starts/.test(m)), `a step stops at pre-copy's rounds: ${seen.join(' | ')}`);
      assert.ok(seen.some((m) => /tsmc: VM paused, downtime starts/.test(m)), `a step stops at TSMC's pause: ${seen.join(' | ')}`);
      // Back (←) to the moment before.
      await page.keyboard.press('ArrowLeft');
      await until(async () => (await raceSeconds(page)) < last, { message: 'ArrowLeft to step back' });
      assert.notEqual(await page.getByTestId('race-moment').textContent(), seen.at(-1));

      // Space plays and pauses (the clock moves while playing).
      const before = await raceSeconds(page);
      await page.keyboard.press(' ');
      await until(async () => /Pause/.test(await page.getByTestId('race-play').textContent()), { message: 'space to play' });
      await until(async () => (await raceSeconds(page)) > before, { message: 'the clock to run' });
      await page.keyboard.press(' ');
      await until(async () => /Play/.test(await page.getByTestId('race-play').textContent()), { message: 'space to pause' });

      // The scrubber and the speed, reached with Tab and moved with the arrow keys.
      presses.push(await tabTo(page, 'race-speed'));
      const speed = await page.getByTestId('race-speed').inputValue();
      await page.keyboard.press('ArrowDown');
      await until(async () => (await page.getByTestId('race-speed').inputValue()) !== speed, { message: 'ArrowDown to change the speed' });
      presses.push(await tabTo(page, 'race-scrubber'));
      await page.keyboard.press('Home');
      await until(async () => (await raceSeconds(page)) === 0, { message: 'Home on the scrubber to go to the start' });
      for (let i = 0; i < 5; i++) await page.keyboard.press('PageUp');
      await until(async () => (await raceSeconds(page)) > 0, { message: 'PageUp on the scrubber to move the clock' });
      assert.equal(await page.getByTestId('lane-finished').count(), 0);

      // To the end: the End button, from the keyboard; every lane is marked finished.
      presses.push(await tabTo(page, 'race-end'));
      await page.keyboard.press('Enter');
      await until(async () => (await page.getByTestId('lane-finished').count()) === racers.length, { message: 'every lane to finish' });
      assert.match(await page.getByTestId('race-moment').textContent(), /migration finished/);
      for (const label of await page.getByTestId('lane-timeline').evaluateAll((ts) => ts.map((s) => s.getAttribute('aria-label')))) {
        assert.match(label, /^downtime .+ to .+, finished at /, `the timeline marks the downtime and the finish: ${label}`);
      }
      const downtimes = Object.fromEntries(
        await Promise.all(racers.map(async (a) => [a, Number(await page.getByTestId(`lane-${a}`).getByTestId('lane-downtime').getAttribute('data-value'))])),
      );
      assert.ok(downtimes['precopy-xen'] > 10 * downtimes.tsmc, `the lesson's claim: ${JSON.stringify(downtimes)}`);
      // Home (on a focused button, not a field) restarts every lane.
      await page.keyboard.press('Home');
      await until(async () => (await page.getByTestId('lane-finished').count()) === 0, { message: 'Home to restart' });

      // And back to the lesson.
      presses.push(await tabTo(page, 'race-back-to-lesson', 400));
      await page.keyboard.press('Enter');
      await page.getByTestId('lesson').waitFor({ state: 'visible' });
      assert.equal(await page.getByTestId('lesson').getAttribute('data-lesson'), lesson);
      t.diagnostic(`Tab presses to each control: ${presses.join(', ')}; moments stepped through: ${seen.length}`);
      await assertNoErrors(page, errors);
    } finally {
      await context.close();
    }
  });
});
