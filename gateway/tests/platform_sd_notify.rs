//! sd_notify helpers: the datagrams systemd would receive, the watchdog interval, and no-ops
//! outside systemd. One test, because it changes process-wide environment variables.

use gateway::platform::sd_notify;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

fn recv(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).expect("a notification");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn notifications_and_watchdog() {
    // Not under systemd: nothing happens, nothing fails.
    std::env::remove_var("NOTIFY_SOCKET");
    std::env::remove_var("WATCHDOG_USEC");
    std::env::remove_var("WATCHDOG_PID");
    sd_notify::ready("x");
    sd_notify::watchdog();
    assert_eq!(sd_notify::watchdog_interval(), None);

    let dir = std::env::temp_dir().join(format!("ipsecgw-sdnotify-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    std::env::set_var("NOTIFY_SOCKET", &path);

    sd_notify::ready("1/1 tunnels established, 1 CHILD_SA");
    assert_eq!(
        recv(&sock),
        "READY=1\nSTATUS=1/1 tunnels established, 1 CHILD_SA\n"
    );
    sd_notify::status("0/1 tunnels established, 0 CHILD_SAs");
    assert_eq!(recv(&sock), "STATUS=0/1 tunnels established, 0 CHILD_SAs\n");
    sd_notify::watchdog();
    assert_eq!(recv(&sock), "WATCHDOG=1\n");
    sd_notify::reloading();
    let r = recv(&sock);
    assert!(r.starts_with("RELOADING=1\n"), "{r}");
    assert!(r.contains("MONOTONIC_USEC="), "{r}");
    sd_notify::stopping();
    assert_eq!(recv(&sock), "STOPPING=1\nSTATUS=stopping\n");

    std::env::set_var("WATCHDOG_USEC", "30000000");
    std::env::set_var("WATCHDOG_PID", std::process::id().to_string());
    assert_eq!(
        sd_notify::watchdog_interval(),
        Some(Duration::from_secs(15))
    );
    // Meant for another process (e.g. inherited): ignored.
    std::env::set_var("WATCHDOG_PID", "1");
    assert_eq!(sd_notify::watchdog_interval(), None);

    std::env::remove_var("NOTIFY_SOCKET");
    std::env::remove_var("WATCHDOG_USEC");
    std::env::remove_var("WATCHDOG_PID");
    let _ = std::fs::remove_dir_all(&dir);
}
