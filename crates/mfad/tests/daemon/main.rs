//! Runs the real `mfad` binary on 127.0.0.1 with a throwaway config.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod check_config;
mod serve;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn mfad() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mfad"))
}

/// A temp dir with an mfad.toml whose data lives in it, listening on a free port.
pub fn config_dir(extra: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mfad.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n{extra}",
        dir.path().join("data").display()
    );
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// A running mfad, killed on drop.
pub struct Daemon {
    child: Child,
    pub base: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts mfad and waits for its "ready" log line, which names the bound address.
pub fn start(config: &Path) -> Daemon {
    let mut child = mfad()
        .args(["--config", config.to_str().unwrap(), "serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) else {
            if let Some(status) = child.try_wait().unwrap() {
                let _ = child.wait();
                panic!("mfad exited early with {status}");
            }
            continue;
        };
        if let Some(rest) = line.split("listen=").nth(1) {
            let addr = rest.split_whitespace().next().unwrap();
            return Daemon {
                child,
                base: format!("http://{addr}"),
            };
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("mfad did not report ready within 30 s");
}
