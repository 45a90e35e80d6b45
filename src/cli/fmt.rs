//! `standby fmt [PATH] [--check] [--diff] [--recursive]`: rewrite spec files in the
//! canonical layout.

use super::Outcome;
use crate::config::format_source;
use crate::ops::Context;
use anyhow::{bail, Context as _, Result};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// A spec file, or a directory whose `*.hcl` files are formatted (default: the current one)
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Change nothing; list the files that are not formatted and exit 2 if there are any
    #[arg(long)]
    pub check: bool,
    /// Also show each change as a unified diff
    #[arg(long)]
    pub diff: bool,
    /// Also format the directories inside PATH (hidden ones are skipped)
    #[arg(long)]
    pub recursive: bool,
}

pub fn run(args: FmtArgs, cx: &Context) -> Result<Outcome> {
    let files = if args.path.is_dir() {
        let mut files = Vec::new();
        spec_files(&args.path, args.recursive, &mut files)?;
        files.sort();
        files
    } else {
        vec![args.path.clone()]
    };
    let mut unformatted = Vec::new();
    let mut errors = Vec::new();
    for file in &files {
        let src = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        match format_source(&src) {
            Ok(out) if out == src => {}
            Ok(out) => {
                if !args.check {
                    std::fs::write(file, &out)
                        .with_context(|| format!("cannot write {}", file.display()))?;
                }
                cx.shell.out_line(&file.display().to_string());
                if args.diff {
                    cx.shell.out(&diff(file, &src, &out));
                }
                unformatted.push(file);
            }
            Err(e) => errors.push(format!("{}: {e}", file.display())),
        }
    }
    if !errors.is_empty() {
        bail!(
            "{} (run `standby validate` for the details)",
            errors.join("; ")
        );
    }
    Ok(if args.check && !unformatted.is_empty() {
        Outcome::ChangesPresent
    } else {
        Outcome::Success
    })
}

/// The `*.hcl` files of `dir`, and with `recursive` those of its directories too.
fn spec_files(dir: &Path, recursive: bool, files: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot read {}", dir.display()))?
            .path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if path.is_dir() && recursive && !hidden {
            spec_files(&path, recursive, files)?;
        } else if path.is_file() && path.extension().is_some_and(|x| x == "hcl") {
            files.push(path);
        }
    }
    Ok(())
}

/// A unified diff from `before` to `after`, headed `old/FILE` and `new/FILE`.
pub fn diff(file: &Path, before: &str, after: &str) -> String {
    let name = file.display().to_string();
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("old/{name}"), &format!("new/{name}"))
        .to_string()
}
