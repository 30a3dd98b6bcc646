//! Keeps the docs true to the code.
//!
//! * Every entry of the algorithm registry has a row in `docs/algorithms/README.md`; the page
//!   that row links to exists; and every parameter the entry reads (its own and its base's) has
//!   a row in that page's parameter table (a line starting `` | `name` | ``) that holds the
//!   parameter's declared default.
//! * Every `docs/` Markdown page cited in the Rust sources of `core/`, `native-runner/`, `web/`
//!   and `xtask/` exists.
//! * Every relative link target and every backticked repository path in `docs/**/*.md` and
//!   `README.md` exists.
//!
//! Files are read at run time, relative to the repository root.

use livemig_core::algorithms::REGISTRY;
use std::path::{Path, PathBuf};

/// The repository root.
fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The page `docs/algorithms/README.md` links in the row of algorithm `name`: the row whose
/// first cell is `` `name` ``, and in it the first link target ending in `.md`.
fn page_of(index: &str, name: &str) -> Option<String> {
    let cell = format!("| `{name}` |");
    let row = index.lines().find(|l| l.trim_start().starts_with(&cell))?;
    row.split("](").skip(1).filter_map(|s| s.split(')').next()).find(|t| t.ends_with(".md")).map(str::to_string)
}

#[test]
fn every_algorithm_has_a_page_listing_its_parameters_and_defaults() {
    let dir = root().join("docs/algorithms");
    let index = read(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/algorithms/README.md")));
    let mut missing = Vec::new();
    for info in REGISTRY {
        let Some(page) = page_of(&index, info.name) else {
            missing.push(format!("{}: no row `| `{}` | [page](page.md) | ...` in docs/algorithms/README.md", info.name, info.name));
            continue;
        };
        let path = dir.join(&page);
        if !path.exists() {
            missing.push(format!("{}: docs/algorithms/README.md links {page}, which does not exist", info.name));
            continue;
        }
        let text = read(&path);
        let base = info.base.map(|(_, specs)| specs).unwrap_or(&[]);
        for spec in base.iter().chain(info.params) {
            let row = format!("| `{}` |", spec.name);
            if !text.lines().any(|l| l.trim_start().starts_with(&row) && l.contains(spec.default)) {
                missing.push(format!(
                    "{}: docs/algorithms/{page} has no table row `{row} ...` with its default {:?}",
                    info.name, spec.default
                ));
            }
        }
    }
    assert!(missing.is_empty(), "the algorithm docs are out of date:\n{}", missing.join("\n"));
}

/// Every `.rs` file under `dir`, skipping build output and dependencies.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && name != "node_modules" && !name.to_string_lossy().starts_with('.') {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The repository-relative `docs/` Markdown paths cited in `text`: `docs/` at the start of a
/// word (or after `../`), followed by path characters, ending in `.md`. Paths inside other
/// projects' trees (`something/docs/...`) are not this repository's and are skipped.
fn cited_docs(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = text[from..].find("docs/") {
        let start = from + at;
        from = start + 5;
        let before = &text.as_bytes()[..start];
        let standalone = match before.last() {
            None => true,
            Some(b'/') => before.ends_with(b"../"),
            Some(&c) => !(c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.'),
        };
        if !standalone {
            continue;
        }
        let mut end = start + 5;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || b"_-./".contains(&bytes[end])) {
            end += 1;
        }
        let path = text[start..end].trim_end_matches('.');
        if path.ends_with(".md") {
            found.push(path.to_string());
        }
    }
    found
}

#[test]
fn every_docs_page_cited_in_the_code_exists() {
    let root = root();
    let mut files = Vec::new();
    for dir in ["core", "native-runner", "web", "xtask"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 50, "found only {} Rust files under {}", files.len(), root.display());
    let mut missing = Vec::new();
    let mut cited = 0;
    for file in &files {
        for path in cited_docs(&read(file)) {
            cited += 1;
            if !root.join(&path).exists() {
                missing.push(format!("{} cites {path}, which does not exist", file.strip_prefix(&root).unwrap_or(file).display()));
            }
        }
    }
    assert!(cited > 0, "no docs/ citation found: the scan is broken");
    assert!(missing.is_empty(), "cited docs missing:\n{}", missing.join("\n"));
}

#[test]
fn the_citation_scan_finds_what_it_should() {
    let text = "see docs/algorithms/mecom.md, (docs/architecture.md) and \"/../docs/fidelity.md\". \
                Not QEMU's `docs/xbzrle.txt`, not web/browser-tests/docs/notes.md, not mydocs/x.md.";
    assert_eq!(cited_docs(text), ["docs/algorithms/mecom.md", "docs/architecture.md", "docs/fidelity.md"]);
}

/// Every `.md` file under `dir`.
fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// Whether `path` is a pattern or a placeholder rather than a file to check: it holds `*`,
/// `NAME`, `<` or `...`, or a component in capitals only (`fuzz/corpus/TARGET/`).
fn is_placeholder(path: &str) -> bool {
    ["*", "NAME", "<", "..."].iter().any(|p| path.contains(p))
        || path.split('/').any(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
}

/// The relative link targets of `text`: the `target` of every `[...](target)`, without its
/// `#anchor`, skipping URLs, pure anchors and placeholders.
fn link_targets(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for piece in text.split("](").skip(1) {
        let Some(target) = piece.split(')').next() else { continue };
        let target = target.split_whitespace().next().unwrap_or("");
        let target = target.split('#').next().unwrap_or("");
        if target.is_empty() || target.contains("://") || target.starts_with("mailto:") || is_placeholder(target) {
            continue;
        }
        found.push(target.to_string());
    }
    found
}

/// The repository paths in backticks in `text`: a code span that is one word, starts with one
/// of this repository's top-level directories (or is `README.md`) and names a file or folder.
/// A trailing `:line`, `::item` or `(...)` is dropped; a `docs/` path not ending in `.md` or `/`
/// is another project's and is skipped.
fn backticked_paths(text: &str) -> Vec<String> {
    const TOPS: [&str; 6] = ["core/", "native-runner/", "web/", "docs/", "xtask/", "fuzz/"];
    let mut found = Vec::new();
    for (i, span) in text.split('`').enumerate() {
        if i % 2 == 0 || span.is_empty() || span.contains(char::is_whitespace) || is_placeholder(span) {
            continue;
        }
        let path = span.split("::").next().unwrap_or(span);
        let path = path.split(':').next().unwrap_or(path);
        let path = path.split('(').next().unwrap_or(path);
        // Other projects' docs (QEMU's `docs/xbzrle.txt`) are cited too; ours are Markdown.
        let foreign = path.starts_with("docs/") && !(path.ends_with(".md") || path.ends_with('/'));
        if TOPS.iter().any(|t| path.starts_with(t)) && !foreign {
            found.push(path.trim_end_matches(['.', ','].as_slice()).to_string());
        }
    }
    found
}

#[test]
fn every_path_the_docs_name_exists() {
    let root = root();
    let mut pages = vec![root.join("README.md")];
    markdown_files(&root.join("docs"), &mut pages);
    assert!(pages.len() > 5, "found only {} Markdown pages under {}", pages.len(), root.display());
    let mut missing = Vec::new();
    let mut checked = 0;
    for page in &pages {
        let text = read(page);
        let dir = page.parent().unwrap();
        let name = page.strip_prefix(&root).unwrap_or(page).display().to_string();
        for target in link_targets(&text) {
            checked += 1;
            if !dir.join(&target).exists() {
                missing.push(format!("{name} links {target}, which does not exist"));
            }
        }
        for path in backticked_paths(&text) {
            checked += 1;
            if !root.join(&path).exists() {
                missing.push(format!("{name} names `{path}`, which does not exist"));
            }
        }
    }
    assert!(checked > 0, "no link or path found: the scan is broken");
    assert!(missing.is_empty(), "the docs name paths that do not exist:\n{}", missing.join("\n"));
}

#[test]
fn the_path_scan_finds_what_it_should() {
    let text = "See [the model](model.md#rates), [QEMU](https://qemu.org/x.md), [a](#here), \
                `core/src/sim/mod.rs`, `core/src/sweep.rs:12`, `core/src/context/mod.rs::Clock`, \
                `web/NAME.rs`, `fuzz/corpus/TARGET/`, `web/src/*.ts`, QEMU's `docs/xbzrle.txt`, `fn run`, `cargo test -p core/x`.";
    assert_eq!(link_targets(text), ["model.md"]);
    assert_eq!(backticked_paths(text), ["core/src/sim/mod.rs", "core/src/sweep.rs", "core/src/context/mod.rs"]);
}
