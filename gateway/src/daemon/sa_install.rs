//! CHILD_SAs in the fast path, kept by SPI: installation, make-before-break rekeying and the
//! grace period of old inbound SAs (RFC 7296 1.3.3 and 2.8).
//!
//! The endpoint's event rules (see `ikev2::Event::ChildSaRekeyed`):
//! * rekey initiator: `ChildSaRekeyed { outbound_now: true }` — new inbound installed and
//!   outbound switched at once;
//! * rekey responder: `ChildSaRekeyed { outbound_now: false }` — new inbound only; outbound
//!   switches at `ChildSaOutboundReady` (when the initiator deleted the old SA, as strongSwan);
//! * `ChildSaDeleted` of the old SA: its outbound SA goes at once, its inbound SA keeps
//!   decrypting for `rekey_grace` (packets sent just before the peer switched) and then goes.

use super::datapath::{AddrRange, InboundPath, InboundTable, OutboundPath, TunnelPath};
use ikev2::proposal::EspSuite;
use ikev2::ChildSa;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One CHILD_SA of a tunnel, as shown in status.
pub struct InstalledChild {
    pub name: String,
    pub inbound_spi: u32,
    pub outbound_spi: u32,
    pub suite: EspSuite,
    pub udp_encap: bool,
    pub installed_at: Instant,
    pub local_ts: Vec<String>,
    pub remote_ts: Vec<String>,
    /// The endpoint was already asked to rekey it (ESP soft limit).
    pub rekey_asked: bool,
}

/// The CHILD_SAs of one tunnel.
#[derive(Default)]
pub struct ChildTable {
    pub children: Vec<InstalledChild>,
    /// Per child name: the outbound SA in use.
    outbound: HashMap<String, Arc<OutboundPath>>,
    /// Outbound SAs of rekeys we answered, by new inbound SPI, until `ChildSaOutboundReady`.
    pending_out: HashMap<u32, Arc<OutboundPath>>,
    /// Live outbound SAs displaced by a newer SA of the same child that was not a rekey of
    /// it (two IKE SAs after simultaneous IKE_SA_INIT each bring one): if the newer one is
    /// deleted (the duplicate IKE SA goes), the child falls back to one of these.
    standby_out: Vec<Arc<OutboundPath>>,
    /// Inbound SPIs to remove at the given time.
    retiring: Vec<(Instant, u32)>,
    /// Order of children in the config (the first is the default outbound path).
    pub order: Vec<String>,
    pub child_rekeys: u64,
}

fn ranges(ts: &[ikev2::wire::TrafficSelector]) -> Vec<AddrRange> {
    ts.iter()
        .map(|t| AddrRange {
            start: t.start,
            end: t.end,
        })
        .collect()
}

fn ts_strings(ts: &[ikev2::wire::TrafficSelector]) -> Vec<String> {
    ts.iter().map(super::status::selector_string).collect()
}

/// Lifetime and replay settings the ESP SAs take from the child's config.
pub struct EspSettings {
    pub replay_window: u32,
    pub life_bytes: Option<u64>,
    pub life_packets: Option<u64>,
    /// The daemon's AES-GCM implementation (`platform::aead_backend`).
    pub gcm_backend: esp::GcmBackend,
}

fn build(
    c: &ChildSa,
    tunnel: usize,
    esp_cfg: &EspSettings,
    now: Instant,
) -> Result<(InboundPath, OutboundPath), String> {
    if !c.udp_encap {
        return Err(
            "the peer negotiated raw ESP (no NAT detected): ipsecgw sends ESP in UDP only; set `encap = true` on the connection"
                .into(),
        );
    }
    let suite =
        esp::Suite::from_transforms(c.suite.encr.0, c.suite.key_bits, c.suite.integ.map(|i| i.0))
            .map_err(|e| format!("ESP suite {}: {e}", c.suite))?;
    let mut cfg = esp::SaConfig::new(c.inbound_spi, suite);
    cfg.esn = c.suite.esn;
    cfg.replay_window = esp_cfg.replay_window;
    cfg.gcm_backend = esp_cfg.gcm_backend;
    cfg.lifetime = esp::Lifetime {
        soft_bytes: esp_cfg.life_bytes.map(|b| b / 10 * 9),
        hard_bytes: esp_cfg.life_bytes,
        soft_packets: esp_cfg.life_packets.map(|p| p / 10 * 9),
        hard_packets: esp_cfg.life_packets,
    };
    let inbound = esp::InboundSa::new(&cfg, c.inbound_keys.as_bytes())
        .map_err(|e| format!("inbound SA: {e}"))?;
    let mut out_cfg = cfg;
    out_cfg.spi = c.outbound_spi;
    let outbound = esp::OutboundSa::new(&out_cfg, c.outbound_keys.as_bytes())
        .map_err(|e| format!("outbound SA: {e}"))?;
    Ok((
        InboundPath {
            sa: inbound,
            tunnel,
            remote_ts: ranges(&c.remote_ts),
            local_ts: ranges(&c.local_ts),
            installed_at: now,
        },
        OutboundPath {
            sa: outbound,
            remote: c.remote,
            installed_at: now,
            child: c.child.clone(),
            local_ts: ranges(&c.local_ts),
            remote_ts: ranges(&c.remote_ts),
        },
    ))
}

impl ChildTable {
    /// An empty table for children configured in this order.
    pub fn new(order: Vec<String>) -> Self {
        ChildTable {
            order,
            ..Default::default()
        }
    }

    fn record(&mut self, c: &ChildSa, now: Instant) {
        self.children.push(InstalledChild {
            name: c.child.clone(),
            inbound_spi: c.inbound_spi,
            outbound_spi: c.outbound_spi,
            suite: c.suite,
            udp_encap: c.udp_encap,
            installed_at: now,
            local_ts: ts_strings(&c.local_ts),
            remote_ts: ts_strings(&c.remote_ts),
            rekey_asked: false,
        });
    }

    /// A new CHILD_SA (IKE_AUTH or CREATE_CHILD_SA): inbound first, then outbound.
    pub fn established(
        &mut self,
        path: &TunnelPath,
        table: &InboundTable,
        c: &ChildSa,
        esp_cfg: &EspSettings,
        now: Instant,
    ) -> Result<(), String> {
        let (inbound, outbound) = build(c, path.index, esp_cfg, now)?;
        table.insert(inbound);
        if let Some(prev) = self.outbound.insert(c.child.clone(), Arc::new(outbound)) {
            self.standby_out.push(prev);
        }
        self.record(c, now);
        self.publish(path);
        Ok(())
    }

    /// A rekey produced `new`: its inbound SA goes in now; its outbound SA now or later.
    pub fn rekeyed(
        &mut self,
        path: &TunnelPath,
        table: &InboundTable,
        new: &ChildSa,
        outbound_now: bool,
        esp_cfg: &EspSettings,
        now: Instant,
    ) -> Result<(), String> {
        let (inbound, outbound) = build(new, path.index, esp_cfg, now)?;
        table.insert(inbound);
        let outbound = Arc::new(outbound);
        if outbound_now {
            self.switch_outbound(path, outbound);
        } else {
            self.pending_out.insert(new.inbound_spi, outbound);
        }
        self.record(new, now);
        self.child_rekeys += 1;
        Ok(())
    }

    /// The peer installed our new SA (it deleted the old one): switch outbound.
    pub fn outbound_ready(&mut self, path: &TunnelPath, inbound_spi: u32) {
        if let Some(out) = self.pending_out.remove(&inbound_spi) {
            self.switch_outbound(path, out);
        }
    }

    fn switch_outbound(&mut self, path: &TunnelPath, out: Arc<OutboundPath>) {
        if let Some(old) = self.outbound.insert(out.child.clone(), out) {
            retire_out_stats(path, &old);
        }
        self.publish(path);
    }

    /// The SA pair is gone: outbound at once, inbound after `grace`.
    pub fn deleted(
        &mut self,
        path: &TunnelPath,
        inbound_spi: u32,
        outbound_spi: u32,
        grace: Duration,
        now: Instant,
    ) {
        self.children.retain(|c| c.inbound_spi != inbound_spi);
        self.pending_out.remove(&inbound_spi);
        let name = self
            .outbound
            .iter()
            .find(|(_, o)| o.sa.spi() == outbound_spi)
            .map(|(n, _)| n.clone());
        if let Some(i) = self
            .standby_out
            .iter()
            .position(|o| o.sa.spi() == outbound_spi)
        {
            let old = self.standby_out.remove(i);
            retire_out_stats(path, &old);
        }
        if let Some(name) = name {
            if let Some(old) = self.outbound.remove(&name) {
                retire_out_stats(path, &old);
            }
            // Another live SA of the same child (the surviving IKE SA's) takes over.
            if let Some(i) = self.standby_out.iter().rposition(|o| o.child == name) {
                let next = self.standby_out.remove(i);
                self.outbound.insert(name, next);
            }
            self.publish(path);
        }
        self.retiring.push((now + grace, inbound_spi));
    }

    /// Everything goes (tunnel down or removed): no grace, the peer is gone.
    pub fn clear(&mut self, path: &TunnelPath, table: &InboundTable) {
        for c in std::mem::take(&mut self.children) {
            retire_in(path, table, c.inbound_spi);
        }
        for (_, spi) in std::mem::take(&mut self.retiring) {
            retire_in(path, table, spi);
        }
        self.pending_out.clear();
        for (_, old) in std::mem::take(&mut self.outbound) {
            retire_out_stats(path, &old);
        }
        for old in std::mem::take(&mut self.standby_out) {
            retire_out_stats(path, &old);
        }
        self.publish(path);
    }

    /// Removes inbound SAs whose grace period ended.
    pub fn expire(&mut self, path: &TunnelPath, table: &InboundTable, now: Instant) {
        let (due, keep): (Vec<_>, Vec<_>) = self.retiring.drain(..).partition(|(at, _)| *at <= now);
        self.retiring = keep;
        for (_, spi) in due {
            // A SPI still listed as a live child was re-used by a later install: keep it.
            if !self.children.iter().any(|c| c.inbound_spi == spi) {
                retire_in(path, table, spi);
            }
        }
    }

    pub fn next_expiry(&self) -> Option<Instant> {
        self.retiring.iter().map(|(at, _)| *at).min()
    }

    /// The current outbound SA of a child.
    pub fn outbound_of(&self, name: &str) -> Option<&Arc<OutboundPath>> {
        self.outbound.get(name)
    }

    /// Makes the current outbound SAs visible to the fast path: the default path is the
    /// first configured child's SA (route-based tunnels have exactly one); every child's SA is
    /// listed for selector-based choice.
    fn publish(&self, path: &TunnelPath) {
        let mut all: Vec<Arc<OutboundPath>> = Vec::new();
        for name in &self.order {
            if let Some(o) = self.outbound.get(name) {
                all.push(o.clone());
            }
        }
        for (name, o) in &self.outbound {
            if !self.order.contains(name) {
                all.push(o.clone());
            }
        }
        path.outbound.store(all.first().cloned());
        path.outbound_children.store(Arc::new(all));
    }
}

fn retire_out_stats(path: &TunnelPath, old: &OutboundPath) {
    let s = old.sa.stats();
    path.retired_out.0.fetch_add(s.bytes, Ordering::Relaxed);
    path.retired_out.1.fetch_add(s.packets, Ordering::Relaxed);
}

fn retire_in(path: &TunnelPath, table: &InboundTable, spi: u32) {
    if let Some(old) = table.remove(spi) {
        let s = old.sa.stats();
        path.retired_in.0.fetch_add(s.bytes, Ordering::Relaxed);
        path.retired_in.1.fetch_add(s.packets, Ordering::Relaxed);
    }
}
