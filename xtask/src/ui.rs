//! How xtask talks: the summary on stdout (silenced by `-q`), warnings and errors on stderr,
//! colour only when stderr is a terminal and `NO_COLOR` is unset, and a closed pipe ending the
//! process quietly.

use std::io::IsTerminal;

/// Output settings of one run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ui {
    /// `-q`: no summary.
    pub quiet: bool,
    /// Colour the `error:`/`warning:` prefixes.
    pub color: bool,
}

impl Ui {
    /// Colour when stderr is a terminal, `NO_COLOR` is unset or empty (no-color.org) and `TERM`
    /// is not `dumb`.
    pub fn from_env(quiet: bool) -> Ui {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        Ui { quiet, color: std::io::stderr().is_terminal() && !no_color && !dumb }
    }

    /// A summary line on stdout, unless `-q`.
    pub fn summary(&self, line: impl std::fmt::Display) {
        if !self.quiet {
            println!("{line}");
        }
    }

    /// A note on stderr (what xtask did not repeat, for instance), unless `-q`.
    pub fn note(&self, line: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("{}: {line}", self.paint("note", "1;36"));
        }
    }

    pub fn warn(&self, line: impl std::fmt::Display) {
        eprintln!("{}: {line}", self.paint("warning", "1;33"));
    }

    pub fn error(&self, line: impl std::fmt::Display) {
        eprintln!("{}: {line}", self.paint("error", "1;31"));
    }

    /// `word` in the SGR colour `sgr` when colour is on.
    pub fn paint(&self, word: &str, sgr: &str) -> String {
        if self.color { format!("\x1b[{sgr}m{word}\x1b[0m") } else { word.to_string() }
    }
}

/// Lets a write to a closed pipe (`cargo xtask dns | head -1`) end the process as it ends `cat`
/// or `ls`, by the default SIGPIPE action, instead of the panic "failed printing to stdout"
/// (Rust ignores SIGPIPE by default). One call, first thing in main, before any thread starts.
pub fn end_quietly_on_closed_pipe() {
    #[cfg(unix)]
    {
        // SIGPIPE is 13 and SIG_DFL is 0 on Linux, macOS and the BSDs.
        unsafe extern "C" {
            fn signal(signum: i32, handler: usize) -> usize;
        }
        // SAFETY: restoring a signal's default action, single-threaded, before any output.
        unsafe {
            signal(13, 0);
        }
    }
}
