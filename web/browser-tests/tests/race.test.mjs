// The race view: algorithms side by side on one clock. In presentation mode at 1024x768,
// 1366x768 and 1920x1080 every lane's two grids are on screen, the lanes side by side, with no
// scroll bar (screenshots in target/screenshots/); the keyboard drives every lane; at the end each
// lane's downtime equals `livemig simulate --json`; a link naming too many algorithms names `cmp`
// and races the first four.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT, assertNoErrors, cliReport, openApp, until, withServerAndBrowser } from '../lib/harness.mjs';

const SHOTS = join(ROOT, 'target', 'screenshots');
const PAIR = ['precopy-xen', 'postcopy-bubbling'];
const QUERY = `?v=1&preset=web-server&view=race&cmp=${PAIR.join(',')}`;

const box = (page, sel) =>
  page.evaluate((sel) => [...document.querySelectorAll(sel)].map((el) => el.getBoundingClientRect().toJSON()), sel);

describe('the race view', () => {
  let server, browser;
  withServerAndBrowser((s, b) => ([server, browser] = [s, b]));

  for (const [width, height] of [
    [1024, 768],
    [1366, 768],
    [1920, 1080],
  ]) {
    it(`presented at ${width}x${height}: every lane's grids on screen, side by side, no scroll bar`, async () => {
      const { page, context, errors } = await openApp(browser, server, `${QUERY}&present=1`, {
        viewport: { width, height },
        waitFor: '[data-testid=race] [data-testid=grid-source] canvas',
      });
      try {
        await page.getByTestId('race-scrubber').evaluate((el) => {
          el.value = '300';
          el.dispatchEvent(new Event('input', { bubbles: true }));
        });
        await page.waitForTimeout(300);
        mkdirSync(SHOTS, { recursive: true });
        await page.screenshot({ path: join(SHOTS, `race-${width}x${height}.png`) });
        const vp = { width, height };
        const inside = (b) => b.left >= 0 && b.top >= 0 && b.right <= vp.width + 0.5 && b.bottom <= vp.height + 0.5;
        const scroll = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]);
        assert.ok(scroll[0] <= width && scroll[1] <= height, `no scroll bar: ${scroll}`);
        const lanes = await box(page, '.lane');
        assert.equal(lanes.length, 2);
        assert.ok(lanes[0].right <= lanes[1].left, 'lanes side by side');
        const grids = await box(page, '.lane canvas.grid');
        assert.equal(grids.length, 4);
        for (const g of grids) assert.ok(inside(g) && g.width > 50 && g.height > 50, `grid on screen: ${JSON.stringify(g)}`);
        for (const sel of ['.lane .timeline', '.lane-metrics', '[data-testid=race-play]']) {
          for (const b of await box(page, sel)) assert.ok(inside(b), `${sel} on screen: ${JSON.stringify(b)}`);
        }
        await assertNoErrors(page, errors);
      } finally {
        await context.close();
      }
    });
  }

  for (const [width, height] of [
    [1024, 768],
    [1920, 1080],
  ]) {
    it(`a race lesson presented at ${width}x${height}: what to watch for, every lane's grids on screen, no scroll bar`, async () => {
      const lesson = '?v=1&view=lessons&lesson=race-precopy-postcopy';
      const { page, context, errors } = await openApp(browser, server, lesson, { viewport: { width, height }, waitFor: '[data-testid=lesson-race-present]' });
      try {
        await page.getByTestId('lesson-race-present').click();
        await page.locator('[data-testid=race] canvas.grid').first().waitFor({ state: 'visible', timeout: 60_000 });
        assert.match(page.url(), /view=race/);
        assert.match(page.url(), /present=1/);
        assert.match(page.url(), /lesson=race-precopy-postcopy/);
        // Step to post-copy's switch-over and on to pre-copy's pause, as a lecturer would.
        await page.locator('h1').click();
        // The lesson's point: post-copy's VM resumes on the destination before anything else happens
        // to pre-copy after its first round starts (within a step or two of the start).
        const resumed = /postcopy-bubbling: VM resumed on the destination/;
        for (let i = 0; i < 3 && !resumed.test(await page.getByTestId('race-moment').textContent()); i++) {
          const before = await page.getByTestId('race-moment').textContent();
          await page.keyboard.press('ArrowRight');
          await until(async () => (await page.getByTestId('race-moment').textContent()) !== before, { message: 'a step' });
          assert.doesNotMatch(await page.getByTestId('race-moment').textContent(), /precopy-xen/, 'nothing of pre-copy before the switch-over');
        }
        assert.match(await page.getByTestId('race-moment').textContent(), resumed);
        await page.getByTestId('race-scrubber').evaluate((el) => {
          el.value = '600';
          el.dispatchEvent(new Event('input', { bubbles: true }));
        });
        await page.waitForTimeout(300);
        mkdirSync(SHOTS, { recursive: true });
        await page.screenshot({ path: join(SHOTS, `race-lesson-present-${width}x${height}.png`) });
        const scroll = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]);
        assert.ok(scroll[0] <= width && scroll[1] <= height, `no scroll bar: ${scroll}`);
        const inside = (b) => b.left >= 0 && b.top >= 0 && b.right <= width + 0.5 && b.bottom <= height + 0.5;
        for (const sel of ['[data-testid=race-watch]', '[data-testid=race-moment]', '.lane canvas.grid', '.lane .timeline', '.lane-metrics', '[data-testid=race-play]']) {
          const boxes = await box(page, sel);
          assert.ok(boxes.length > 0, `${sel} shown`);
          for (const b of boxes) assert.ok(inside(b), `${sel} on screen: ${JSON.stringify(b)}`);
        }
        const grids = await box(page, '.lane canvas.grid');
        assert.equal(grids.length, 4);
        for (const g of grids) assert.ok(g.width > 50 && g.height > 50, `grid big enough: ${JSON.stringify(g)}`);
        assert.match(await page.getByTestId('present-keys').textContent(), /next moment of any racer/);
        await assertNoErrors(page, errors);
      } finally {
        await context.close();
      }
    });
  }

  it('four lanes presented at 1024x768: every grid on screen, no scroll bar', async () => {
    const cmp = 'precopy-xen,precopy-qemu,postcopy-bubbling,tsmc';
    const { page, context, errors } = await openApp(browser, server, `?v=1&preset=web-server&view=race&cmp=${cmp}&present=1`, {
      viewport: { width: 1024, height: 768 },
      waitFor: '[data-testid=race] [data-testid=grid-source] canvas',
    });
    try {
      await page.getByTestId('race-scrubber').evaluate((el) => {
        el.value = '500';
        el.dispatchEvent(new Event('input', { bubbles: true }));
      });
      await page.waitForTimeout(300);
      await page.screenshot({ path: join(SHOTS, 'race4-1024x768.png') });
      const scroll = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]);
      assert.ok(scroll[0] <= 1024 && scroll[1] <= 768, `no scroll bar: ${scroll}`);
      const grids = await box(page, '.lane canvas.grid');
      assert.equal(grids.length, 8);
      for (const g of grids) assert.ok(g.left >= 0 && g.top >= 0 && g.right <= 1024 && g.bottom <= 768 && g.width > 50 && g.height > 30, `grid on screen: ${JSON.stringify(g)}`);
      await assertNoErrors(page, errors);
    } finally {
      await context.close();
    }
  });

  it('one clock: the keyboard drives every lane, and at the end the downtimes are the CLI\'s', async () => {
    const { page, context, errors } = await openApp(browser, server, QUERY, { waitFor: '[data-testid=race] [data-testid=grid-source] canvas' });
    try {
      await page.locator('h1').click();
      const t0 = await page.getByTestId('race-time').textContent();
      await page.keyboard.press('ArrowRight');
      await until(async () => (await page.getByTestId('race-time').textContent()) !== t0, { message: 'ArrowRight to move the clock' });
      await page.keyboard.press(' ');
      await until(async () => /Pause/.test(await page.getByTestId('race-play').textContent()), { message: 'space to play' });
      await page.keyboard.press(' ');
      await until(async () => /Play/.test(await page.getByTestId('race-play').textContent()), { message: 'space to pause' });
      await page.keyboard.press('End');
      await until(async () => (await page.getByTestId('lane-finished').count()) === 2, { message: 'both lanes to finish' });
      for (const alg of PAIR) {
        const shown = Number(await page.getByTestId(`lane-${alg}`).getByTestId('lane-downtime').getAttribute('data-value'));
        const want = cliReport('web-server', alg).downtime_s;
        assert.ok(Math.abs(shown - want) <= 1e-9 * Math.max(want, 1e-300), `${alg}: downtime ${shown}, CLI ${want}`);
      }
      await page.keyboard.press('Home');
      await until(async () => (await page.getByTestId('lane-finished').count()) === 0, { message: 'Home to restart' });
      await assertNoErrors(page, errors);
    } finally {
      await context.close();
    }
  });

  it('opens from the Compare view with the algorithms picked there', async () => {
    const { page, context, errors } = await openApp(browser, server, '?v=1&preset=idle-vm&view=compare&cmp=precopy-xen,tsmc', {
      waitFor: '[data-testid=compare-race]',
    });
    try {
      await page.getByTestId('compare-race').click();
      await page.locator('[data-testid=race] canvas.grid').first().waitFor({ state: 'visible', timeout: 60_000 });
      assert.deepEqual(await page.locator('.lane h2').evaluateAll((hs) => hs.map((h) => h.firstChild.textContent)), ['precopy-xen', 'tsmc']);
      assert.match(page.url(), /view=race/);
      await assertNoErrors(page, errors);
    } finally {
      await context.close();
    }
  });

  it('a link with five algorithms names `cmp` and races the first four', async () => {
    const cmp = 'precopy-xen,postcopy-bubbling,tsmc,hybrid,mecom';
    const { page, context, errors } = await openApp(browser, server, `?v=1&preset=idle-vm&view=race&cmp=${cmp}`, {
      waitFor: '[data-testid=race] [data-testid=grid-source] canvas',
    });
    try {
      const text = await page.getByTestId('link-error').textContent();
      assert.match(text, /`cmp`/);
      assert.match(text, /2 to 4/);
      assert.equal(await page.locator('.lane').count(), 4);
      await assertNoErrors(page, errors);
    } finally {
      await context.close();
    }
  });
});
