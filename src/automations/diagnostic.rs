//! Errors in automation files, with the file, line and column they point at.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong and, where possible, what to write instead.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// A step on the way to a value in a TOML document: a key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A table key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// Builds a path from keys and indexes: `path!["actions", 2, "text"]`.
macro_rules! toml_path {
    ($($seg:expr),* $(,)?) => { [$($crate::automations::diagnostic::Seg::from($seg)),*] };
}
pub(crate) use toml_path as path;

impl From<&str> for Seg {
    fn from(key: &str) -> Self {
        Seg::Key(key.to_owned())
    }
}

impl From<usize> for Seg {
    fn from(index: usize) -> Self {
        Seg::Index(index)
    }
}

/// Turns byte offsets and document paths of one file into diagnostics.
pub struct Locator<'a> {
    file: PathBuf,
    source: &'a str,
    root: Option<Spanned<DeTable<'a>>>,
    /// Where each line starts: a file with many errors is not scanned once per error.
    line_starts: Vec<usize>,
}

impl<'a> Locator<'a> {
    /// A locator for `source`, read from `file`.
    pub fn new(file: PathBuf, source: &'a str) -> Self {
        let root = DeTable::parse(source).ok();
        let line_starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            file,
            source,
            root,
            line_starts,
        }
    }

    /// A diagnostic at a byte offset.
    pub fn at_offset(&self, offset: usize, message: impl Into<String>) -> Diagnostic {
        let offset = offset.min(self.source.len());
        let line = self.line_starts.partition_point(|start| *start <= offset);
        let line_start = self.line_starts[line - 1];
        let column = self.source[line_start..offset].chars().count() + 1;
        Diagnostic {
            file: self.file.clone(),
            line,
            column,
            message: message.into(),
        }
    }

    /// A diagnostic at the value found at `path` (or the deepest part of it that exists).
    pub fn at_path(&self, path: &[Seg], message: impl Into<String>) -> Diagnostic {
        self.at_offset(self.span_of(path).start, message)
    }

    /// A diagnostic at a byte offset inside the string value at `path`; falls back to the
    /// start of the value when the string's escapes make the mapping uncertain.
    pub fn in_string(&self, path: &[Seg], offset: usize, message: impl Into<String>) -> Diagnostic {
        let span = self.span_of(path);
        let raw = &self.source[span.clone()];
        let quote = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
            3
        } else {
            1
        };
        let mut start = span.start + quote;
        // A newline right after an opening triple quote is not part of the string.
        if quote == 3 {
            if self.source[start..].starts_with("\r\n") {
                start += 2;
            } else if self.source[start..].starts_with('\n') {
                start += 1;
            }
        }
        let literal = raw.starts_with('\'') || !raw.contains('\\');
        let offset = if literal && start + offset <= span.end {
            start + offset
        } else {
            span.start
        };
        self.at_offset(offset, message)
    }

    /// The offset of the first key named `key` inside `within`, else anywhere: serde
    /// reports unknown keys at their table's header, or nowhere.
    pub fn key_offset(&self, key: &str, within: Range<usize>) -> Option<usize> {
        fn search(table: &DeTable<'_>, key: &str, within: &Range<usize>) -> Option<usize> {
            for (k, v) in table.iter() {
                let span = k.span();
                let inside =
                    within.is_empty() || (within.start <= span.start && span.end <= within.end);
                if inside && k.get_ref().as_ref() == key {
                    return Some(span.start);
                }
                if let Some(found) = search_value(v.get_ref(), key, within) {
                    return Some(found);
                }
            }
            None
        }
        fn search_value(value: &DeValue<'_>, key: &str, within: &Range<usize>) -> Option<usize> {
            match value {
                DeValue::Table(t) => search(t, key, within),
                DeValue::Array(a) => a
                    .iter()
                    .find_map(|v| search_value(v.get_ref(), key, within)),
                _ => None,
            }
        }
        let root = self.root.as_ref()?.get_ref();
        search(root, key, &within).or_else(|| search(root, key, &(0..0)))
    }

    /// Where a string value equal to `text` starts, preferably within `within`.
    pub fn string_offset(&self, text: &str, within: Range<usize>) -> Option<usize> {
        fn search(
            value: &DeValue<'_>,
            span: Range<usize>,
            text: &str,
            within: &Range<usize>,
        ) -> Option<usize> {
            match value {
                DeValue::String(s) if s.as_ref() == text => {
                    let inside =
                        within.is_empty() || (within.start <= span.start && span.end <= within.end);
                    inside.then_some(span.start)
                }
                DeValue::Table(t) => t
                    .iter()
                    .find_map(|(_, v)| search(v.get_ref(), v.span(), text, within)),
                DeValue::Array(a) => a
                    .iter()
                    .find_map(|v| search(v.get_ref(), v.span(), text, within)),
                _ => None,
            }
        }
        let root = self.root.as_ref()?;
        let table = DeValue::Table(root.get_ref().clone());
        search(&table, root.span(), text, &within)
            .or_else(|| search(&table, root.span(), text, &(0..0)))
    }

    fn span_of(&self, path: &[Seg]) -> Range<usize> {
        let Some(root) = &self.root else {
            return 0..0;
        };
        let mut span = root.span();
        let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
        let mut array: Option<&[Spanned<DeValue<'_>>]> = None;
        for seg in path {
            let next: Option<&Spanned<DeValue<'_>>> = match seg {
                Seg::Key(key) => table.and_then(|t| {
                    t.iter()
                        .find(|(k, _)| k.get_ref().as_ref() == key.as_str())
                        .map(|(_, v)| v)
                }),
                Seg::Index(i) => array.and_then(|a| a.get(*i)),
            };
            let Some(value) = next else { break };
            span = value.span();
            table = value.get_ref().as_table();
            array = value.get_ref().as_array().map(|a| &a[..]);
        }
        span
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "name = \"x\"\n\n[[actions]]\ntype = \"reply\"\ntext = \"Hi {{nope}}\"\n\n[[actions]]\ntype = \"post\"\ntext = '''\nline one {{bad}}'''\n";

    #[test]
    fn offsets_become_lines_and_columns() {
        let l = Locator::new("a.toml".into(), SOURCE);
        let d = l.at_offset(0, "m");
        assert_eq!((d.line, d.column), (1, 1));
        let d = l.at_offset(SOURCE.find("type").unwrap(), "m");
        assert_eq!((d.line, d.column), (4, 1));
        assert_eq!(d.to_string(), "a.toml:4:1: m");
    }

    #[test]
    fn paths_find_values() {
        let l = Locator::new("a.toml".into(), SOURCE);
        let d = l.at_path(&path!["actions", 0, "text"], "m");
        assert_eq!((d.line, d.column), (5, 8));
        let d = l.at_path(&path!["actions", 1, "type"], "m");
        assert_eq!((d.line, d.column), (8, 8));
        // A missing key points at the deepest part that exists.
        let d = l.at_path(&path!["actions", 1, "missing"], "m");
        assert_eq!(d.line, 7, "{d}");
    }

    #[test]
    fn offsets_inside_strings() {
        let l = Locator::new("a.toml".into(), SOURCE);
        let d = l.in_string(&path!["actions", 0, "text"], 5, "m");
        assert_eq!((d.line, d.column), (5, 14));
        let d = l.in_string(&path!["actions", 1, "text"], 11, "m");
        assert_eq!((d.line, d.column), (10, 12));
    }
}
