//! Turning a byte offset reported by toml into a 1-based line and a dotted key path.
//!
//! The key path is recovered from the text itself: the document is re-parsed with toml's
//! span-preserving, error-recovering parser, and we look for the deepest key or value whose
//! span covers the offset. This handles `[a.b]` headers, dotted keys, quoted keys, inline
//! tables and multi-line arrays, and still works for most syntax errors.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// 1-based line number of byte `offset` in `text` (offsets past the end count as the last line).
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The dotted path (e.g. `totp.digits`) of the key or value at byte `offset` of `text`.
///
/// Falls back to the closest key that starts earlier on the same line (useful for syntax
/// errors just after `key =`); `None` when there is no key on that line.
pub(crate) fn key_at(text: &str, offset: usize) -> Option<String> {
    let (doc, _errors) = DeTable::parse_recoverable(text);
    let entries = entries(doc.get_ref());

    let covering = entries
        .iter()
        .filter(|e| covers(&e.key, offset) || covers(&e.value, offset))
        .max_by_key(|e| e.path.len());
    let line = line_of(text, offset);
    let same_line = || {
        entries
            .iter()
            .filter(|e| e.key.start <= offset && line_of(text, e.key.start) == line)
            .max_by_key(|e| (e.key.start, e.path.len()))
    };
    match covering.or_else(same_line) {
        Some(entry) => Some(render(&entry.path)),
        None => key_from_lines(text, line),
    }
}

/// Last resort, for entries the recovering parser dropped (e.g. a duplicate key): the
/// `[header]` in force at `line` plus the `key =` on that line, read from the raw text.
fn key_from_lines(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.split('\n').collect();
    let current = lines.get(line.checked_sub(1)?)?.trim();
    let mini = if current.starts_with('[') {
        current.to_owned()
    } else {
        let (key, _) = current.split_once('=')?;
        let header = lines[..line - 1]
            .iter()
            .rev()
            .map(|l| l.trim())
            .find(|l| l.starts_with('['))
            .unwrap_or("");
        format!("{header}\n{key} = 0\n")
    };
    let (doc, errors) = DeTable::parse_recoverable(&mini);
    if !errors.is_empty() {
        return None;
    }
    entries(doc.get_ref())
        .iter()
        .max_by_key(|e| e.path.len())
        .map(|e| render(&e.path))
}

#[derive(Clone)]
enum Segment {
    Key(String),
    Index(usize),
}

struct Entry {
    path: Vec<Segment>,
    key: Range<usize>,
    value: Range<usize>,
}

fn covers(span: &Range<usize>, offset: usize) -> bool {
    span.contains(&offset) || (span.is_empty() && span.start == offset)
}

fn entries(table: &DeTable<'_>) -> Vec<Entry> {
    let mut out = Vec::new();
    collect_table(table, &mut Vec::new(), &mut out);
    out
}

fn collect_table(table: &DeTable<'_>, prefix: &mut Vec<Segment>, out: &mut Vec<Entry>) {
    for (key, value) in table.iter() {
        prefix.push(Segment::Key(key.get_ref().to_string()));
        out.push(Entry {
            path: prefix.clone(),
            key: key.span(),
            value: value.span(),
        });
        collect_value(value, prefix, out);
        prefix.pop();
    }
}

fn collect_value(value: &Spanned<DeValue<'_>>, prefix: &mut Vec<Segment>, out: &mut Vec<Entry>) {
    match value.get_ref() {
        DeValue::Table(table) => collect_table(table, prefix, out),
        DeValue::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                prefix.push(Segment::Index(index));
                out.push(Entry {
                    path: prefix.clone(),
                    key: item.span(),
                    value: item.span(),
                });
                collect_value(item, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

/// `a.b`, `servers[2].name`, `"odd key".x`.
fn render(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                if is_bare(key) {
                    out.push_str(key);
                } else {
                    out.push_str(&format!("{key:?}"));
                }
            }
            Segment::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    out
}

fn is_bare(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(text: &str, needle: &str) -> Option<String> {
        let offset = text
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} not in {text}"));
        key_at(text, offset)
    }

    #[test]
    fn lines_are_one_based() {
        assert_eq!(line_of("", 0), 1);
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 4), 3);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }

    #[test]
    fn top_level_key_and_value() {
        let text = "a = 1\nlisten = \"x\"\n";
        assert_eq!(key_of(text, "listen").as_deref(), Some("listen"));
        assert_eq!(key_of(text, "\"x\"").as_deref(), Some("listen"));
    }

    #[test]
    fn key_under_table_header() {
        let text = "a = 1\n[totp]\n# c\ndigits = 9\n[b.c]\nd = 2\n";
        assert_eq!(key_of(text, "9").as_deref(), Some("totp.digits"));
        assert_eq!(key_of(text, "d =").as_deref(), Some("b.c.d"));
        assert_eq!(key_of(text, "totp").as_deref(), Some("totp"));
        assert_eq!(key_of(text, "# c"), None);
    }

    #[test]
    fn dotted_quoted_and_inline_keys() {
        let text = "totp.period = 1000\n\"odd key\".x = 1\nt = { a = 1, b = [1, 2] }\n";
        assert_eq!(key_of(text, "1000").as_deref(), Some("totp.period"));
        assert_eq!(key_of(text, "x =").as_deref(), Some("\"odd key\".x"));
        assert_eq!(key_of(text, "a =").as_deref(), Some("t.a"));
        assert_eq!(key_of(text, "2]").as_deref(), Some("t.b[1]"));
    }

    #[test]
    fn syntax_error_after_key_finds_the_key() {
        let text = "[totp]\ndigits = \n";
        assert_eq!(key_at(text, 16).as_deref(), Some("totp.digits"));
        assert_eq!(key_at("[totp\ndigits = 6\n", 5), None);
        assert_eq!(key_at("a = 1 b = 2\n", 8).as_deref(), Some("a"));
    }

    #[test]
    fn entries_dropped_by_the_parser_come_from_the_text() {
        let text = "[x]\n[totp] # c\na = 1\n\"q k\".b = 2\n\"q k\".b = 3\n[totp]\n";
        assert_eq!(
            key_at(text, text.rfind("\"q k").unwrap()).as_deref(),
            Some("totp.\"q k\".b")
        );
        assert_eq!(
            key_at(text, text.rfind("totp").unwrap()).as_deref(),
            Some("totp")
        );
    }
}
