//! Reads the files a spec names: spec files, `--var-file`s and `file(...)` arguments.
//! Only regular files are read, up to a size cap.
//!
//! Invariant: nothing here blocks on a FIFO or reads without end from a device: the type
//! is checked before opening, the open does not wait (`O_NONBLOCK`), the opened handle is
//! checked again (the path may have changed in between), and at most `cap + 1` bytes are
//! read whatever size the file claims.

use std::fmt;
use std::fs::{Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The largest spec file or var file read: real specs are kilobytes; this keeps a
/// mistaken path (a log, a disk image) from filling memory. Documented in the README.
pub const MAX_SPEC_FILE_BYTES: u64 = 8 * 1024 * 1024;
/// The largest file `file(...)` reads: its text ends up in attribute values.
pub const MAX_FILE_FUNCTION_BYTES: u64 = 1024 * 1024;

/// Why a file was not read; displayed as a phrase that follows the file's name.
#[derive(Debug)]
pub enum ReadError {
    NotFound,
    /// A symbolic link whose target does not exist.
    Dangling(PathBuf),
    /// A symbolic link that leads back to itself.
    Loop,
    /// A directory, FIFO, device or socket.
    NotRegular(&'static str),
    TooLarge {
        size: u64,
        cap: u64,
    },
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotFound => write!(f, "does not exist"),
            ReadError::Dangling(target) => write!(
                f,
                "is a symbolic link to `{}`, which does not exist",
                target.display()
            ),
            ReadError::Loop => write!(f, "is a symbolic link that loops back on itself"),
            ReadError::NotRegular(kind) => write!(f, "is {kind}, not a regular file"),
            ReadError::TooLarge { size, cap } => {
                write!(f, "is {size} bytes, over the limit of {}", human_size(*cap))
            }
            ReadError::Io(e) => write!(f, "cannot be read: {}", lower_first(&e.to_string())),
        }
    }
}

/// What a file read by the loader is for, which words its problems use.
#[derive(Debug, Clone, Copy)]
pub enum FileRole {
    /// A `*.hcl` entry of an environment or module directory.
    Spec,
    /// A `--var-file`.
    Var,
}

impl FileRole {
    pub fn noun(self) -> &'static str {
        match self {
            FileRole::Spec => "spec file",
            FileRole::Var => "var file",
        }
    }

    /// How to get past `e`.
    pub fn help(self, e: &ReadError) -> String {
        match (self, e) {
            (FileRole::Spec, ReadError::TooLarge { cap, .. }) => format!(
                "a spec file is at most {}: is this file really part of the spec?",
                human_size(*cap)
            ),
            (FileRole::Var, ReadError::TooLarge { cap, .. }) => {
                format!("a var file is at most {}", human_size(*cap))
            }
            (FileRole::Spec, ReadError::Dangling(_) | ReadError::Loop) => {
                "every `*.hcl` entry of the directory is part of the spec: point the link at a spec file, or remove it".to_string()
            }
            (FileRole::Spec, _) => {
                "every `*.hcl` entry of the directory is part of the spec: make it a readable file, or rename or remove it".to_string()
            }
            (FileRole::Var, _) => {
                "give `--var-file` a readable file of `name = value` lines".to_string()
            }
        }
    }
}

/// The contents of the regular file at `path` (symbolic links followed), at most `cap`
/// bytes long.
pub fn read_regular(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    let before = std::fs::metadata(path).map_err(|e| open_error(path, e))?;
    check(&before, cap)?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| open_error(path, e))?;
    let opened = file.metadata().map_err(ReadError::Io)?;
    check(&opened, cap)?;
    let mut bytes = Vec::with_capacity(usize::try_from(opened.len()).unwrap_or(0));
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    let size = bytes.len() as u64;
    if size > cap {
        return Err(ReadError::TooLarge { size, cap });
    }
    Ok(bytes)
}

fn check(meta: &Metadata, cap: u64) -> Result<(), ReadError> {
    let kind = meta.file_type();
    let not_regular = if kind.is_file() {
        None
    } else if kind.is_dir() {
        Some("a directory")
    } else if kind.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if kind.is_char_device() {
        Some("a character device")
    } else if kind.is_block_device() {
        Some("a block device")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        Some("not a file")
    };
    match not_regular {
        Some(kind) => Err(ReadError::NotRegular(kind)),
        None if meta.len() > cap => Err(ReadError::TooLarge {
            size: meta.len(),
            cap,
        }),
        None => Ok(()),
    }
}

/// Names a failed `metadata` or `open`: a missing target of a link, a loop, or the error.
fn open_error(path: &Path, e: io::Error) -> ReadError {
    if e.raw_os_error() == Some(libc::ELOOP) {
        return ReadError::Loop;
    }
    if e.kind() != io::ErrorKind::NotFound {
        return ReadError::Io(e);
    }
    match std::fs::read_link(path) {
        Ok(target) => ReadError::Dangling(target),
        Err(_) => ReadError::NotFound,
    }
}

/// `8 MiB`, `1.5 KiB`, `12 bytes`.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} {}", UNITS[unit])
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn err(path: &Path) -> String {
        read_regular(path, 16).unwrap_err().to_string()
    }

    #[test]
    fn reads_regular_files_and_links_to_them() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.hcl"), "x").unwrap();
        symlink("a.hcl", dir.path().join("b.hcl")).unwrap();
        assert_eq!(read_regular(&dir.path().join("b.hcl"), 16).unwrap(), b"x");
    }

    #[test]
    fn names_what_is_not_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        symlink("gone.hcl", p("dangling.hcl")).unwrap();
        symlink("loop.hcl", p("loop.hcl")).unwrap();
        std::fs::create_dir(p("dir.hcl")).unwrap();
        let fifo = std::ffi::CString::new(p("fifo.hcl").to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        std::fs::write(p("big.hcl"), [b'x'; 17]).unwrap();

        assert_eq!(err(&p("missing.hcl")), "does not exist");
        assert_eq!(
            err(&p("dangling.hcl")),
            "is a symbolic link to `gone.hcl`, which does not exist"
        );
        assert_eq!(
            err(&p("loop.hcl")),
            "is a symbolic link that loops back on itself"
        );
        assert_eq!(err(&p("dir.hcl")), "is a directory, not a regular file");
        assert_eq!(
            err(&p("fifo.hcl")),
            "is a FIFO (named pipe), not a regular file"
        );
        assert_eq!(
            err(Path::new("/dev/zero")),
            "is a character device, not a regular file"
        );
        assert_eq!(
            err(&p("big.hcl")),
            "is 17 bytes, over the limit of 16 bytes"
        );
        let err = read_regular(&p("big.hcl"), 16).unwrap_err();
        assert_eq!(
            FileRole::Spec.help(&err),
            "a spec file is at most 16 bytes: is this file really part of the spec?"
        );
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(8 * 1024 * 1024), "8 MiB");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3), "3 bytes");
    }
}
