//! Collects diagnostics while the loader keeps going, so one run reports every problem.
//!
//! Invariant: diagnostics come out sorted by file, line and column, without duplicates
//! (a module instantiated twice must not report the same mistake twice).

use super::diagnostic::{Diagnostic, Diagnostics};
use super::source::{FileId, Loc, SourceMap};
use std::path::PathBuf;

#[derive(Debug, Default)]
pub struct Reporter {
    pub sources: SourceMap,
    diags: Vec<Diagnostic>,
}

impl Reporter {
    pub fn error(&mut self, loc: Loc, message: impl Into<String>, help: impl Into<Option<String>>) {
        let (line, column, source_line) = self.sources.locate(loc);
        self.push(
            loc.file,
            line,
            column,
            source_line,
            message.into(),
            help.into(),
        );
    }

    /// For positions known as line and column only (hcl-edit's parse errors).
    pub fn error_at_line(
        &mut self,
        file: FileId,
        line: usize,
        column: usize,
        message: impl Into<String>,
        help: impl Into<Option<String>>,
    ) {
        let source_line = self.sources.line_text(file, line);
        self.push(file, line, column, source_line, message.into(), help.into());
    }

    fn push(
        &mut self,
        file: FileId,
        line: usize,
        column: usize,
        source_line: String,
        message: String,
        help: Option<String>,
    ) {
        let file: PathBuf = self.sources.path(file).to_path_buf();
        self.diags.push(Diagnostic {
            file,
            line,
            column: column.max(1),
            message,
            source_line,
            help,
        });
    }

    pub fn has_errors(&self) -> bool {
        !self.diags.is_empty()
    }

    pub fn finish(mut self) -> Diagnostics {
        self.diags
            .sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        self.diags.dedup();
        Diagnostics(self.diags)
    }
}

/// The candidate closest to `name`, when close enough to be a plausible typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, c)| *score > 0.8 && *c != name)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// `did you mean `x`` when a candidate is close, else `fallback`.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    fallback: impl Into<String>,
) -> String {
    match closest(name, candidates) {
        Some(c) => format!("did you mean `{c}`?"),
        None => fallback.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(closest("imgae", ["image", "port", "size"]), Some("image"));
        assert_eq!(closest("zzz", ["image", "port"]), None);
    }
}
