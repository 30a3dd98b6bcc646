//! How a page state looks in a grid cell: a colour *and* a mark (a pattern or glyph drawn in the
//! cell), so that the states stay apart without colour, in grey print and for the common
//! colour-vision deficiencies. The colours are the Okabe–Ito palette (designed for protanopia,
//! deuteranopia and tritanopia); the marks are drawn in black or white, whichever contrasts more
//! with the cell's colour.
//!
//! Cells are painted into an RGBA buffer at `cell` device pixels each, with a one-pixel gap
//! between cells when they are large enough to afford it ([`paint_cells`]). The legend draws the
//! same marks as small SVG squares ([`swatch_rects`]).

use crate::playback::CellKind;

/// The mark drawn in a cell of a given state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// No mark (the pale "nothing here yet" cells, and the solid "done" cells).
    None,
    /// Diagonal hatching.
    Hatch,
    /// A square dot in the centre.
    Dot,
    /// A frame around the cell.
    Frame,
    /// Horizontal lines.
    Rows,
    /// Vertical lines.
    Columns,
    /// A cross (both diagonals).
    Cross,
}

/// The mark of a cell state.
pub fn mark(kind: CellKind) -> Mark {
    match kind {
        CellKind::NotSent | CellKind::Absent | CellKind::Sent | CellKind::Present => Mark::None,
        CellKind::Dirty => Mark::Hatch,
        CellKind::InFlight => Mark::Dot,
        CellKind::Zero => Mark::Frame,
        CellKind::Compressed => Mark::Rows,
        CellKind::Delta => Mark::Columns,
        CellKind::Faulted => Mark::Cross,
    }
}

/// The mark's name as the legend says it.
pub fn mark_name(kind: CellKind) -> &'static str {
    match kind {
        CellKind::NotSent | CellKind::Absent => "pale",
        CellKind::Sent | CellKind::Present => "solid",
        CellKind::Dirty => "hatched",
        CellKind::InFlight => "dot",
        CellKind::Zero => "framed",
        CellKind::Compressed => "horizontal lines",
        CellKind::Delta => "vertical lines",
        CellKind::Faulted => "cross",
    }
}

/// Whether pixel (`x`, `y`) of a `size` x `size` cell is part of `m`.
pub fn inked(m: Mark, size: u32, x: u32, y: u32) -> bool {
    let step = if size >= 8 { 4 } else { 3 };
    match m {
        Mark::None => false,
        Mark::Hatch => (x + y) % step == step - 1,
        Mark::Dot => {
            let d = (size / 3).max(1);
            let lo = (size - d) / 2;
            (lo..lo + d).contains(&x) && (lo..lo + d).contains(&y)
        }
        Mark::Frame => x == 0 || y == 0 || x + 1 == size || y + 1 == size,
        Mark::Rows => y % step == step / 2,
        Mark::Columns => x % step == step / 2,
        Mark::Cross => x == y || x + y + 1 == size,
    }
}

/// Relative luminance (WCAG 2) of an sRGB colour.
pub fn luminance([r, g, b]: [u8; 3]) -> f64 {
    let lin = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}

/// WCAG 2 contrast ratio of two colours (1 to 21).
pub fn contrast(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// The ink of a cell's mark: black or white, whichever contrasts more with its colour.
pub fn ink(kind: CellKind) -> [u8; 3] {
    let c = kind.rgb();
    if contrast(c, [0, 0, 0]) >= contrast(c, [0xff, 0xff, 0xff]) {
        [0x11, 0x11, 0x11]
    } else {
        [0xff, 0xff, 0xff]
    }
}

/// The gap between cells, in device pixels, for cells of `cell` device pixels.
pub fn gap(cell: u32) -> u32 {
    u32::from(cell >= 6)
}

/// The colour of the gaps between cells (the page background).
pub const GAP_RGB: [u8; 3] = [0xff, 0xff, 0xff];

/// One cell of `kind` at `cell` device pixels, as RGBA rows (gap included on the right and bottom).
fn tile(kind: CellKind, cell: u32) -> Vec<u8> {
    let g = gap(cell);
    let inner = cell - g;
    let (fill, ink, m) = (kind.rgb(), ink(kind), mark(kind));
    let mut out = Vec::with_capacity((cell * cell * 4) as usize);
    for y in 0..cell {
        for x in 0..cell {
            let rgb = if x >= inner || y >= inner {
                GAP_RGB
            } else if inner >= 3 && inked(m, inner, x, y) {
                ink
            } else {
                fill
            };
            out.extend_from_slice(&[rgb[0], rgb[1], rgb[2], 0xff]);
        }
    }
    out
}

/// Paints `kinds` (row by row, `cols` a row) into `rgba` as `cols * cell` x `rows * cell` pixels;
/// cells past the end of `kinds` are left blank.
pub fn paint_cells(kinds: &[CellKind], cols: u32, rows: u32, cell: u32, rgba: &mut Vec<u8>) {
    let cell = cell.max(1);
    let width = (cols * cell) as usize;
    rgba.clear();
    rgba.resize(width * (rows * cell) as usize * 4, 0xff);
    let tiles: Vec<(CellKind, Vec<u8>)> = CellKind::ALL.iter().map(|&k| (k, tile(k, cell))).collect();
    let row_bytes = (cell * 4) as usize;
    for (i, k) in kinds.iter().enumerate().take((cols * rows) as usize) {
        let Some((_, t)) = tiles.iter().find(|(tk, _)| tk == k) else { continue };
        let (cx, cy) = (i % cols as usize, i / cols as usize);
        for y in 0..cell as usize {
            let at = ((cy * cell as usize + y) * width + cx * cell as usize) * 4;
            rgba[at..at + row_bytes].copy_from_slice(&t[y * row_bytes..(y + 1) * row_bytes]);
        }
    }
}

/// Paints into `rgba` (as [`paint_cells`] did for `before`) only the cells whose state changed
/// from `before` to `kinds`, and returns the rows of cells changed (`start..end`, empty when none
/// did); when `before` or `rgba` do not fit the grid, paints every cell and returns every row.
pub fn repaint_cells(kinds: &[CellKind], before: &[CellKind], cols: u32, rows: u32, cell: u32, rgba: &mut Vec<u8>) -> std::ops::Range<u32> {
    let cell = cell.max(1);
    let width = (cols * cell) as usize;
    let fits = before.len() == kinds.len() && rgba.len() == width * (rows * cell) as usize * 4;
    if !fits {
        paint_cells(kinds, cols, rows, cell, rgba);
        return 0..rows;
    }
    let n = kinds.len().min((cols * rows) as usize);
    let Some(first) = (0..n).find(|&i| kinds[i] != before[i]) else { return 0..0 };
    let last = (first..n).rev().find(|&i| kinds[i] != before[i]).unwrap_or(first);
    let mut tiles: [Option<Vec<u8>>; CellKind::ALL.len()] = Default::default();
    let row_bytes = (cell * 4) as usize;
    for i in first..=last {
        let k = kinds[i];
        if k == before[i] {
            continue;
        }
        let Some(slot) = CellKind::ALL.iter().position(|&x| x == k) else { continue };
        let t = tiles[slot].get_or_insert_with(|| tile(k, cell));
        let (cx, cy) = (i % cols as usize, i / cols as usize);
        for y in 0..cell as usize {
            let at = ((cy * cell as usize + y) * width + cx * cell as usize) * 4;
            rgba[at..at + row_bytes].copy_from_slice(&t[y * row_bytes..(y + 1) * row_bytes]);
        }
    }
    (first / cols as usize) as u32..(last / cols as usize + 1) as u32
}

/// The inked pixels of a `size` x `size` legend swatch of `kind`, as horizontal runs
/// `(x, y, width)` (for SVG `<rect>`s).
pub fn swatch_rects(kind: CellKind, size: u32) -> Vec<(u32, u32, u32)> {
    let m = mark(kind);
    let mut out = Vec::new();
    for y in 0..size {
        let mut x = 0;
        while x < size {
            if inked(m, size, x, y) {
                let start = x;
                while x < size && inked(m, size, x, y) {
                    x += 1;
                }
                out.push((start, y, x - start));
            } else {
                x += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [CellKind; 10] = CellKind::ALL;

    #[test]
    fn repainting_the_changed_cells_gives_the_full_painting() {
        let (cols, rows, cell) = (7u32, 5u32, 3u32);
        let a: Vec<CellKind> = (0..33).map(|i| ALL[i % ALL.len()]).collect();
        let mut b = a.clone();
        b[9] = CellKind::Faulted;
        b[10] = CellKind::InFlight;
        b[24] = CellKind::Delta;
        let (mut full, mut incremental) = (Vec::new(), Vec::new());
        assert_eq!(repaint_cells(&a, &[], cols, rows, cell, &mut incremental), 0..rows, "nothing to start from: everything");
        assert_eq!(repaint_cells(&a, &a, cols, rows, cell, &mut incremental), 0..0, "nothing changed");
        assert_eq!(repaint_cells(&b, &a, cols, rows, cell, &mut incremental), 1..4, "rows of cells 9 to 24");
        paint_cells(&b, cols, rows, cell, &mut full);
        assert_eq!(full, incremental);
        // A grid of another size is painted afresh.
        assert_eq!(repaint_cells(&b, &a, cols + 1, rows, cell, &mut incremental), 0..rows);
        paint_cells(&b, cols + 1, rows, cell, &mut full);
        assert_eq!(full, incremental);
    }

    /// Every state a grid shows differs from the others of the same grid by its mark, or (for
    /// the unmarked ones) by lightness.
    #[test]
    fn states_on_one_grid_differ_without_colour() {
        for kinds in [&CellKind::SOURCE[..], &CellKind::DEST[..]] {
            for (i, &a) in kinds.iter().enumerate() {
                for &b in &kinds[i + 1..] {
                    let by_mark = mark(a) != mark(b);
                    let by_lightness = contrast(a.rgb(), b.rgb()) >= 2.0;
                    assert!(by_mark || by_lightness, "{a:?} and {b:?} look alike without colour");
                }
            }
        }
    }

    #[test]
    fn marks_contrast_with_their_cell() {
        for k in ALL {
            if mark(k) != Mark::None {
                assert!(contrast(k.rgb(), ink(k)) >= 3.0, "{k:?}: mark contrast {}", contrast(k.rgb(), ink(k)));
            }
        }
    }

    #[test]
    fn marks_show_at_small_and_large_sizes() {
        for k in ALL {
            for size in [3, 5, 8, 14] {
                let n = (0..size).flat_map(|y| (0..size).map(move |x| (x, y))).filter(|&(x, y)| inked(mark(k), size, x, y)).count();
                assert_eq!(n == 0, mark(k) == Mark::None, "{k:?} at {size} px");
                assert!(n < (size * size) as usize, "{k:?} at {size} px fills the whole cell");
            }
        }
    }

    #[test]
    fn cells_are_painted_at_their_place() {
        let kinds = [CellKind::Sent, CellKind::Dirty, CellKind::NotSent];
        let mut rgba = Vec::new();
        paint_cells(&kinds, 2, 2, 4, &mut rgba);
        assert_eq!(rgba.len(), 8 * 8 * 4);
        assert_eq!(&rgba[..3], &CellKind::Sent.rgb());
        // Third cell: row 1, column 0, first pixel.
        let at = (4 * 8) * 4;
        assert_eq!(&rgba[at..at + 3], &CellKind::NotSent.rgb());
        // The fourth cell is past the end of `kinds`: blank.
        let at = (4 * 8 + 4) * 4;
        assert_eq!(&rgba[at..at + 3], &[0xff, 0xff, 0xff]);
    }

    #[test]
    fn swatch_runs_cover_the_inked_pixels() {
        let runs = swatch_rects(CellKind::Faulted, 12);
        let n: u32 = runs.iter().map(|r| r.2).sum();
        assert_eq!(n, 24);
        assert!(swatch_rects(CellKind::Sent, 12).is_empty());
    }
}
