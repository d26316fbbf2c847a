//! Lines as source maps count them against lines as editors number them. A source map
//! (and oxc's) breaks lines where ECMAScript does: LF, CR, CRLF, U+2028 and U+2029;
//! editors, and every message switchboard gives, break them at LF only.

/// Where each source-map line of a file starts.
pub(super) struct SourceLines<'a> {
    source: &'a str,
    /// Byte offset where each source-map line starts, and its editor line (0-based).
    starts: Vec<(usize, u32)>,
}

impl<'a> SourceLines<'a> {
    pub(super) fn new(source: &'a str) -> Self {
        let mut starts = vec![(0, 0)];
        let mut editor_line = 0;
        let mut chars = source.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let next = match c {
                '\n' => {
                    editor_line += 1;
                    i + 1
                }
                '\r' if chars.peek().is_some_and(|(_, n)| *n == '\n') => {
                    chars.next();
                    editor_line += 1;
                    i + 2
                }
                '\r' | '\u{2028}' | '\u{2029}' => i + c.len_utf8(),
                _ => continue,
            };
            starts.push((next, editor_line));
        }
        Self { source, starts }
    }

    /// The editor line (0-based) of a source-map line.
    pub(super) fn editor_line(&self, map_line: u32) -> u32 {
        let start = self.starts.get(map_line as usize).or(self.starts.last());
        start.map_or(0, |(_, line)| *line)
    }

    /// Source-map line and column (in UTF-16 units, as source maps count) of a byte
    /// offset.
    pub(super) fn position(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.source.len());
        let line = self.starts.partition_point(|(start, _)| *start <= offset) - 1;
        let start = self.starts[line].0;
        let column = self
            .source
            .get(start..offset)
            .map_or(0, |s| s.encode_utf16().count());
        (line as u32, column as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecmascript_line_breaks_map_to_the_editor_lines_they_are_on() {
        let lines = SourceLines::new("a\u{2028}b\r\nc\rd\ne");
        // Source-map lines: "a", "b", "c", "d", "e"; editor lines: "a\u{2028}b", "c\rd", "e".
        let editor: Vec<u32> = (0..6).map(|l| lines.editor_line(l)).collect();
        assert_eq!(editor, [0, 0, 1, 1, 2, 2]);
        assert_eq!(lines.position(0), (0, 0));
        assert_eq!(lines.position(4), (1, 0)); // "b", after the 3-byte U+2028
        assert_eq!(lines.position(11), (4, 0)); // "e"
        assert_eq!(SourceLines::new("héllo").position(3), (0, 2));
    }
}
