//! Control socket: tokio server with a test handler, blocking client, and the `ipsecgw` binary
//! talking to it.

use futures::FutureExt;
use gateway::control::{self, protocol::*, Handler};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

fn temp_socket(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ipsecgw-ctl-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("control.sock")
}

fn handler() -> Handler {
    Arc::new(|req: Request| {
        async move {
            match req {
                Request::Status => Response::Status(StatusSnapshot {
                    daemon: DaemonInfo {
                        version: "9.9.9".into(),
                        uptime_secs: 61,
                        fast_path: "batched, no offload".into(),
                        ..Default::default()
                    },
                    tunnels: vec![TunnelStatus {
                        name: "azure".into(),
                        state: TunnelState::Waiting,
                        ..Default::default()
                    }],
                }),
                Request::Initiate { name } if name == "azure" => Response::Ok {
                    message: format!("initiating {name}"),
                },
                Request::Initiate { name } | Request::Terminate { name } => Response::Error {
                    message: format!("no connection named `{name}`"),
                },
                Request::Reload => Response::Ok {
                    message: "reloaded: 1 connection unchanged".into(),
                },
            }
        }
        .boxed()
    })
}

/// Starts the server on a runtime in a background thread.
fn start_server(path: &Path) -> tokio::runtime::Runtime {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt.block_on(async { control::bind(path) }).unwrap();
    rt.spawn(control::serve_listener(listener, handler()));
    rt
}

#[test]
fn client_and_server_exchange_every_request() {
    let path = temp_socket("api");
    let _rt = start_server(&path);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    match control::request(&path, &Request::Status).unwrap() {
        Response::Status(s) => {
            assert_eq!(s.daemon.version, "9.9.9");
            assert_eq!(s.tunnels[0].state, TunnelState::Waiting);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        control::request(
            &path,
            &Request::Initiate {
                name: "azure".into()
            }
        )
        .unwrap(),
        Response::Ok {
            message: "initiating azure".into()
        }
    );
    assert_eq!(
        control::request(
            &path,
            &Request::Terminate {
                name: "nope".into()
            }
        )
        .unwrap(),
        Response::Error {
            message: "no connection named `nope`".into()
        }
    );
}

#[test]
fn server_answers_several_lines_and_rejects_garbage_and_huge_lines() {
    let path = temp_socket("raw");
    let _rt = start_server(&path);
    let mut s = std::os::unix::net::UnixStream::connect(&path).unwrap();
    s.write_all(b"{\"request\":\"reload\"}\nnot json\n")
        .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert_eq!(
        line,
        "{\"response\":\"ok\",\"message\":\"reloaded: 1 connection unchanged\"}\n"
    );
    line.clear();
    r.read_line(&mut line).unwrap();
    assert!(
        line.starts_with("{\"response\":\"error\",\"message\":\"bad request"),
        "{line}"
    );
    // A line over the limit is refused and the connection closed.
    let big = vec![b'x'; control::MAX_REQUEST_LINE + 10];
    let _ = s.write_all(&big);
    line.clear();
    r.read_line(&mut line).unwrap();
    assert!(line.contains("request longer than"), "{line}");
    line.clear();
    assert_eq!(r.read_line(&mut line).unwrap(), 0);
}

#[test]
fn stale_socket_is_replaced_but_live_one_and_plain_files_are_not() {
    let path = temp_socket("stale");
    // A stale socket file left by a dead daemon.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let rt = start_server(&path);
    // Now a live daemon answers there: a second bind must refuse.
    let err = rt.block_on(async { control::bind(&path) }).unwrap_err();
    assert!(
        err.to_string().contains("another ipsecgw is listening"),
        "{err}"
    );
    let file = path.with_file_name("not-a-socket");
    std::fs::write(&file, "x").unwrap();
    let err = rt.block_on(async { control::bind(&file) }).unwrap_err();
    assert!(err.to_string().contains("is not a socket"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

fn ipsecgw(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ipsecgw"))
        .args(args)
        .env_remove("IPSECGW_SOCKET")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn binary_talks_to_the_socket() {
    let path = temp_socket("bin");
    let _rt = start_server(&path);
    let sock = path.to_str().unwrap();
    let (code, out, _) = ipsecgw(&["status", "--socket", sock]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with(
            "ipsecgw 9.9.9, up 1m01s, fast path: batched, no offload\nazure: WAITING\n"
        ),
        "{out}"
    );
    let (code, out, _) = ipsecgw(&["status", "--json", "--socket", sock]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["tunnels"][0]["name"], "azure");
    let (code, out, _) = ipsecgw(&["initiate", "azure", "--socket", sock]);
    assert_eq!((code, out.as_str()), (0, "initiating azure\n"));
    let (code, _, err) = ipsecgw(&["terminate", "nope", "--socket", sock]);
    assert_eq!(code, 1);
    assert!(err.contains("no connection named `nope`"), "{err}");
    let (code, out, _) = ipsecgw(&["reload", "--socket", sock]);
    assert_eq!(
        (code, out.as_str()),
        (0, "reloaded: 1 connection unchanged\n")
    );
}

/// `--json` on every verb that talks to the daemon: one JSON object on stdout, success or not,
/// with the same exit status as the text form.
#[test]
fn every_verb_answers_in_json() {
    let path = temp_socket("json");
    let _rt = start_server(&path);
    let sock = path.to_str().unwrap();
    let parse = |out: &str| -> serde_json::Value {
        serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out:?}"))
    };
    let (code, out, err) = ipsecgw(&["initiate", "azure", "--json", "--socket", sock]);
    assert_eq!(code, 0, "{err}");
    let v = parse(&out);
    assert_eq!(v["ok"], true);
    assert_eq!(v["message"], "initiating azure");
    let (code, out, err) = ipsecgw(&["terminate", "nope", "--json", "--socket", sock]);
    assert_eq!(code, 1);
    assert!(err.is_empty(), "errors go to stdout as JSON: {err}");
    let v = parse(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"], "no connection named `nope`");
    let (code, out, _) = ipsecgw(&["reload", "--json", "--socket", sock]);
    assert_eq!(code, 0);
    let v = parse(&out);
    assert_eq!(v["ok"], true);
    assert_eq!(v["message"], "reloaded: 1 connection unchanged");
    let (code, out, _) = ipsecgw(&["status", "--json", "--socket", sock]);
    assert_eq!(code, 0);
    assert_eq!(parse(&out)["tunnels"][0]["state"], "waiting");
    // No daemon: still one JSON object, exit status 3.
    for verb in [
        &["status", "--json"][..],
        &["initiate", "azure", "--json"],
        &["terminate", "azure", "--json"],
        &["reload", "--json"],
    ] {
        let mut args = verb.to_vec();
        args.extend(["--socket", "/nonexistent/ipsecgw.sock"]);
        let (code, out, _) = ipsecgw(&args);
        assert_eq!(code, 3, "{verb:?}");
        let v = parse(&out);
        assert_eq!(v["ok"], false, "{verb:?}");
        assert!(
            v["error"]
                .as_str()
                .unwrap_or("")
                .contains("is the daemon running?"),
            "{verb:?}: {v}"
        );
    }
}

#[test]
fn binary_reports_a_missing_daemon() {
    let (code, _, err) = ipsecgw(&["status", "--socket", "/nonexistent/ipsecgw.sock"]);
    assert_eq!(code, 3);
    assert!(err.contains("is the daemon running?"), "{err}");
}
