//! The IMDSv2 client against a fake metadata server on 127.0.0.1 (never 169.254.169.254):
//! token PUT then GETs with the token; no token or a wrong token -> 401; 404 for public-ipv4
//! means "no public address"; timeouts are bounded; `auto` in the config is resolved.

use gateway::config;
use gateway::platform::imds::{self, ImdsAddrs, ImdsError};
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "AQAEAFake-Token_0123456789==";

#[derive(Clone)]
struct Fake {
    /// The token the PUT hands out.
    issued: &'static str,
    /// The token GETs must carry.
    accepted: &'static str,
    public: Option<&'static str>,
    /// Every request line with its token header, in order.
    log: Arc<Mutex<Vec<String>>>,
}

impl Fake {
    fn new(public: Option<&'static str>) -> Fake {
        Fake {
            issued: TOKEN,
            accepted: TOKEN,
            public,
            log: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Serves on an ephemeral 127.0.0.1 port; returns the base URL.
    fn start(&self) -> String {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let me = self.clone();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let me = me.clone();
                std::thread::spawn(move || me.serve(s));
            }
        });
        base
    }

    fn serve(&self, s: TcpStream) {
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
            if let Some((k, v)) = h.trim_end().split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let header = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let token = header("x-aws-ec2-metadata-token");
        self.log.lock().unwrap().push(format!(
            "{method} {path} token={}",
            token.as_deref().unwrap_or("-")
        ));
        let (status, body) = match (method, path) {
            ("PUT", "/latest/api/token") => {
                match header("x-aws-ec2-metadata-token-ttl-seconds")
                    .and_then(|v| v.parse::<u32>().ok())
                {
                    Some(1..=21600) => (200, self.issued.to_string()),
                    _ => (400, String::new()),
                }
            }
            ("GET", _) if token.as_deref() != Some(self.accepted) => (401, String::new()),
            ("GET", "/latest/meta-data/local-ipv4") => (200, "172.31.5.10".to_string()),
            ("GET", "/latest/meta-data/public-ipv4") => match self.public {
                Some(p) => (200, p.to_string()),
                None => (404, "<html>404 - Not Found</html>".to_string()),
            },
            ("GET", _) => (404, String::new()),
            _ => (405, String::new()),
        };
        let reason = match status {
            200 => "OK",
            401 => "Unauthorized",
            404 => "Not Found",
            _ => "Error",
        };
        let mut s = s;
        let _ = write!(
            s,
            "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nServer: EC2ws\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
}

fn raw_get(base: &str, path: &str, token: Option<&str>) -> u16 {
    let mut s = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    let t = token
        .map(|t| format!("X-aws-ec2-metadata-token: {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\n{t}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn discovers_private_and_public_with_a_token() {
    let fake = Fake::new(Some("198.51.100.10"));
    let base = fake.start();
    let a = imds::discover(&base, Duration::from_secs(2)).unwrap();
    assert_eq!(
        a,
        ImdsAddrs {
            private_ipv4: Ipv4Addr::new(172, 31, 5, 10),
            public_ipv4: Some(Ipv4Addr::new(198, 51, 100, 10)),
        }
    );
    let log = fake.log.lock().unwrap().clone();
    assert_eq!(
        log,
        vec![
            "PUT /latest/api/token token=-".to_string(),
            format!("GET /latest/meta-data/local-ipv4 token={TOKEN}"),
            format!("GET /latest/meta-data/public-ipv4 token={TOKEN}"),
        ]
    );
}

#[test]
fn fake_server_enforces_imdsv2() {
    let fake = Fake::new(Some("198.51.100.10"));
    let base = fake.start();
    assert_eq!(raw_get(&base, "/latest/meta-data/local-ipv4", None), 401);
    assert_eq!(
        raw_get(&base, "/latest/meta-data/local-ipv4", Some("wrong")),
        401
    );
    assert_eq!(
        raw_get(&base, "/latest/meta-data/local-ipv4", Some(TOKEN)),
        200
    );
}

#[test]
fn wrong_token_is_a_401_error() {
    let mut fake = Fake::new(Some("198.51.100.10"));
    fake.issued = "stale-token";
    let base = fake.start();
    let e = imds::discover(&base, Duration::from_secs(2)).unwrap_err();
    assert!(matches!(e, ImdsError::Status { status: 401, .. }), "{e:?}");
    assert!(e.to_string().contains("401"), "{e}");
    // A definite HTTP answer is not retried.
    let t0 = Instant::now();
    assert!(
        imds::discover_retrying(&base, Duration::from_secs(1), Duration::from_secs(10)).is_err()
    );
    assert!(t0.elapsed() < Duration::from_secs(2));
}

#[test]
fn no_public_ipv4_is_none() {
    let fake = Fake::new(None);
    let base = fake.start();
    let a = imds::discover(&base, Duration::from_secs(2)).unwrap();
    assert_eq!(a.public_ipv4, None);
    assert_eq!(a.private_ipv4, Ipv4Addr::new(172, 31, 5, 10));
}

#[test]
fn silent_server_times_out() {
    // Accepts connections (kernel backlog) but never answers.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let t0 = Instant::now();
    let e = imds::discover(&base, Duration::from_millis(300)).unwrap_err();
    let took = t0.elapsed();
    assert!(
        matches!(e, ImdsError::Timeout { method: "PUT", .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("hop-limit"), "{e}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    drop(l);
}

#[test]
fn nothing_listening_is_a_connect_error() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    let e = imds::discover(&base, Duration::from_secs(1)).unwrap_err();
    assert!(matches!(e, ImdsError::Connect { .. }), "{e:?}");
}

const AUTO_CONFIG: &str = r#"
[connections.azure]
remote_addrs = ["203.0.113.20"]
local_addrs = ["auto"]
local_id = "auto"
psk = "Sup3r-S3cret-Value-XYZZY-42"
[connections.azure.children.vnet]
local_ts = ["172.31.0.0/16"]
remote_ts = ["10.1.0.0/16"]
"#;

#[test]
fn auto_config_is_resolved_from_imds() {
    let mut cfg = config::parse(AUTO_CONFIG, Path::new("/nonexistent")).unwrap();
    assert!(imds::needs_imds(&cfg));
    let fake = Fake::new(Some("198.51.100.10"));
    let base = fake.start();
    let a = imds::discover(&base, Duration::from_secs(2)).unwrap();
    let notes = imds::apply(&mut cfg, &a);
    assert_eq!(notes.len(), 2, "{notes:?}");
    let c = &cfg.connections[0];
    assert_eq!(c.local_addrs, vec![IpAddr::from([172, 31, 5, 10])]);
    assert_eq!(c.local_id.to_string(), "198.51.100.10");
    assert!(!c.local_id_auto && !c.local_addrs_auto);
    assert!(!imds::needs_imds(&cfg));

    // Without a public address the private one is used, with a warning.
    let mut cfg = config::parse(AUTO_CONFIG, Path::new("/nonexistent")).unwrap();
    imds::apply(
        &mut cfg,
        &ImdsAddrs {
            private_ipv4: Ipv4Addr::new(172, 31, 5, 10),
            public_ipv4: None,
        },
    );
    assert_eq!(cfg.connections[0].local_id.to_string(), "172.31.5.10");
    assert!(
        cfg.warnings.iter().any(|w| w.contains("Elastic IP")),
        "{:?}",
        cfg.warnings
    );
}

#[test]
fn resolve_config_uses_the_endpoint_variable_and_skips_when_not_needed() {
    // The only test touching the environment variable.
    let fake = Fake::new(Some("198.51.100.10"));
    let base = fake.start();
    std::env::set_var(imds::ENDPOINT_ENV, &base);
    let mut cfg = config::parse(AUTO_CONFIG, Path::new("/nonexistent")).unwrap();
    let notes = imds::resolve_config(&mut cfg, Duration::from_secs(5)).unwrap();
    assert_eq!(notes.len(), 2);
    assert_eq!(cfg.connections[0].local_id.to_string(), "198.51.100.10");
    // Nothing `auto`: IMDS is not contacted.
    let before = fake.log.lock().unwrap().len();
    let notes = imds::resolve_config(&mut cfg, Duration::from_secs(5)).unwrap();
    assert!(notes.is_empty());
    assert_eq!(fake.log.lock().unwrap().len(), before);
    std::env::remove_var(imds::ENDPOINT_ENV);
}
