//! Where `mfa listen` gets its events from besides the server: lines typed on stdin (read by a
//! blocking thread) and Ctrl-C / SIGTERM, all on one channel.

use std::io::{BufRead as _, Write};

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Line(String),
    /// stdin is closed (Ctrl-D, or nothing attached).
    Eof,
    /// Ctrl-C or SIGTERM.
    Interrupted,
}

/// Starts the stdin reader and the signal watcher. Call from inside the runtime.
pub fn spawn() -> anyhow::Result<UnboundedReceiver<Input>> {
    let (tx, rx) = unbounded_channel();
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch for Ctrl-C")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch for SIGTERM")?;
    let signals = tx.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        let _ = signals.send(Input::Interrupted);
    });
    // A plain thread, not spawn_blocking: the runtime must not wait for it at exit, and a
    // blocked read of stdin cannot be cancelled.
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let stdin = std::io::stdin();
            let mut stdin = stdin.lock();
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match stdin.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = tx.send(Input::Eof);
                        return;
                    }
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf)
                            .trim_end_matches(['\n', '\r'])
                            .to_owned();
                        if tx.send(Input::Line(line)).is_err() {
                            return;
                        }
                    }
                }
            }
        })
        .context("cannot start the stdin reader")?;
    Ok(rx)
}

/// The terminal: lines, and a prompt that stays open at the end of the last line until the
/// person presses Enter. A line printed while a prompt is open starts on a fresh line.
pub struct Screen<W: Write> {
    out: W,
    prompt_open: bool,
}

impl<W: Write> Screen<W> {
    pub fn new(out: W) -> Self {
        Self {
            out,
            prompt_open: false,
        }
    }

    pub fn line(&mut self, text: &str) {
        self.close_prompt();
        let _ = writeln!(self.out, "{text}");
        let _ = self.out.flush();
    }

    pub fn prompt(&mut self, text: &str) {
        self.close_prompt();
        let _ = write!(self.out, "{text}");
        let _ = self.out.flush();
        self.prompt_open = true;
    }

    /// The person pressed Enter: the terminal's echo is on a fresh line.
    pub fn entered(&mut self) {
        self.prompt_open = false;
    }

    fn close_prompt(&mut self) {
        if self.prompt_open {
            let _ = writeln!(self.out);
            self.prompt_open = false;
        }
    }

    #[cfg(test)]
    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_after_an_open_prompt_start_on_a_new_line() {
        let mut s = Screen::new(Vec::new());
        s.line("a");
        s.prompt("> ");
        s.line("b");
        s.prompt("> ");
        s.entered();
        s.line("c");
        assert_eq!(
            String::from_utf8(s.into_inner()).unwrap(),
            "a\n> \nb\n> c\n"
        );
    }
}
