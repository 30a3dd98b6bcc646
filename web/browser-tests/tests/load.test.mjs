// (a) The app loads: header, both host grids, no page error, console error or panic.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertNoErrors, openApp, withServerAndBrowser } from '../lib/harness.mjs';

describe('the playground loads', () => {
  let server, browser;
  withServerAndBrowser((s, b) => ([server, browser] = [s, b]));

  for (const query of ['', '?v=1&preset=idle-vm&alg=precopy-xen']) {
    it(`shows the header and both host grids without errors (${query || 'no query'})`, async () => {
      const { page, context, errors } = await openApp(browser, server, query);
      try {
        assert.ok(await page.locator('h1', { hasText: 'LiveMig Lab' }).isVisible(), 'header "LiveMig Lab" visible');
        for (const grid of ['grid-source', 'grid-destination']) {
          assert.ok(await page.getByTestId(grid).isVisible(), `[data-testid=${grid}] visible`);
          const box = await page.locator(`[data-testid=${grid}] canvas`).boundingBox();
          assert.ok(box && box.width > 10 && box.height > 10, `${grid} canvas has a size: ${JSON.stringify(box)}`);
        }
        assert.equal(await page.locator('#panic-panel').isVisible(), false, 'panic panel hidden');
        assert.equal(await page.getByTestId('link-error').count(), 0, 'no link error');
        // Let a few frames pass so that late errors (effects, first draw) are caught too.
        await page.waitForTimeout(300);
        await assertNoErrors(page, errors);
      } finally {
        await context.close();
      }
    });
  }
});
