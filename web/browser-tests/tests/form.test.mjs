// (g) The scenario form: an invalid value shows an inline message and nothing can run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertNoErrors, openApp, withServerAndBrowser } from '../lib/harness.mjs';

describe('the scenario form', () => {
  let server, browser;
  withServerAndBrowser((s, b) => ([server, browser] = [s, b]));

  it('an invalid VM memory shows an inline error and disables Run', async () => {
    const { page, context, errors } = await openApp(browser, server, '?v=1&preset=idle-vm&alg=precopy-xen');
    try {
      const field = page.getByTestId('f-vm-memory');
      // The field sits in a collapsed <details> group: open it as a person would.
      if (!(await field.isVisible())) {
        await page.locator('details.group > summary', { hasText: /^VM$/ }).click();
      }
      await field.fill('-5 GiB');
      const message = page.getByTestId('field-error');
      await message.waitFor({ state: 'visible' });
      assert.match(await message.textContent(), /memory/i, 'the message is about the memory');
      assert.equal(await page.getByTestId('run').isDisabled(), true, 'Run is disabled');
      assert.equal(await field.getAttribute('aria-invalid'), 'true');
      // A valid value clears the message and enables Run.
      await field.fill('2 GiB');
      await message.waitFor({ state: 'detached' });
      assert.equal(await page.getByTestId('run').isDisabled(), false, 'Run is enabled again');
      assert.equal(await page.locator('#panic-panel').isVisible(), false);
      await assertNoErrors(page, errors);
    } finally {
      await context.close();
    }
  });
});
