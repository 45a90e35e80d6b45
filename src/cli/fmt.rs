//! `standby fmt [PATH] [--check]`: rewrite spec files in the canonical layout.

use super::Outcome;
use crate::config::format_source;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// A spec file, or a directory whose `*.hcl` files are formatted (default: the current one)
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Change nothing; list the files that are not formatted and exit 2 if there are any
    #[arg(long)]
    pub check: bool,
}

pub fn run(args: FmtArgs) -> Result<Outcome> {
    let files: Vec<PathBuf> = if args.path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&args.path)
            .with_context(|| format!("cannot read {}", args.path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "hcl") && p.is_file())
            .collect();
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
                    std::fs::write(file, out)
                        .with_context(|| format!("cannot write {}", file.display()))?;
                }
                println!("{}", file.display());
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
