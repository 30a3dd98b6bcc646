// Keyboard only: a lesson from its start to the feedback, reaching every control with Tab and
// pressing it with Space or Enter, as a student without a mouse would.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertNoErrors, openApp, withServerAndBrowser } from '../lib/harness.mjs';

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
});
