//! Writing the files standby hands to people and machines besides the state: saved plans
//! (`plan --out`), drill reports and drift reports (`drift --out`).
//!
//! Invariant: a reader of the path sees the previous file or the complete new one, never a
//! part of it, and the new file is readable by its owner only (mode 0600): plans and
//! reports name every resource of an environment. The state has the same guarantees.

use anyhow::{Context, Result};
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Writes `bytes` to `path` atomically with mode 0600: a temporary file in the same
/// directory (so the rename stays on one file system), flushed to disk, renamed over
/// `path`, then the directory flushed so the rename itself survives a crash. `what`
/// names the file in errors, such as "the plan".
pub fn write_private(path: &Path, bytes: &[u8], what: &str) -> Result<()> {
    let shown = path.display();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("cannot write {what} to {shown}: it names no file"))?;
    // tempfile creates the file with mode 0600 and a random name: concurrent writers of
    // the same path each rename a whole file of their own.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .suffix(".tmp")
        .permissions(fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
        .with_context(|| {
            format!(
                "cannot write {what} to {shown}: cannot create a file in {}",
                dir.display()
            )
        })?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {what} to {shown}"))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {what} to {shown}"))?;
    // Best effort: some file systems cannot sync a directory; the data is already safe.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_whole_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"new", "the plan").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["plan.json"], "no temporary file is left behind");
    }

    #[test]
    fn names_the_file_when_it_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let err =
            write_private(&dir.path().join("missing/plan.json"), b"x", "the plan").unwrap_err();
        let text = format!("{err:#}");
        assert!(text.starts_with("cannot write the plan to "), "{text}");
        assert!(text.contains("missing/plan.json"), "{text}");
    }
}
