// (d) A shared link reproduces the run: play to some point, read location.href (the app keeps it
// updated with `step=` while paused), open it in a new page: same metrics, same time and step.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertNoErrors, openApp, readMetrics, readPosition, until, withServerAndBrowser } from '../lib/harness.mjs';

/** Reads the link the page shows now, once it carries `step=`. */
async function sharedLink(page) {
  return until(
    async () => {
      const href = await page.evaluate(() => location.href);
      return /[?&]step=\d+/.test(href) ? href : null;
    },
    { message: 'the address bar to carry step=' },
  );
}

/** Opens `href` in a new page of its own context and returns what it shows. */
async function reopen(browser, href) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  try {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(href);
    await page.locator('[data-testid=grid-source] canvas').waitFor({ state: 'visible', timeout: 60_000 });
    // Wait until the step from the link has been applied (the run is simulated first).
    const step = new URL(href).searchParams.get('step');
    await until(async () => (await readPosition(page)).step?.startsWith(`step ${step} `), { message: `step ${step} to be shown` });
    await assertNoErrors(page, errors);
    return { metrics: await readMetrics(page), position: await readPosition(page), href: await page.evaluate(() => location.href) };
  } finally {
    await context.close();
  }
}

describe('a shared link reproduces the run', () => {
  let server, browser;
  withServerAndBrowser((s, b) => ([server, browser] = [s, b]));

  // Each way of getting somewhere in the run, then the link shared at that point.
  const WAYS = {
    'step and round buttons': async (page) => {
      await page.getByTestId('round').click();
      await page.getByTestId('round').click();
      for (let i = 0; i < 5; i++) await page.getByTestId('step').click();
    },
    'play then pause': async (page) => {
      await page.getByTestId('speed').selectOption('4');
      await page.getByTestId('play').click();
      await page.waitForTimeout(700);
      await page.getByTestId('play').click();
    },
    'the scrubber': async (page) => {
      const box = await page.getByTestId('scrubber').boundingBox();
      await page.mouse.click(box.x + box.width * 0.4, box.y + box.height / 2);
    },
  };

  for (const [way, go] of Object.entries(WAYS)) {
    it(`after ${way}`, async () => {
      const { page, context, errors } = await openApp(browser, server, '?v=1&preset=web-server&alg=precopy-xen&seed=5');
      try {
        await go(page);
        const href = await sharedLink(page);
        const here = { metrics: await readMetrics(page), position: await readPosition(page) };
        assert.notEqual(here.position.step, null);
        assert.doesNotMatch(here.position.step, /^step 0 /, 'the run has moved');
        await assertNoErrors(page, errors);
        const there = await reopen(browser, href);
        assert.deepEqual(there.position, here.position, `position after opening ${href}`);
        assert.deepEqual(there.metrics, here.metrics, `metrics after opening ${href}`);
        assert.equal(there.href, href, 'the reopened page keeps the same link');
      } finally {
        await context.close();
      }
    });
  }
});
