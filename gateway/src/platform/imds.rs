//! A minimal EC2 instance metadata service (IMDSv2) client: resolves `local_addrs = ["auto"]`
//! (the instance's private IPv4, which ipsecgw binds) and `local_id = "auto"` (its public IPv4 /
//! Elastic IP, which Azure's Local Network Gateway knows us by).
//!
//! IMDSv2 is session based: `PUT /latest/api/token` with
//! `X-aws-ec2-metadata-token-ttl-seconds` returns a token that every `GET` must carry in
//! `X-aws-ec2-metadata-token`. The PUT's response is sent with an IP TTL equal to the instance's
//! `http-put-response-hop-limit`; ipsecgw runs on the host (not in a container), so the default
//! hop limit of 1 is enough. A PUT that times out while TCP connected usually means the hop
//! limit is too low for where we run (e.g. in a container: set it to 2).
//!
//! Plain HTTP/1.1 over `std::net::TcpStream`, blocking, with a deadline per request: call it
//! before the tokio runtime starts (or from `spawn_blocking`). The base URL defaults to
//! `http://169.254.169.254` and can be overridden with `AWS_EC2_METADATA_SERVICE_ENDPOINT`
//! (the AWS SDKs' variable), which tests point at a fake server on 127.0.0.1.

use crate::config::{Config, Identity};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// The link-local IMDS address.
pub const DEFAULT_BASE: &str = "http://169.254.169.254";
/// Per-request deadline used by the daemon.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Environment variable overriding [`DEFAULT_BASE`].
pub const ENDPOINT_ENV: &str = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
/// Token lifetime we ask for (we use it for a few requests only).
const TOKEN_TTL_SECS: u32 = 300;
/// Largest response we accept.
const MAX_RESPONSE: usize = 64 * 1024;

/// What [`discover`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImdsAddrs {
    /// `meta-data/local-ipv4`: the primary private address, the one to bind.
    pub private_ipv4: Ipv4Addr,
    /// `meta-data/public-ipv4`: the public IPv4 / Elastic IP; `None` when the instance has none
    /// (IMDS answers 404).
    pub public_ipv4: Option<Ipv4Addr>,
}

/// Why the metadata service could not be used. Messages name the URL and the likely fix.
#[derive(Debug, thiserror::Error)]
pub enum ImdsError {
    #[error("bad IMDS base URL `{0}`: expected http://HOST[:PORT]")]
    BadUrl(String),
    #[error("cannot connect to IMDS at {addr}: {source} (not on EC2, or IMDS disabled: http-endpoint=enabled)")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("IMDS {method} {path} timed out after {timeout:?}{hint}")]
    Timeout {
        method: &'static str,
        path: String,
        timeout: Duration,
        hint: &'static str,
    },
    #[error("IMDS {method} {path}: HTTP {status}{hint}")]
    Status {
        method: &'static str,
        path: String,
        status: u16,
        hint: &'static str,
    },
    #[error("IMDS {method} {path}: {source}")]
    Io {
        method: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("IMDS {path}: malformed response: {what}")]
    Malformed { path: String, what: String },
}

/// The base URL to use: `AWS_EC2_METADATA_SERVICE_ENDPOINT` if set, else [`DEFAULT_BASE`].
pub fn default_base() -> String {
    std::env::var(ENDPOINT_ENV)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_BASE.to_string())
}

/// Fetches an IMDSv2 token, then the private and public IPv4 addresses. `timeout` bounds each
/// request (connect + send + receive).
pub fn discover(base: &str, timeout: Duration) -> Result<ImdsAddrs, ImdsError> {
    let client = Client::new(base, timeout)?;
    let token = client.token()?;
    let private = client
        .get("/latest/meta-data/local-ipv4", &token)?
        .ok_or_else(|| ImdsError::Status {
            method: "GET",
            path: "/latest/meta-data/local-ipv4".into(),
            status: 404,
            hint: "",
        })?;
    let private_ipv4 = parse_v4("/latest/meta-data/local-ipv4", &private)?;
    let public_ipv4 = match client.get("/latest/meta-data/public-ipv4", &token)? {
        Some(s) => Some(parse_v4("/latest/meta-data/public-ipv4", &s)?),
        None => None,
    };
    Ok(ImdsAddrs {
        private_ipv4,
        public_ipv4,
    })
}

/// [`discover`], retried (1 s apart) until it succeeds or `total` has passed: early in boot the
/// instance's network may not be up yet. Returns the last error.
pub fn discover_retrying(
    base: &str,
    per_try: Duration,
    total: Duration,
) -> Result<ImdsAddrs, ImdsError> {
    let end = Instant::now() + total;
    loop {
        match discover(base, per_try) {
            Ok(a) => return Ok(a),
            // A definite HTTP answer (401/403/404...) will not change by retrying.
            Err(e @ (ImdsError::Status { .. } | ImdsError::BadUrl(_))) => return Err(e),
            Err(e) if Instant::now() + Duration::from_secs(1) >= end => return Err(e),
            Err(e) => {
                tracing::debug!(error = %e, "IMDS not reachable yet; retrying");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

/// Whether any connection asks for `auto` (so the daemon must call [`resolve_config`]).
pub fn needs_imds(config: &Config) -> bool {
    config
        .connections
        .iter()
        .any(|c| c.local_id_auto || c.local_addrs_auto)
}

/// Replaces every `auto` in `config` with the discovered addresses: `local_addrs = ["auto"]`
/// becomes the private IPv4, `local_id = "auto"` the public IPv4 (the Elastic IP), or the private
/// IPv4 with a warning when the instance has no public address. Clears the `*_auto` flags.
/// Returns one human-readable line per substitution (log them at info level).
pub fn apply(config: &mut Config, addrs: &ImdsAddrs) -> Vec<String> {
    let mut notes = Vec::new();
    for c in &mut config.connections {
        if c.local_addrs_auto {
            c.local_addrs = vec![IpAddr::V4(addrs.private_ipv4)];
            c.local_addrs_auto = false;
            notes.push(format!(
                "connections.{}.local_addrs = [\"{}\"] (IMDS local-ipv4)",
                c.name, addrs.private_ipv4
            ));
        }
        if c.local_id_auto {
            let (ip, from) = match addrs.public_ipv4 {
                Some(p) => (p, "IMDS public-ipv4"),
                None => {
                    config.warnings.push(format!(
                        "connections.{}.local_id = \"auto\": the instance has no public IPv4 \
                         (attach an Elastic IP); using the private address {}, which the peer \
                         will not expect behind NAT",
                        c.name, addrs.private_ipv4
                    ));
                    (addrs.private_ipv4, "IMDS local-ipv4: no public IPv4")
                }
            };
            c.local_id = Identity::Addr(IpAddr::V4(ip));
            c.local_id_auto = false;
            notes.push(format!(
                "connections.{}.local_id = \"{ip}\" ({from})",
                c.name
            ));
        }
    }
    notes
}

/// What the daemon calls after loading the config (and after each reload): if nothing says
/// `auto`, does nothing and returns `Ok(vec![])`; otherwise discovers the addresses from
/// [`default_base`] (retrying for up to `total`) and [`apply`]s them.
pub fn resolve_config(config: &mut Config, total: Duration) -> Result<Vec<String>, ImdsError> {
    if !needs_imds(config) {
        return Ok(Vec::new());
    }
    let addrs = match remembered() {
        Some(a) => a,
        None => {
            let a = discover_retrying(&default_base(), DEFAULT_TIMEOUT, total)?;
            let _ = RESOLVED.set(a);
            a
        }
    };
    Ok(apply(config, &addrs))
}

/// The addresses found at start-up: an instance's private address and Elastic IP do not
/// change while it runs, so a reload re-applies them without asking the network again.
static RESOLVED: std::sync::OnceLock<ImdsAddrs> = std::sync::OnceLock::new();

/// What [`resolve_config`] found earlier in this process, if it asked.
pub fn remembered() -> Option<ImdsAddrs> {
    RESOLVED.get().copied()
}

fn parse_v4(path: &str, body: &str) -> Result<Ipv4Addr, ImdsError> {
    body.trim().parse().map_err(|_| ImdsError::Malformed {
        path: path.into(),
        what: format!("`{}` is not an IPv4 address", body.trim().escape_debug()),
    })
}

struct Client {
    host: String,
    addr: SocketAddr,
    timeout: Duration,
}

struct Response {
    status: u16,
    body: Vec<u8>,
}

impl Client {
    fn new(base: &str, timeout: Duration) -> Result<Client, ImdsError> {
        let bad = || ImdsError::BadUrl(base.to_string());
        let rest = base.trim().strip_prefix("http://").ok_or_else(bad)?;
        let host = rest.trim_end_matches('/');
        if host.is_empty() || host.contains('/') {
            return Err(bad());
        }
        let with_port = if host.starts_with('[') {
            if host.contains("]:") {
                host.to_string()
            } else {
                format!("{host}:80")
            }
        } else if host.contains(':') {
            host.to_string()
        } else {
            format!("{host}:80")
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|_| bad())?
            .next()
            .ok_or_else(bad)?;
        Ok(Client {
            host: host.to_string(),
            addr,
            timeout,
        })
    }

    fn token(&self) -> Result<String, ImdsError> {
        let path = "/latest/api/token";
        let ttl = format!("X-aws-ec2-metadata-token-ttl-seconds: {TOKEN_TTL_SECS}\r\n");
        let r = self.request("PUT", path, &ttl)?;
        if r.status != 200 {
            return Err(ImdsError::Status {
                method: "PUT",
                path: path.into(),
                status: r.status,
                hint: match r.status {
                    403 => " (IMDS disabled for this instance?)",
                    _ => "",
                },
            });
        }
        let token = String::from_utf8(r.body)
            .ok()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| ImdsError::Malformed {
                path: path.into(),
                what: "empty or non-ASCII token".into(),
            })?;
        Ok(token)
    }

    /// `Ok(None)` for 404 (e.g. no public IPv4).
    fn get(&self, path: &str, token: &str) -> Result<Option<String>, ImdsError> {
        let r = self.request(
            "GET",
            path,
            &format!("X-aws-ec2-metadata-token: {token}\r\n"),
        )?;
        match r.status {
            200 => String::from_utf8(r.body)
                .map(Some)
                .map_err(|_| ImdsError::Malformed {
                    path: path.into(),
                    what: "body is not UTF-8".into(),
                }),
            404 => Ok(None),
            status => Err(ImdsError::Status {
                method: "GET",
                path: path.into(),
                status,
                hint: if status == 401 {
                    " (token rejected)"
                } else {
                    ""
                },
            }),
        }
    }

    fn request(
        &self,
        method: &'static str,
        path: &str,
        headers: &str,
    ) -> Result<Response, ImdsError> {
        let deadline = Instant::now() + self.timeout;
        let timed_out = || ImdsError::Timeout {
            method,
            path: path.into(),
            timeout: self.timeout,
            hint: if method == "PUT" {
                " (if this runs in a container, raise the instance's http-put-response-hop-limit)"
            } else {
                ""
            },
        };
        let io = |source: std::io::Error| {
            if matches!(
                source.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) {
                timed_out()
            } else {
                ImdsError::Io {
                    method,
                    path: path.into(),
                    source,
                }
            }
        };
        let mut s = TcpStream::connect_timeout(&self.addr, self.timeout).map_err(|source| {
            if source.kind() == std::io::ErrorKind::TimedOut {
                timed_out()
            } else {
                ImdsError::Connect {
                    addr: self.addr.to_string(),
                    source,
                }
            }
        })?;
        let _ = s.set_nodelay(true);
        let remaining = |d: Instant| {
            d.checked_duration_since(Instant::now())
                .filter(|r| !r.is_zero())
        };
        s.set_write_timeout(Some(remaining(deadline).ok_or_else(timed_out)?))
            .map_err(io)?;
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: ipsecgw/{}\r\nAccept: */*\r\n{headers}Content-Length: 0\r\nConnection: close\r\n\r\n",
            self.host,
            env!("CARGO_PKG_VERSION"),
        );
        s.write_all(req.as_bytes()).map_err(io)?;
        let mut buf = Vec::with_capacity(1024);
        let mut chunk = [0u8; 4096];
        loop {
            s.set_read_timeout(Some(remaining(deadline).ok_or_else(timed_out)?))
                .map_err(io)?;
            match s.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if buf.len() > MAX_RESPONSE {
                        return Err(ImdsError::Malformed {
                            path: path.into(),
                            what: format!("response larger than {MAX_RESPONSE} bytes"),
                        });
                    }
                    if let Some(r) = parse_response(&buf, path, false)? {
                        return Ok(r);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io(e)),
            }
        }
        parse_response(&buf, path, true)?.ok_or_else(|| ImdsError::Malformed {
            path: path.into(),
            what: "connection closed mid-response".into(),
        })
    }
}

/// Parses a complete response; `Ok(None)` if more bytes are needed (`eof` = no more will come).
fn parse_response(buf: &[u8], path: &str, eof: bool) -> Result<Option<Response>, ImdsError> {
    let bad = |what: &str| ImdsError::Malformed {
        path: path.into(),
        what: what.into(),
    };
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if eof {
            Err(bad("no end of headers"))
        } else {
            Ok(None)
        };
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| bad("headers are not UTF-8"))?;
    let body = &buf[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(bad("no status line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(bad("not HTTP/1.x"));
    }
    let status: u16 = code.parse().map_err(|_| bad("bad status code"))?;
    let mut content_length = None;
    let mut chunked = false;
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("content-length") {
            content_length = Some(v.parse::<usize>().map_err(|_| bad("bad Content-Length"))?);
        } else if k.eq_ignore_ascii_case("transfer-encoding") {
            chunked = v.to_ascii_lowercase().contains("chunked");
        }
    }
    if chunked {
        return match dechunk(body) {
            Some(b) => Ok(Some(Response { status, body: b })),
            None if eof => Err(bad("truncated chunked body")),
            None => Ok(None),
        };
    }
    match content_length {
        Some(n) if body.len() >= n => Ok(Some(Response {
            status,
            body: body[..n].to_vec(),
        })),
        Some(_) if eof => Err(bad("body shorter than Content-Length")),
        Some(_) => Ok(None),
        None if eof => Ok(Some(Response {
            status,
            body: body.to_vec(),
        })),
        None => Ok(None),
    }
}

/// Decodes a complete chunked body; `None` if incomplete or malformed.
fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&b[..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        b = &b[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        if b.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_length_and_chunked() {
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd",
            "/",
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"abcd"[..]));
        assert!(parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab",
            "/",
            false
        )
        .unwrap()
        .is_none());
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n",
            "/",
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.body, b"abcd");
        assert!(parse_response(b"garbage\r\n\r\n", "/", true).is_err());
    }

    #[test]
    fn rejects_bad_urls() {
        for u in [
            "https://169.254.169.254",
            "169.254.169.254",
            "http://",
            "http://a/b",
        ] {
            assert!(matches!(
                Client::new(u, DEFAULT_TIMEOUT),
                Err(ImdsError::BadUrl(_))
            ));
        }
        assert_eq!(
            Client::new("http://127.0.0.1:8080/", DEFAULT_TIMEOUT)
                .unwrap()
                .addr,
            "127.0.0.1:8080".parse().unwrap()
        );
    }
}
