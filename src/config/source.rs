//! The texts diagnostics point into: spec files, var files and synthetic sources such as
//! the command line, addressed by `FileId` and byte offset.
//!
//! Invariant: turning an offset into a line and column never panics, whatever the offset
//! (past the end, or inside a multi-byte character): lookups clamp and count characters.

use std::cell::OnceCell;
use std::path::{Component, Path, PathBuf};

/// Index of a file in the `SourceMap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(usize);

/// A position in a source: the start of whatever a diagnostic points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    pub file: FileId,
    /// Byte offset into the file's text.
    pub offset: usize,
}

impl Loc {
    /// The start of a file: for problems with a whole file or directory.
    pub fn start(file: FileId) -> Loc {
        Loc { file, offset: 0 }
    }

    /// The start of a span hcl-edit recorded, or the file's start when it recorded none.
    pub fn of(file: FileId, span: Option<std::ops::Range<usize>>) -> Loc {
        Loc {
            file,
            offset: span.map_or(0, |s| s.start),
        }
    }
}

#[derive(Debug)]
struct SourceFile {
    path: PathBuf,
    text: String,
    /// Byte offset of each line's start, computed on the first lookup: locating many
    /// diagnostics in a large file stays linear.
    line_starts: OnceCell<Vec<usize>>,
}

#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn add(&mut self, path: PathBuf, text: String) -> FileId {
        self.files.push(SourceFile {
            path,
            text,
            line_starts: OnceCell::new(),
        });
        FileId(self.files.len() - 1)
    }

    pub fn path(&self, file: FileId) -> &Path {
        &self.files[file.0].path
    }

    pub fn text(&self, file: FileId) -> &str {
        &self.files[file.0].text
    }

    /// 1-based line and column (in characters) of `loc`, and the text of its line.
    pub fn locate(&self, loc: Loc) -> (usize, usize, String) {
        let file = &self.files[loc.file.0];
        let text = file.text.as_str();
        let mut offset = loc.offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let starts = file.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        let line = starts.partition_point(|&start| start <= offset);
        let line_start = starts[line - 1];
        let column = text[line_start..offset].chars().count() + 1;
        let source_line = visible(text[line_start..].lines().next().unwrap_or(""));
        (line, column, source_line)
    }

    /// `file:line:column`, for help texts pointing at another place.
    pub fn describe(&self, loc: Loc) -> String {
        let (line, column, _) = self.locate(loc);
        format!("{}:{line}:{column}", self.path(loc.file).display())
    }

    /// The text of 1-based line `line`, empty past the end.
    pub fn line_text(&self, file: FileId, line: usize) -> String {
        visible(
            self.text(file)
                .lines()
                .nth(line.saturating_sub(1))
                .unwrap_or(""),
        )
    }
}

/// `line` with control characters (a NUL, an escape) shown as their Unicode pictures
/// (`␀`, `␛`), one character for one, so the caret's column still matches.
fn visible(line: &str) -> String {
    line.chars()
        .map(|c| match u32::from(c) {
            n @ 0..=0x1f if c != '\t' => char::from_u32(0x2400 + n).unwrap_or(c),
            0x7f => '\u{2421}',
            _ => c,
        })
        .collect()
}

/// Removes `.` and resolves `..` lexically, so module paths read
/// `modules/web-tier/main.hcl` rather than `environments/prod/../../modules/...`.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                let last_is_normal =
                    matches!(out.components().next_back(), Some(Component::Normal(_)));
                if last_is_normal {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_lines_and_character_columns() {
        let mut map = SourceMap::default();
        let f = map.add("a.hcl".into(), "x = 1\nyé = \"z\"\n".into());
        assert_eq!(
            map.locate(Loc { file: f, offset: 0 }),
            (1, 1, "x = 1".into())
        );
        // "é" is two bytes; the `=` after it is the fourth character.
        assert_eq!(
            map.locate(Loc {
                file: f,
                offset: 10
            }),
            (2, 4, "yé = \"z\"".into())
        );
        // Inside the multi-byte character and past the end: clamped, no panic.
        assert_eq!(map.locate(Loc { file: f, offset: 8 }).0, 2);
        let nul = map.add("b.hcl".into(), "x = \"a\0b\"\n".into());
        assert_eq!(
            map.locate(Loc {
                file: nul,
                offset: 6
            }),
            (1, 7, "x = \"a\u{2400}b\"".into())
        );
        assert_eq!(
            map.locate(Loc {
                file: f,
                offset: 999
            })
            .0,
            3
        );
    }

    #[test]
    fn normalizes_parent_components() {
        assert_eq!(
            normalize(Path::new("env/prod/../../modules/web")),
            PathBuf::from("modules/web")
        );
        assert_eq!(normalize(Path::new("../a/./b")), PathBuf::from("../a/b"));
        assert_eq!(normalize(Path::new("./")), PathBuf::from("."));
    }
}
