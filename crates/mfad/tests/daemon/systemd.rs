//! Running under systemd: Type=notify readiness on $NOTIFY_SOCKET, and `systemctl reload`
//! (SIGHUP) that never ends mfad, with or without `[tls]`.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use crate::{config_dir, mfad};

fn kill(signal: &str, pid: u32) {
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn tells_notify_socket_ready_once_it_serves_and_stopping_on_sigterm() {
    let (dir, config) = config_dir("");
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut command = mfad();
    command
        .args(["--config", config.to_str().unwrap(), "serve"])
        .env("NOTIFY_SOCKET", &socket_path);
    let mut daemon = mfa_testkit::Daemon::start_command(command);
    let mut buf = [0u8; 256];
    let n = socket.recv(&mut buf).unwrap();
    assert_eq!(String::from_utf8_lossy(&buf[..n]).trim(), "READY=1");
    // Ready means served: a request answers at once.
    let addr = daemon.base.strip_prefix("http://").unwrap().to_owned();
    std::net::TcpStream::connect(addr).unwrap();

    // systemctl reload without [tls]: logged, and mfad goes on.
    kill("-HUP", daemon.pid());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !daemon.log().iter().any(|l| l.contains("nothing to reload")) {
        assert!(std::time::Instant::now() < deadline, "{:?}", daemon.log());
        std::thread::yield_now();
    }
    assert!(daemon.is_running(), "SIGHUP ended mfad: {:?}", daemon.log());

    kill("-TERM", daemon.pid());
    let n = socket
        .recv(&mut buf)
        .unwrap_or_else(|e| panic!("{e}: {:?}", daemon.log()));
    assert_eq!(String::from_utf8_lossy(&buf[..n]).trim(), "STOPPING=1");
    let exit = daemon.wait_exit(Duration::from_secs(10));
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}");
}
