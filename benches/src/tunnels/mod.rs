//! The tunnel kinds under test. Each `start` function wires one kind into a fresh
//! [`AzureLab`] and returns a guard that stops its processes (by PID) when dropped; the lab's
//! namespaces are deleted afterwards by the caller, so every kind is torn down completely
//! before the next one starts.

mod boringtun;
mod ipsecgw;
mod plain;
mod strongswan;
mod wg;
mod wireguard_go;

use std::path::PathBuf;

use interop_tests::topology::AzureLab;
use interop_tests::Result;

/// One way of carrying VPC <-> VNet traffic across the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// No tunnel: the inside prefixes routed through the same namespaces (the ceiling).
    Plain,
    /// ipsecgw in `gw` (initiator) and in `azure` (responder).
    Ipsecgw,
    /// ipsecgw in `gw`, strongSwan (Azure's default policy) in `azure`.
    IpsecgwStrongswan,
    /// strongSwan kernel-libipsec on both sides.
    Strongswan,
    /// wireguard-go on both sides.
    WireguardGo,
    /// boringtun-cli on both sides.
    Boringtun,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Plain,
        Kind::Ipsecgw,
        Kind::IpsecgwStrongswan,
        Kind::Strongswan,
        Kind::WireguardGo,
        Kind::Boringtun,
    ];

    /// The name used by `--only`.
    pub fn id(self) -> &'static str {
        match self {
            Kind::Plain => "plain",
            Kind::Ipsecgw => "ipsecgw",
            Kind::IpsecgwStrongswan => "ipsecgw-strongswan",
            Kind::Strongswan => "strongswan",
            Kind::WireguardGo => "wireguard-go",
            Kind::Boringtun => "boringtun",
        }
    }

    /// The row label in the report.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Plain => "plain forwarding (no tunnel)",
            Kind::Ipsecgw => "ipsecgw ↔ ipsecgw",
            Kind::IpsecgwStrongswan => "ipsecgw ↔ strongSwan",
            Kind::Strongswan => "strongSwan ↔ strongSwan",
            Kind::WireguardGo => "wireguard-go ↔ wireguard-go",
            Kind::Boringtun => "boringtun ↔ boringtun",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.id() == s)
    }
}

/// Paths of the tunnel programs that are not on `$PATH`.
#[derive(Debug, Clone)]
pub struct Tools {
    pub ipsecgw: PathBuf,
    pub boringtun: PathBuf,
}

/// A running tunnel (both ends). Dropping it stops its processes.
pub trait Tunnel {
    /// PIDs of the tunnel processes on both sides (for CPU accounting); empty for none.
    fn pids(&self) -> Vec<u32>;
    /// One line on what was negotiated or configured (suite, MTU, threads).
    fn describe(&self) -> String;
    /// Fast-path counters worth a line in the log after the run (ipsecgw: who sent what).
    fn counters(&self) -> Option<String> {
        None
    }
}

/// Brings `kind` up in `lab` (the caller then checks that traffic flows).
pub fn start(kind: Kind, lab: &AzureLab, tools: &Tools) -> Result<Box<dyn Tunnel>> {
    Ok(match kind {
        Kind::Plain => Box::new(plain::start(lab)?),
        Kind::Ipsecgw => Box::new(ipsecgw::start_pair(lab, &tools.ipsecgw)?),
        Kind::IpsecgwStrongswan => Box::new(ipsecgw::start_vs_strongswan(lab, &tools.ipsecgw)?),
        Kind::Strongswan => Box::new(strongswan::start(lab)?),
        Kind::WireguardGo => Box::new(wireguard_go::start(lab)?),
        Kind::Boringtun => Box::new(boringtun::start(lab, &tools.boringtun)?),
    })
}

/// The MTU every tunnel device gets, so all kinds carry the same inside packets (Azure's
/// recommended 1400; kernel-libipsec's `ipsec0` has it fixed).
pub const TUNNEL_MTU: u32 = 1400;
