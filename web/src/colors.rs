//! Each algorithm's colour in every chart, table and picker: by its place in the core's
//! registry, so that the colours follow the registry and need no list of names here.

use livemig_core::algorithms;
use plotters::style::RGBColor;

const PALETTE: [(u8, u8, u8); 16] = [
    (31, 119, 180),
    (174, 199, 232),
    (255, 127, 14),
    (255, 187, 120),
    (44, 160, 44),
    (152, 223, 138),
    (214, 39, 40),
    (255, 152, 150),
    (148, 103, 189),
    (197, 176, 213),
    (140, 86, 75),
    (196, 156, 148),
    (227, 119, 194),
    (127, 127, 127),
    (23, 190, 207),
    (188, 189, 34),
];

/// The colour of an algorithm in every chart (by its place in the registry).
pub fn color_of(name: &str) -> RGBColor {
    let i = algorithms::registry().iter().position(|a| a.name == name).unwrap_or(PALETTE.len() - 1);
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// CSS text of [`color_of`].
pub fn css_color(name: &str) -> String {
    let c = color_of(name);
    format!("rgb({},{},{})", c.0, c.1, c.2)
}
