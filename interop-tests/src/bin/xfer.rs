//! TCP transfer helper for the interop harness (run inside a namespace with `ip netns exec`).
//!
//! `xfer recv ADDR:PORT`: accepts one connection, reads to EOF, prints
//! `received bytes=N sha256=HEX`, sends that line back and exits.
//! `xfer send ADDR:PORT BYTES [SEED]`: sends BYTES pseudo-random bytes, prints
//! `sent bytes=N sha256=HEX`, then the receiver's line as `peer ...`.
//! Prints `listening` once the receiver is bound (the harness's readiness check).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::ExitCode;

use ring::digest::{Context, SHA256};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// xorshift64*: cheap, deterministic, incompressible enough for a transfer check.
fn fill(state: &mut u64, buf: &mut [u8]) {
    for chunk in buf.chunks_mut(8) {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        let v = state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

fn recv(addr: &str) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    println!("listening {addr}");
    std::io::stdout().flush()?;
    let (mut s, _) = listener.accept()?;
    let mut ctx = Context::new(&SHA256);
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
        total += n as u64;
    }
    let line = format!(
        "received bytes={total} sha256={}",
        hex(ctx.finish().as_ref())
    );
    println!("{line}");
    s.write_all(format!("{line}\n").as_bytes())?;
    s.shutdown(Shutdown::Write)
}

fn send(addr: &str, bytes: u64, seed: u64) -> std::io::Result<()> {
    let mut s = TcpStream::connect(addr)?;
    let mut ctx = Context::new(&SHA256);
    let mut state = seed | 1;
    let mut buf = vec![0u8; 1 << 16];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        fill(&mut state, &mut buf[..n]);
        ctx.update(&buf[..n]);
        s.write_all(&buf[..n])?;
        left -= n as u64;
    }
    s.shutdown(Shutdown::Write)?;
    println!("sent bytes={bytes} sha256={}", hex(ctx.finish().as_ref()));
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    println!("peer {}", reply.trim());
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let res = match args.get(1).map(String::as_str) {
        Some("recv") if args.len() == 3 => recv(&args[2]),
        Some("send") if args.len() >= 4 => {
            let bytes = args[3].parse().unwrap_or(0);
            let seed = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1);
            send(&args[2], bytes, seed)
        }
        _ => {
            eprintln!("usage: xfer recv ADDR:PORT | xfer send ADDR:PORT BYTES [SEED]");
            return ExitCode::from(2);
        }
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xfer: {e}");
            ExitCode::FAILURE
        }
    }
}
