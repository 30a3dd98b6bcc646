// Presentation mode: at 1024x768, 1366x768 and 1920x1080 the two host grids and the link sit
// side by side, wholly on screen, with no scroll bar, the phase caption in large type and the
// form and export panel hidden; a screenshot of each is saved in target/screenshots/ (to look
// at, not compared). The keyboard and a presenter remote's keys drive it; Esc leaves; `present`
// in the link enters it, and a bad `present` or `view` names the parameter and falls back on
// that parameter alone.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT, assertNoErrors, openApp, readPosition, until, withServerAndBrowser } from '../lib/harness.mjs';

/** Where the screenshots go. */
export const SHOTS = join(ROOT, 'target', 'screenshots');
const SIZES = [
  [1024, 768],
  [1366, 768],
  [1920, 1080],
];
const RACE_QUERY = '?v=1&preset=web-server&alg=postcopy-bubbling';
const stepNumber = (pos) => Number(pos.step.match(/^step (\d+) of/)[1]);

/** Bounding boxes (viewport pixels) of what presentation mode must show, and the page's scroll sizes. */
function layout(page) {
  return page.evaluate(() => {
    const box = (sel) => {
      const el = document.querySelector(sel);
      if (!el) return null;
      const r = el.getBoundingClientRect();
      return { left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height };
    };
    const de = document.documentElement;
    return {
      viewport: { width: de.clientWidth, height: de.clientHeight },
      scroll: { width: de.scrollWidth, height: de.scrollHeight, bodyWidth: document.body.scrollWidth, bodyHeight: document.body.scrollHeight },
      source: box('[data-testid=grid-source] canvas'),
      sourceFigure: box('[data-testid=grid-source]'),
      link: box('[data-testid=link] canvas'),
      destination: box('[data-testid=grid-destination] canvas'),
      destinationFigure: box('[data-testid=grid-destination]'),
      caption: box('[data-testid=phase-caption]'),
      controls: box('.controls'),
      metrics: box('.metrics'),
      titleFont: parseFloat(getComputedStyle(document.querySelector('[data-testid=phase-title]')).fontSize),
      captionFont: parseFloat(getComputedStyle(document.querySelector('[data-testid=phase-caption]')).fontSize),
      cellPx: Number(document.querySelector('[data-testid=grid-source] canvas').dataset.cellPx),
      cells: document.querySelector('[data-testid=grid-source-cells]').textContent,
      form: document.querySelectorAll('form.scenario').length,
      exportPanel: document.querySelectorAll('[data-testid=open-trace]').length,
    };
  });
}

const inside = (b, vp) => b && b.left >= 0 && b.top >= 0 && b.right <= vp.width + 0.5 && b.bottom <= vp.height + 0.5;

describe('presentation mode', () => {
  let server, browser;
  withServerAndBrowser((s, b) => ([server, browser] = [s, b]));

  for (const [width, height] of SIZES) {
    it(`at ${width}x${height}: both grids and the link side by side, on screen, no scroll bar`, async (t) => {
      const { page, context, errors } = await openApp(browser, server, `${RACE_QUERY}&present=1`, { viewport: { width, height } });
      try {
        await page.getByTestId('presentation').waitFor({ state: 'visible' });
        // Into the run (40%, pushing after the switch-over) so the grids show several states.
        await page.getByTestId('scrubber').evaluate((el) => {
          el.value = '400';
          el.dispatchEvent(new Event('input', { bubbles: true }));
        });
        await until(async () => stepNumber(await readPosition(page)) > 0, { message: 'the scrubber to move the player' });
        // Let the grid measure its box and redraw.
        await page.waitForTimeout(300);
        mkdirSync(SHOTS, { recursive: true });
        await page.screenshot({ path: join(SHOTS, `present-${width}x${height}.png`) });
        const l = await layout(page);
        t.diagnostic(`${width}x${height}: grids ${l.source.width}x${l.source.height} and ${l.destination.width}x${l.destination.height} px, ${l.cellPx} px cells, ${l.cells}`);
        assert.equal(l.form, 0, 'the scenario form is hidden');
        assert.equal(l.exportPanel, 0, 'the export panel is hidden');
        assert.ok(l.scroll.width <= l.viewport.width && l.scroll.height <= l.viewport.height, `no scroll bar: ${JSON.stringify(l.scroll)} in ${JSON.stringify(l.viewport)}`);
        for (const k of ['source', 'link', 'destination', 'sourceFigure', 'destinationFigure', 'caption', 'controls', 'metrics']) {
          assert.ok(inside(l[k], l.viewport), `${k} wholly on screen: ${JSON.stringify(l[k])} in ${JSON.stringify(l.viewport)}`);
        }
        // Side by side, left to right, and level with each other.
        assert.ok(l.source.right <= l.link.left && l.link.right <= l.destination.left, `source | link | destination: ${JSON.stringify([l.source, l.link, l.destination])}`);
        assert.ok(l.source.top < l.destination.bottom && l.destination.top < l.source.bottom, 'the grids are level');
        // The grids fill the screen: together at least a third of its width and a third of its height each.
        assert.ok(l.source.width + l.destination.width >= width / 3, `grid widths ${l.source.width} + ${l.destination.width}`);
        assert.ok(l.source.height >= height / 3, `grid height ${l.source.height} of ${height}`);
        assert.ok(l.cellPx >= 6, `cells of ${l.cellPx} px`);
        // Large type.
        assert.ok(l.titleFont >= 24 && l.captionFont >= 17, `phase title ${l.titleFont} px, caption ${l.captionFont} px`);
        // At the end the outcome line joins the metrics: still all on screen, no scroll bar.
        await page.keyboard.press('End');
        await page.getByTestId('outcome').waitFor({ state: 'visible' });
        await page.waitForTimeout(200);
        const end = await layout(page);
        assert.ok(end.scroll.height <= end.viewport.height && end.scroll.width <= end.viewport.width, `no scroll bar at the end: ${JSON.stringify(end.scroll)}`);
        for (const k of ['source', 'link', 'destination', 'caption', 'controls', 'metrics']) {
          assert.ok(inside(end[k], end.viewport), `${k} wholly on screen at the end: ${JSON.stringify(end[k])}`);
        }
        assert.ok(inside(await page.getByTestId('outcome').boundingBox().then((b) => ({ left: b.x, top: b.y, right: b.x + b.width, bottom: b.y + b.height })), end.viewport), 'the outcome is on screen');
        await page.screenshot({ path: join(SHOTS, `present-${width}x${height}-end.png`) });
        await assertNoErrors(page, errors);
      } finally {
        await context.close();
      }
    });
  }

  it('the keyboard and a presenter remote drive it; p enters it, Esc leaves', async (t) => {
    const { page, context, errors } = await openApp(browser, server, '?v=1&preset=web-server&alg=precopy-xen', { viewport: { width: 1024, height: 768 } });
    try {
      await page.locator('h1').click();
      // Enter with p, timing it in the page: key press to the presentation drawn (next frame).
      const ms = await page.evaluate(
        () =>
          new Promise((done) => {
            const t0 = performance.now();
            document.body.dispatchEvent(new KeyboardEvent('keydown', { key: 'p', bubbles: true }));
            const check = () => {
              const grid = document.querySelector('[data-testid=presentation] [data-testid=grid-source] canvas');
              if (grid && grid.getBoundingClientRect().height > 100) done(performance.now() - t0);
              else requestAnimationFrame(check);
            };
            requestAnimationFrame(check);
          }),
      );
      t.diagnostic(`entering presentation mode took ${ms.toFixed(1)} ms (key press to the grids drawn at full size)`);
      await page.getByTestId('presentation').waitFor({ state: 'visible' });
      assert.match(page.url(), /present=1/, 'the link says presentation mode');
      assert.equal(stepNumber(await readPosition(page)), 0);
      // PageDown / ArrowDown: a round forward; PageUp: back; arrows: one event.
      await page.keyboard.press('PageDown');
      await until(async () => (await page.getByTestId('phase-title').textContent()) === 'Round 1', { message: 'PageDown to reach round 1' });
      const r1 = stepNumber(await readPosition(page));
      await page.keyboard.press('ArrowDown');
      await until(async () => stepNumber(await readPosition(page)) > r1, { message: 'ArrowDown to go a round further' });
      await page.keyboard.press('PageUp');
      await until(async () => stepNumber(await readPosition(page)) === r1, { message: 'PageUp to go back a round' });
      await page.keyboard.press('ArrowRight');
      await until(async () => stepNumber(await readPosition(page)) > r1, { message: 'ArrowRight to step' });
      // Space plays and pauses; keys do not scroll the page.
      await page.keyboard.press(' ');
      await until(async () => /Pause/.test(await page.getByTestId('play').textContent()), { message: 'space to play' });
      await page.keyboard.press(' ');
      await until(async () => /Play/.test(await page.getByTestId('play').textContent()), { message: 'space to pause' });
      await page.keyboard.press('End');
      await page.getByTestId('outcome').waitFor({ state: 'visible' });
      await page.keyboard.press('Home');
      await until(async () => stepNumber(await readPosition(page)) === 0, { message: 'Home to restart' });
      assert.equal(await page.evaluate(() => window.scrollY), 0, 'the page did not scroll');
      // Esc leaves, keeping the run; the button enters again and its twin leaves.
      await page.keyboard.press('Escape');
      await page.locator('form.scenario').waitFor({ state: 'visible' });
      assert.equal(await page.getByTestId('presentation').count(), 0);
      assert.doesNotMatch(page.url(), /present=/);
      await page.getByTestId('present').click();
      await page.getByTestId('presentation').waitFor({ state: 'visible' });
      await page.getByTestId('present-exit').click();
      await page.locator('form.scenario').waitFor({ state: 'visible' });
      // Outside presentation mode PageDown is the browser's (it scrolls), not the player's.
      const before = stepNumber(await readPosition(page));
      await page.locator('h1').click();
      await page.keyboard.press('PageDown');
      await page.waitForTimeout(200);
      assert.equal(stepNumber(await readPosition(page)), before, 'PageDown does not step outside presentation mode');
      await assertNoErrors(page, errors);
    } finally {
      await context.close();
    }
  });

  // (query, parameter named, what is kept from the link)
  const FALLBACKS = [
    ['?v=1&preset=idle-vm&alg=tsmc&present=yes', 'present', /not 1/],
    ['?v=1&preset=idle-vm&alg=tsmc&view=3d', 'view', /accepted play, compare/],
    ['?v=1&preset=idle-vm&alg=tsmc&present=2&view=slides', 'present', /view/],
  ];
  for (const [query, key, more] of FALLBACKS) {
    it(`${query}: one message naming \`${key}\`, the rest of the link kept`, async () => {
      const { page, context, errors } = await openApp(browser, server, query);
      try {
        const banners = page.getByTestId('link-error');
        await banners.first().waitFor({ state: 'visible' });
        assert.equal(await banners.count(), 1, 'one message');
        const text = await banners.textContent();
        assert.ok(text.includes(`\`${key}\``), `names \`${key}\`: ${text}`);
        assert.match(text, more);
        // Not presenting, the Play view, and the link's scenario and algorithm.
        assert.equal(await page.getByTestId('presentation').count(), 0);
        await page.getByTestId('grid-destination').waitFor({ state: 'visible' });
        assert.equal(await page.getByTestId('algorithm').inputValue(), 'tsmc');
        assert.match(page.url(), /preset=idle-vm/);
        assert.match(page.url(), /alg=tsmc/);
        await assertNoErrors(page, errors);
      } finally {
        await context.close();
      }
    });
  }
});
