//! Blocking control-socket client for the CLI.

use super::protocol::{Request, Response};
use super::MAX_RESPONSE_LINE;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long the CLI waits for the daemon.
pub const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("cannot connect to {}: {source}{}", path.display(), connect_hint(source))]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("control socket {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("control socket {}: the daemon sent an invalid response: {reason}", path.display())]
    Protocol { path: PathBuf, reason: String },
}

fn connect_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
            " (is the daemon running? start it with `ipsecgw run --config FILE`, or pass --socket)"
        }
        std::io::ErrorKind::PermissionDenied => " (the socket is root-only: run with sudo)",
        _ => "",
    }
}

/// Sends one request and waits for its response.
pub fn request(socket: &Path, req: &Request) -> Result<Response, ControlError> {
    let io = |source| ControlError::Io {
        path: socket.to_path_buf(),
        source,
    };
    let mut stream = UnixStream::connect(socket).map_err(|source| ControlError::Connect {
        path: socket.to_path_buf(),
        source,
    })?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
    let mut line = serde_json::to_vec(req).expect("requests serialize");
    line.push(b'\n');
    stream.write_all(&line).map_err(io)?;
    let mut reader = BufReader::new(stream).take(MAX_RESPONSE_LINE as u64 + 1);
    let mut buf = Vec::new();
    reader.read_until(b'\n', &mut buf).map_err(io)?;
    if buf.last() != Some(&b'\n') {
        let reason = if buf.len() > MAX_RESPONSE_LINE {
            "response too long".to_string()
        } else {
            "connection closed before a complete response".to_string()
        };
        return Err(ControlError::Protocol {
            path: socket.to_path_buf(),
            reason,
        });
    }
    serde_json::from_slice(&buf).map_err(|e| ControlError::Protocol {
        path: socket.to_path_buf(),
        reason: e.to_string(),
    })
}
