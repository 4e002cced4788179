//! The control socket: newline-delimited JSON over a Unix socket. One request per line, one
//! response line per request. Used by `ipsecgw status|initiate|terminate|reload`.

pub mod client;
pub mod protocol;
pub mod server;

pub use client::{request, ControlError};
pub use protocol::{
    ChildSaStatus, DaemonInfo, IkeSaStatus, Request, Response, StatusSnapshot, TrafficTotals,
    TunnelState, TunnelStatus,
};
pub use server::{bind, serve, serve_listener, Handler};

/// Longest request line the server accepts (bytes, without the newline).
pub const MAX_REQUEST_LINE: usize = 64 * 1024;
/// Longest response line the client accepts.
pub const MAX_RESPONSE_LINE: usize = 16 * 1024 * 1024;
