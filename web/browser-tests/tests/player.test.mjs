// (f) Step, play/pause, the scrubber and the keyboard change what is shown.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertNoErrors, openApp, readMetrics, readPosition, until, withServerAndBrowser } from '../lib/harness.mjs';

const QUERY = '?v=1&preset=web-server&alg=precopy-xen';
const stepNumber = (pos) => Number(pos.step.match(/^step (\d+) of/)[1]);
const timeText = (page) => page.getByTestId('time').textContent();
/** Seconds shown before the '/' of the time text ("33.6 ms / 8.78 s" -> 0.0336). */
const shownSeconds = (text) => {
  const m = text.match(/^([\d.]+) (µs|ms|s) \//);
  assert.ok(m, `time text "${text}"`);
  return Number(m[1]) * { µs: 1e-6, ms: 1e-3, s: 1 }[m[2]];
};

describe('the player controls', () => {
  let server, browser;
  withServerAndBrowser((s, b) => ([server, browser] = [s, b]));

  /** Opens the app, runs `body(page)`, checks no error happened, closes the context. */
  const withApp = (body) => async () => {
    const { page, context, errors } = await openApp(browser, server, QUERY);
    try {
      await body(page);
      await assertNoErrors(page, errors);
    } finally {
      await context.close();
    }
  };

  it(
    'the step button moves forward (and back), and the time moves on',
    withApp(async (page) => {
      const start = await readPosition(page);
      assert.equal(stepNumber(start), 0);
      // A step plays the next event (every effect at that instant, so the step number may jump by
      // more than one); the first events may all happen at t = 0, so the time must move within a
      // few steps.
      let pos = start;
      for (let i = 1; i <= 20 && pos.time === start.time; i++) {
        const was = stepNumber(pos);
        await page.getByTestId('step').click();
        pos = await until(async () => {
          const p = await readPosition(page);
          return stepNumber(p) > was ? p : null;
        }, { message: `step button press ${i} to move past step ${was}` });
      }
      assert.notEqual(pos.time, start.time, `time text after stepping (${pos.step})`);
      await page.getByTestId('step-back').click();
      await until(async () => stepNumber(await readPosition(page)) < stepNumber(pos), { message: 'the step-back button to go back' });
    }),
  );

  it(
    'play then pause moves the time, and pause holds it',
    withApp(async (page) => {
      const before = await timeText(page);
      await page.getByTestId('play').click();
      await until(async () => /Pause/.test(await page.getByTestId('play').textContent()), { message: 'the button to say Pause' });
      // Play well past the first events (which may all be at t = 0) before pausing.
      await until(async () => shownSeconds(await timeText(page)) > 0.5, { message: 'time to pass 0.5 s while playing' });
      await page.getByTestId('play').click();
      await until(async () => /Play/.test(await page.getByTestId('play').textContent()), { message: 'the button to say Play' });
      const paused = await timeText(page);
      assert.notEqual(paused, before);
      assert.ok(shownSeconds(paused) > 0, `paused at ${paused}`);
      await page.waitForTimeout(400);
      assert.equal(await timeText(page), paused, 'time holds while paused');
    }),
  );

  it(
    'the scrubber changes the metrics',
    withApp(async (page) => {
      const scrubber = page.getByTestId('scrubber');
      assert.equal(await scrubber.getAttribute('type'), 'range');
      assert.equal(await scrubber.getAttribute('max'), '1000');
      const start = await readMetrics(page);
      const box = await scrubber.boundingBox();
      const at = async (frac) => {
        await page.mouse.click(box.x + box.width * frac, box.y + box.height / 2);
        await until(async () => Number(await scrubber.inputValue()) > 0, { message: 'the scrubber to move' });
        return readMetrics(page);
      };
      const quarter = await at(0.25);
      assert.notDeepEqual(quarter, start, 'metrics at 25% differ from the start');
      const late = await at(0.75);
      assert.notDeepEqual(late, quarter, 'metrics at 75% differ from 25%');
      assert.ok(Number(late['total-time']) > Number(quarter['total-time']), 'elapsed time grows with the scrubber');
      assert.ok(Number(late['pages-sent']) >= Number(quarter['pages-sent']), 'pages sent never decrease');
      // Driving the input directly, as assistive technology would.
      await scrubber.evaluate((el) => {
        el.value = '500';
        el.dispatchEvent(new Event('input', { bubbles: true }));
      });
      await until(async () => (await readMetrics(page))['total-time'] !== late['total-time'], { message: 'metrics at 50%' });
    }),
  );

  it(
    'the keyboard: ArrowRight steps, space plays and pauses, End and Home jump',
    withApp(async (page) => {
      // Keys go to the page, not to a focused control.
      await page.locator('h1').click();
      const start = await readPosition(page);
      await page.keyboard.press('ArrowRight');
      const one = await until(async () => {
        const p = await readPosition(page);
        return stepNumber(p) > 0 ? p : null;
      }, { message: 'ArrowRight to step' });
      await page.keyboard.press('Shift+ArrowRight');
      await until(async () => stepNumber(await readPosition(page)) > stepNumber(one), { message: 'Shift+ArrowRight to step a round' });
      await page.keyboard.press('ArrowLeft');
      const beforePlay = await timeText(page);
      await page.keyboard.press(' ');
      await until(async () => /Pause/.test(await page.getByTestId('play').textContent()), { message: 'space to play' });
      await until(async () => (await timeText(page)) !== beforePlay, { message: 'time to move while playing' });
      await page.keyboard.press(' ');
      await until(async () => /Play/.test(await page.getByTestId('play').textContent()), { message: 'space to pause' });
      await page.keyboard.press('End');
      await page.getByTestId('outcome').waitFor({ state: 'visible' });
      await page.keyboard.press('Home');
      await until(async () => (await readPosition(page)).time === start.time, { message: 'Home to go back to the start' });
      // Keys must not scroll the page (the app calls preventDefault).
      assert.equal(await page.evaluate(() => window.scrollY), 0, 'the page did not scroll');
    }),
  );
});
