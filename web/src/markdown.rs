//! A small, safe Markdown reader for assignment texts: headings, paragraphs, bulleted and
//! numbered lists, indented or fenced code blocks, and inline `code`, *emphasis* and
//! **strong**. It produces a tree of text, never HTML, so a file's text can never inject markup
//! (the component renders every piece as a text node). Anything else shows as plain text.

/// A run of inline text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inline {
    /// Plain text.
    Text(String),
    /// `code`.
    Code(String),
    /// *emphasis*.
    Em(String),
    /// **strong**.
    Strong(String),
}

/// A block of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// `#` to `###` headings (level 1 to 3).
    Heading(u8, Vec<Inline>),
    /// A paragraph (its lines joined).
    Paragraph(Vec<Inline>),
    /// A list; `ordered` for `1.` items.
    List {
        /// Numbered.
        ordered: bool,
        /// The items.
        items: Vec<Vec<Inline>>,
    },
    /// A code block, verbatim.
    Code(String),
}

/// Reads inline markup in one paragraph's text.
pub fn inline(text: &str) -> Vec<Inline> {
    let mut out = Vec::new();
    let mut plain = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let flush = |plain: &mut String, out: &mut Vec<Inline>| {
        if !plain.is_empty() {
            out.push(Inline::Text(std::mem::take(plain)));
        }
    };
    let find = |from: usize, pat: &[char]| (from..chars.len().saturating_sub(pat.len() - 1)).find(|&j| chars[j..j + pat.len()] == *pat);
    while i < chars.len() {
        let c = chars[i];
        let (pat, make): (&[char], fn(String) -> Inline) = match c {
            '`' => (&['`'], Inline::Code),
            '*' if chars.get(i + 1) == Some(&'*') => (&['*', '*'], Inline::Strong),
            '*' | '_' => (if c == '*' { &['*'] } else { &['_'] }, Inline::Em),
            _ => {
                plain.push(c);
                i += 1;
                continue;
            }
        };
        let start = i + pat.len();
        // Emphasis must open before a non-space and `_` only at a word start.
        let opens = chars.get(start).is_some_and(|n| !n.is_whitespace()) && (c != '_' || i == 0 || !chars[i - 1].is_alphanumeric());
        match find(start, pat).filter(|&end| opens && end > start) {
            Some(end) => {
                flush(&mut plain, &mut out);
                out.push(make(chars[start..end].iter().collect()));
                i = end + pat.len();
            }
            None => {
                plain.push(c);
                i += 1;
            }
        }
    }
    flush(&mut plain, &mut out);
    out
}

fn list_item(line: &str) -> Option<(bool, &str)> {
    let t = line.trim_start();
    if let Some(rest) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
        return Some((false, rest));
    }
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 {
        if let Some(rest) = t[digits..].strip_prefix(". ") {
            return Some((true, rest));
        }
    }
    None
}

/// Splits a text into blocks.
pub fn parse(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim();
        if t.is_empty() {
            i += 1;
            continue;
        }
        if t.starts_with("```") {
            let mut code = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].trim_start().starts_with("```") {
                code.push(lines[i]);
                i += 1;
            }
            i += 1;
            blocks.push(Block::Code(code.join("\n")));
            continue;
        }
        if line.starts_with("    ") || line.starts_with('\t') {
            let mut code = Vec::new();
            while i < lines.len() && (lines[i].starts_with("    ") || lines[i].starts_with('\t') || lines[i].trim().is_empty()) {
                code.push(lines[i].strip_prefix("    ").or_else(|| lines[i].strip_prefix('\t')).unwrap_or(""));
                i += 1;
            }
            while code.last().is_some_and(|l| l.trim().is_empty()) {
                code.pop();
            }
            blocks.push(Block::Code(code.join("\n")));
            continue;
        }
        let hashes = t.chars().take_while(|&c| c == '#').count();
        if (1..=3).contains(&hashes) && t[hashes..].starts_with(' ') {
            blocks.push(Block::Heading(hashes as u8, inline(t[hashes..].trim())));
            i += 1;
            continue;
        }
        if let Some((ordered, _)) = list_item(line) {
            let mut items: Vec<String> = Vec::new();
            while i < lines.len() && !lines[i].trim().is_empty() {
                match list_item(lines[i]) {
                    Some((o, rest)) if o == ordered => items.push(rest.trim().to_string()),
                    // A continuation line of the item before.
                    None if !items.is_empty() && lines[i].starts_with(' ') => {
                        let last = items.last_mut().expect("not empty");
                        last.push(' ');
                        last.push_str(lines[i].trim());
                    }
                    _ => break,
                }
                i += 1;
            }
            blocks.push(Block::List { ordered, items: items.iter().map(|s| inline(s)).collect() });
            continue;
        }
        let mut para = Vec::new();
        while i < lines.len() {
            let l = lines[i];
            let lt = l.trim();
            if lt.is_empty() || lt.starts_with("```") || (!para.is_empty() && list_item(l).is_some()) || l.starts_with("    ") {
                break;
            }
            para.push(lt);
            i += 1;
        }
        blocks.push(Block::Paragraph(inline(&para.join(" "))));
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_and_inline_markup() {
        let text = "# Title\n\nSome *em* and **strong** and `code`,\nsecond line.\n\n1. one\n2. two\n   continued\n\n- a\n- b\n\n    x = 1\n    y = 2\n\n```\nfenced\n```\n";
        let b = parse(text);
        assert_eq!(b[0], Block::Heading(1, vec![Inline::Text("Title".into())]));
        assert_eq!(
            b[1],
            Block::Paragraph(vec![
                Inline::Text("Some ".into()),
                Inline::Em("em".into()),
                Inline::Text(" and ".into()),
                Inline::Strong("strong".into()),
                Inline::Text(" and ".into()),
                Inline::Code("code".into()),
                Inline::Text(", second line.".into()),
            ])
        );
        assert_eq!(
            b[2],
            Block::List { ordered: true, items: vec![vec![Inline::Text("one".into())], vec![Inline::Text("two continued".into())]] }
        );
        assert!(matches!(&b[3], Block::List { ordered: false, items } if items.len() == 2));
        assert_eq!(b[4], Block::Code("x = 1\ny = 2".into()));
        assert_eq!(b[5], Block::Code("fenced".into()));
        assert_eq!(b.len(), 6);
    }

    #[test]
    fn markup_in_the_text_stays_text() {
        let b = parse("<script>alert(1)</script> 3 * 4 * 5 and snake_case_name");
        assert_eq!(b, vec![Block::Paragraph(vec![Inline::Text("<script>alert(1)</script> 3 * 4 * 5 and snake_case_name".into())])]);
        // Unclosed markers stay as they are.
        assert_eq!(inline("a `b"), vec![Inline::Text("a `b".into())]);
        assert_eq!(inline("**x"), vec![Inline::Text("**x".into())]);
    }
}
