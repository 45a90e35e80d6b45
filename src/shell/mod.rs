//! The one place standby writes what people and machines read (as cargo's `Shell`): the
//! plan and reports on stdout, status lines, warnings and progress on stderr, JSON
//! documents on stdout, with the colour choice made once when the Shell is made.
//!
//! Invariant: nothing else in src/ prints (no `println!`/`eprintln!` outside this module);
//! a `Shell` over buffers (`Shell::buffered`) captures exactly what a command prints, so a
//! test can snapshot it in-process.

pub mod progress;

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, PoisonError};

type Stream = Mutex<Box<dyn Write + Send>>;

/// Where output goes; cheap to clone (the progress renderer and the Ctrl-C listener hold one).
#[derive(Clone)]
pub struct Shell {
    inner: Arc<Inner>,
}

struct Inner {
    out: Stream,
    err: Stream,
    /// Whether stderr is a terminal a progress bar can redraw.
    err_is_term: bool,
}

/// What a buffered `Shell` captured.
#[derive(Clone, Default)]
pub struct Captured {
    out: Arc<Mutex<Vec<u8>>>,
    err: Arc<Mutex<Vec<u8>>>,
}

impl Captured {
    /// What went to stdout.
    pub fn stdout(&self) -> String {
        text(&self.out)
    }

    /// What went to stderr.
    pub fn stderr(&self) -> String {
        text(&self.err)
    }
}

fn text(buf: &Mutex<Vec<u8>>) -> String {
    String::from_utf8_lossy(&buf.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
}

/// A writer appending to a shared buffer.
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let mut buf = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shell {
    /// The process's stdout and stderr. Colours stay on only where the stream is a terminal
    /// (console's choice, which also reads CLICOLOR) and neither `--no-color` nor a
    /// non-empty NO_COLOR asks otherwise.
    pub fn stdio(no_color: bool) -> Shell {
        if no_color || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            console::set_colors_enabled(false);
            console::set_colors_enabled_stderr(false);
        }
        Shell::over(
            Box::new(std::io::stdout()),
            Box::new(std::io::stderr()),
            std::io::stderr().is_terminal(),
        )
    }

    /// A Shell writing into memory, without colours or progress bars, and what it captured.
    pub fn buffered() -> (Shell, Captured) {
        console::set_colors_enabled(false);
        console::set_colors_enabled_stderr(false);
        let captured = Captured::default();
        let shell = Shell::over(
            Box::new(Buffer(captured.out.clone())),
            Box::new(Buffer(captured.err.clone())),
            false,
        );
        (shell, captured)
    }

    fn over(out: Box<dyn Write + Send>, err: Box<dyn Write + Send>, err_is_term: bool) -> Shell {
        Shell {
            inner: Arc::new(Inner {
                out: Mutex::new(out),
                err: Mutex::new(err),
                err_is_term,
            }),
        }
    }

    /// Text for stdout, as it is (the plan, reports, listings).
    pub fn out(&self, text: &str) {
        write(&self.inner.out, text.as_bytes());
    }

    /// One line on stdout.
    pub fn out_line(&self, line: &str) {
        self.out(&format!("{line}\n"));
    }

    /// A JSON (or other machine-read) document on stdout, ended by a newline.
    pub fn document(&self, doc: &str) {
        self.out_line(doc);
    }

    /// Text for stderr, as it is (the plan or a summary when stdout carries a document).
    pub fn err(&self, text: &str) {
        write(&self.inner.err, text.as_bytes());
    }

    /// A status line on stderr ("Apply cancelled: nothing changed.").
    pub fn status(&self, line: &str) {
        self.err(&format!("{line}\n"));
    }

    /// `warning: message` on stderr.
    pub fn warn(&self, message: &str) {
        self.status(&format!("{} {message}", warning_prefix()));
    }

    /// `error: message` on stderr.
    pub fn error(&self, message: &str) {
        self.status(&format!("{} {message}", error_prefix()));
    }

    /// Asks `question` on stderr, for an answer read from stdin (see `cli::confirm`).
    pub fn prompt(&self, question: &str) {
        self.err(&format!("{question}? Only 'yes' is accepted: "));
    }

    /// Where a progress bar draws: stderr when it is a terminal, nowhere otherwise (events
    /// are then plain status lines).
    pub fn progress_target(&self) -> indicatif::ProgressDrawTarget {
        if self.inner.err_is_term {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        }
    }
}

/// Writes and flushes; a closed pipe (`standby plan | head`) is not an error worth a panic.
fn write(stream: &Stream, data: &[u8]) {
    let mut w = stream.lock().unwrap_or_else(PoisonError::into_inner);
    let _ = w.write_all(data);
    let _ = w.flush();
}

/// `error:` in bold red where stderr shows colours.
pub fn error_prefix() -> String {
    console::style("error:")
        .red()
        .bold()
        .for_stderr()
        .to_string()
}

/// `warning:` in bold yellow where stderr shows colours.
pub fn warning_prefix() -> String {
    console::style("warning:")
        .yellow()
        .bold()
        .for_stderr()
        .to_string()
}
