//! Tokio control-socket server: owner-only socket, one JSON request per line, bounded lines.

use super::protocol::{Request, Response};
use super::MAX_REQUEST_LINE;
use futures::future::BoxFuture;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// Answers one request. Called concurrently for concurrent clients.
pub type Handler = Arc<dyn Fn(Request) -> BoxFuture<'static, Response> + Send + Sync>;

/// A client that sends nothing for this long is disconnected.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Creates the socket at `path` with mode 0600: creates the parent directory if needed,
/// replaces a stale socket file, and refuses if another daemon answers there or the path is
/// not a socket.
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("another ipsecgw is listening on {}", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} exists and is not a socket: remove it or choose another control_socket",
                    path.display()
                ),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Binds `path` (see [`bind`]) and serves forever.
pub async fn serve(path: &Path, handler: Handler) -> io::Result<()> {
    serve_listener(bind(path)?, handler).await
}

/// Serves on an already bound listener forever; each client in its own task.
pub async fn serve_listener(listener: UnixListener, handler: Handler) -> io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let handler = handler.clone();
        tokio::spawn(async move {
            if let Err(e) = client(stream, handler).await {
                tracing::debug!("control client: {e}");
            }
        });
    }
}

async fn client(stream: UnixStream, handler: Handler) -> io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = Vec::new();
    loop {
        line.clear();
        let mut limited = (&mut reader).take(MAX_REQUEST_LINE as u64 + 1);
        let n = match tokio::time::timeout(IDLE_TIMEOUT, limited.read_until(b'\n', &mut line)).await
        {
            Ok(r) => r?,
            Err(_) => return Ok(()),
        };
        if n == 0 {
            return Ok(());
        }
        if line.last() != Some(&b'\n') {
            if line.len() > MAX_REQUEST_LINE {
                let resp = Response::Error {
                    message: format!("request longer than {MAX_REQUEST_LINE} bytes"),
                };
                send(&mut write, &resp).await?;
            }
            return Ok(());
        }
        let resp = match serde_json::from_slice::<Request>(&line) {
            Ok(req) => handler(req).await,
            Err(e) => Response::Error {
                message: format!("bad request: {e}"),
            },
        };
        send(&mut write, &resp).await?;
    }
}

async fn send(write: &mut tokio::net::unix::OwnedWriteHalf, resp: &Response) -> io::Result<()> {
    let mut out = serde_json::to_vec(resp).map_err(io::Error::other)?;
    out.push(b'\n');
    write.write_all(&out).await
}
