// (e) A bad link parameter shows a message naming the parameter; the page still works (the
// default scenario plays to the end) and the panic panel stays hidden.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertNoErrors, openApp, runToEnd, withServerAndBrowser } from '../lib/harness.mjs';

describe('a bad link parameter', () => {
  let server, browser;
  withServerAndBrowser((s, b) => ([server, browser] = [s, b]));

  // (query, the parameter the message must name, something of what is accepted)
  const CASES = [
    ['?v=1&preset=nope', 'preset', /web-server/],
    ['?alg=quantum', 'alg', /precopy-xen/],
    ['?seed=-1', 'seed', /whole number/],
    ['?v=2', 'v', /v=1/],
    ['?v=1&preset=idle-vm&set=vm.memory%3D-5GiB', 'set', /vm\.memory/],
  ];
  for (const [query, key, accepted] of CASES) {
    it(`${query} names \`${key}\``, async () => {
      const { page, context, errors } = await openApp(browser, server, query);
      try {
        const banner = page.getByTestId('link-error');
        await banner.waitFor({ state: 'visible' });
        const text = await banner.textContent();
        assert.ok(text.includes(`\`${key}\``), `the message names \`${key}\`: ${text}`);
        assert.match(text, accepted);
        assert.equal(await page.locator('#panic-panel').isVisible(), false, 'panic panel hidden');
        // The page still works: the default scenario is shown and plays to the end.
        assert.ok(await page.getByTestId('grid-destination').isVisible());
        await runToEnd(page);
        assert.equal(await page.locator('#panic-panel').isVisible(), false, 'panic panel hidden after playing');
        await assertNoErrors(page, errors);
      } finally {
        await context.close();
      }
    });
  }
});
