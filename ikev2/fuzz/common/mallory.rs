//! "Mallory": a scripted IKEv2 initiator built from the crate's public codec and crypto, which
//! holds the IKE SA keys, so hostile tests and fuzz targets can send well-protected messages
//! with arbitrary content to a real responder `Endpoint`.
//!
//! Shared (via `#[path]`) by the fuzz targets in ikev2/fuzz and the tests in ikev2/tests.
#![allow(dead_code)]

use ikev2::crypto::{
    derive_ike_sa_keys, psk_auth, IkeCipher, IkeSaKeys, KeyExchange, Prf, Random, Secret,
    SeededRandom, SkProtector,
};
use ikev2::proposal::{parse_esp, parse_ike};
use ikev2::wire::{
    self, AuthMethod, AuthPayload, DhGroup, Encrypted, ExchangeType, Flags, Header, KePayload,
    Message, Payload, PayloadType, SaPayload, TrafficSelector, TsType,
};
use ikev2::{Endpoint, Event, Identity, PeerConfig, PeerId, PeerStatus, Transmit};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

pub const PSK: &str = "hostile-lab-psk";
/// Mallory's (the legitimate initiator's) address.
pub const M_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
/// The responder's address.
pub const R_ADDR: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 20);
pub const IKE: &str = "aes128gcm16-prfsha256-curve25519";
pub const IKE_CBC: &str = "aes256-sha256-ecp256";
pub const ESP: &str = "aes256gcm16";

pub fn m_sock() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(M_ADDR), 500)
}
pub fn r_sock() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(R_ADDR), 500)
}

pub fn ts_any() -> TrafficSelector {
    TrafficSelector {
        ts_type: TsType::IPV4_ADDR_RANGE,
        ip_protocol: 0,
        start_port: 0,
        end_port: 65535,
        start: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        end: IpAddr::V4(Ipv4Addr::BROADCAST),
    }
}

/// The responder under attack: an Endpoint configured for Mallory's address, its clock, and
/// everything it sent and emitted.
pub struct Responder {
    pub ep: Endpoint,
    pub peer: PeerId,
    pub now: Instant,
    pub events: Vec<Event>,
    pub sent: Vec<Transmit>,
}

impl Responder {
    pub fn new(seed: u64, ike: &str) -> Responder {
        Self::with_ike(seed, &[ike])
    }

    /// A responder accepting any of the IKE proposals `ike` (strongSwan syntax).
    pub fn with_ike(seed: u64, ike: &[&str]) -> Responder {
        Self::with_ike_role(seed, ike, ikev2::Role::Responder)
    }

    /// Same, with the peer's role set to `role` (`Both` lets the endpoint initiate too).
    pub fn with_ike_role(seed: u64, ike: &[&str], role: ikev2::Role) -> Responder {
        let mut ep = Endpoint::new(Box::new(SeededRandom::new(seed)));
        let mut cfg = PeerConfig::new(
            "mallory",
            m_sock(),
            Identity::Ipv4(R_ADDR),
            Secret::new(PSK.as_bytes().to_vec()),
        );
        cfg.ike_proposals = ike
            .iter()
            .map(|s| parse_ike(s).expect("ike proposal"))
            .collect();
        cfg.esp_proposals = vec![parse_esp(ESP).expect("esp proposal")];
        cfg.local_ts = vec![ts_any()];
        cfg.remote_ts = vec![ts_any()];
        cfg.role = role;
        let peer = ep.add_peer(cfg);
        Responder {
            ep,
            peer,
            now: Instant::now(),
            events: vec![],
            sent: vec![],
        }
    }

    /// Deliver `bytes` from `from` to the responder's port-500 address; returns what it sent.
    pub fn deliver_from(&mut self, from: SocketAddr, bytes: &[u8]) -> Vec<Transmit> {
        let local = SocketAddr::new(IpAddr::V4(R_ADDR), from.port());
        self.ep.handle(self.now, local, from, bytes);
        self.collect()
    }

    pub fn deliver(&mut self, bytes: &[u8]) -> Vec<Transmit> {
        self.deliver_from(m_sock(), bytes)
    }

    /// Drain transmits and events.
    pub fn collect(&mut self) -> Vec<Transmit> {
        let mut out = vec![];
        while let Some(t) = self.ep.poll_transmit() {
            self.sent.push(t.clone());
            out.push(t);
        }
        while let Some(e) = self.ep.poll_event() {
            self.events.push(e);
        }
        out
    }

    /// Advance the clock by `d`, running timers; returns what was sent.
    pub fn advance(&mut self, d: Duration) -> Vec<Transmit> {
        self.now += d;
        if self.ep.poll_timeout().is_some_and(|t| t <= self.now) {
            self.ep.handle_timeout(self.now);
        }
        self.collect()
    }

    pub fn status(&self) -> PeerStatus {
        self.ep
            .status()
            .into_iter()
            .find(|s| s.peer == self.peer)
            .expect("configured peer")
    }

    pub fn failures(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Failed { .. }))
            .count()
    }
}

/// Mallory's half of an IKE SA.
pub struct Mallory {
    pub rng: SeededRandom,
    pub spi_i: u64,
    pub spi_r: u64,
    pub ni: Vec<u8>,
    pub nr: Vec<u8>,
    pub kx: KeyExchange,
    pub init_request: Vec<u8>,
    pub keys: Option<IkeSaKeys>,
    pub out: Option<SkProtector>,
    pub inb: Option<SkProtector>,
    pub prf: Prf,
    pub cipher: IkeCipher,
    pub integ: Option<ikev2::crypto::Integ>,
    pub ike: &'static str,
    /// Next message ID for our requests.
    pub next_id: u32,
    /// Our inbound ESP SPI in IKE_AUTH.
    pub esp_spi: u32,
}

fn suite_of(ike: &str) -> (Prf, IkeCipher, Option<ikev2::crypto::Integ>, DhGroup) {
    if ike == IKE_CBC {
        (
            Prf::HmacSha256,
            IkeCipher::AesCbc { key_bits: 256 },
            Some(ikev2::crypto::Integ::HmacSha256_128),
            DhGroup::ECP256,
        )
    } else {
        (
            Prf::HmacSha256,
            IkeCipher::AesGcm16 { key_bits: 128 },
            None,
            DhGroup::CURVE25519,
        )
    }
}

pub fn header(spi_i: u64, spi_r: u64, exchange: ExchangeType, flags: u8, id: u32) -> Header {
    Header {
        spi_i,
        spi_r,
        next_payload: PayloadType::NONE,
        version: Header::VERSION_2_0,
        exchange,
        flags: Flags(flags),
        message_id: id,
        length: 0,
    }
}

impl Mallory {
    pub fn new(seed: u64, ike: &'static str) -> Mallory {
        let mut rng = SeededRandom::new(seed ^ 0x6d61_6c6c);
        let (prf, cipher, integ, group) = suite_of(ike);
        let kx = KeyExchange::generate(group, &mut rng).expect("keygen");
        let mut spi = [0u8; 8];
        rng.fill(&mut spi);
        let mut ni = vec![0u8; 32];
        rng.fill(&mut ni);
        Mallory {
            rng,
            spi_i: u64::from_be_bytes(spi) | 1,
            spi_r: 0,
            ni,
            nr: vec![],
            kx,
            init_request: vec![],
            keys: None,
            out: None,
            inb: None,
            prf,
            cipher,
            integ,
            ike,
            next_id: 1,
            esp_spi: 0xc0ff_ee01,
        }
    }

    /// The IKE_SA_INIT request payloads (SA, KE, Ni), before any tampering.
    pub fn init_payloads(&self) -> Vec<Payload> {
        vec![
            Payload::Sa(SaPayload {
                proposals: vec![parse_ike(self.ike).expect("ike").to_wire(1)],
            }),
            Payload::Ke(KePayload {
                group: self.kx.group(),
                data: self.kx.public_value().to_vec(),
            }),
            Payload::Nonce(self.ni.clone()),
        ]
    }

    pub fn init_request_with(&self, payloads: Vec<Payload>) -> Vec<u8> {
        wire::encode_message(&Message {
            header: header(
                self.spi_i,
                0,
                ExchangeType::IKE_SA_INIT,
                Flags::INITIATOR,
                0,
            ),
            payloads,
        })
    }

    /// Run IKE_SA_INIT against `r`; true if keys were derived.
    pub fn ike_sa_init(&mut self, r: &mut Responder) -> bool {
        let mut payloads = self.init_payloads();
        let req = self.init_request_with(payloads.clone());
        self.init_request = req.clone();
        let replies = r.deliver(&req);
        let Some(resp) = replies.first() else {
            return false;
        };
        // RFC 7296 2.6: a responder under load answers N(COOKIE); retry with it first.
        if let Some(cookie) = wire::decode_message(&resp.payload).ok().and_then(|m| {
            m.payloads.iter().find_map(|p| match p {
                Payload::Notify(n) if n.kind == ikev2::wire::NotifyType::COOKIE => {
                    Some(n.data.clone())
                }
                _ => None,
            })
        }) {
            payloads.insert(
                0,
                Payload::Notify(ikev2::wire::Notify {
                    protocol: ikev2::wire::ProtocolId(0),
                    spi: vec![],
                    kind: ikev2::wire::NotifyType::COOKIE,
                    data: cookie,
                }),
            );
            let req = self.init_request_with(payloads);
            self.init_request = req.clone();
            let replies = r.deliver(&req);
            let Some(resp) = replies.first() else {
                return false;
            };
            return self.accept_init_response(&resp.payload);
        }
        self.accept_init_response(&resp.payload)
    }

    pub fn accept_init_response(&mut self, bytes: &[u8]) -> bool {
        let Ok(m) = wire::decode_message(bytes) else {
            return false;
        };
        let mut ker = None;
        let mut nr = None;
        for p in &m.payloads {
            match p {
                Payload::Ke(k) => ker = Some(k.data.clone()),
                Payload::Nonce(n) => nr = Some(n.clone()),
                _ => {}
            }
        }
        let (Some(ker), Some(nr)) = (ker, nr) else {
            return false;
        };
        let Ok(g_ir) = self.kx.agree(&ker) else {
            return false;
        };
        self.spi_r = m.header.spi_r;
        let Ok(keys) = derive_ike_sa_keys(
            self.prf,
            self.cipher,
            self.integ,
            &self.ni,
            &nr,
            g_ir.as_bytes(),
            self.spi_i,
            self.spi_r,
        ) else {
            return false;
        };
        self.nr = nr;
        let prot = |e: &Secret, a: &Secret| {
            SkProtector::new(
                self.cipher,
                e.as_bytes(),
                self.integ,
                self.integ.map(|_| a.as_bytes()),
            )
            .expect("protector")
        };
        self.out = Some(prot(&keys.sk_ei, &keys.sk_ai));
        self.inb = Some(prot(&keys.sk_er, &keys.sk_ar));
        self.keys = Some(keys);
        true
    }

    /// IDi, AUTH (computed with `psk`), SA, TSi, TSr.
    pub fn auth_payloads(&self, psk: &str) -> Vec<Payload> {
        let idi = Identity::Ipv4(M_ADDR).to_wire();
        let keys = self.keys.as_ref().expect("keys");
        let auth = psk_auth(
            self.prf,
            psk.as_bytes(),
            &self.init_request,
            &self.nr,
            keys.sk_pi.as_bytes(),
            &wire::id_payload_body(&idi),
        );
        vec![
            Payload::IdI(idi),
            Payload::Auth(AuthPayload {
                method: AuthMethod::SHARED_KEY_MIC,
                data: auth,
            }),
            Payload::Sa(SaPayload {
                proposals: vec![parse_esp(ESP).expect("esp").to_wire(1, self.esp_spi, false)],
            }),
            Payload::TsI(vec![ts_any()]),
            Payload::TsR(vec![ts_any()]),
        ]
    }

    /// Seal raw inner bytes (`first_inner` names the first inner payload) into a message.
    pub fn seal_raw(
        &mut self,
        exchange: ExchangeType,
        flags: u8,
        id: u32,
        first_inner: PayloadType,
        plain: &[u8],
    ) -> Vec<u8> {
        let out = self.out.as_ref().expect("keys");
        let body = vec![0; out.sealed_len(plain.len())];
        let msg = Message {
            header: header(self.spi_i, self.spi_r, exchange, flags, id),
            payloads: vec![Payload::Sk(Encrypted { first_inner, body })],
        };
        let mut bytes = wire::encode_message(&msg);
        out.seal(&mut self.rng, &mut bytes, plain).expect("seal");
        bytes
    }

    pub fn seal(
        &mut self,
        exchange: ExchangeType,
        flags: u8,
        id: u32,
        payloads: &[Payload],
    ) -> Vec<u8> {
        let (first, plain) = wire::encode_payloads(payloads);
        self.seal_raw(exchange, flags, id, first, &plain)
    }

    /// A request from the original initiator with the next message ID.
    pub fn request(&mut self, exchange: ExchangeType, payloads: &[Payload]) -> Vec<u8> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.seal(exchange, Flags::INITIATOR, id, payloads)
    }

    /// Open a message the responder sent us; its header and inner payloads.
    pub fn open(&self, bytes: &[u8]) -> Option<(Header, Vec<Payload>)> {
        let m = wire::decode_message(bytes).ok()?;
        let Some(Payload::Sk(sk)) = m.payloads.last() else {
            return Some((m.header, m.payloads));
        };
        let plain = self.inb.as_ref()?.open(bytes, sk.body.len()).ok()?;
        let inner = wire::decode_payloads(sk.first_inner, &plain).ok()?;
        Some((m.header, inner))
    }

    /// IKE_SA_INIT and IKE_AUTH with the right PSK; true when the responder established.
    pub fn establish(&mut self, r: &mut Responder) -> bool {
        if !self.ike_sa_init(r) {
            return false;
        }
        let p = self.auth_payloads(PSK);
        let req = self.request(ExchangeType::IKE_AUTH, &p);
        let replies = r.deliver(&req);
        replies.iter().any(|t| {
            self.open(&t.payload).is_some_and(|(h, p)| {
                h.flags.response() && p.iter().any(|x| matches!(x, Payload::Auth(_)))
            })
        })
    }

    /// IKE_AUTH only (after [`Mallory::ike_sa_init`]), with the next message ID.
    pub fn establish_auth_only(&mut self, r: &mut Responder) -> bool {
        let p = self.auth_payloads(PSK);
        let req = self.request(ExchangeType::IKE_AUTH, &p);
        let replies = r.deliver(&req);
        replies.iter().any(|t| {
            self.open(&t.payload).is_some_and(|(h, p)| {
                h.flags.response() && p.iter().any(|x| matches!(x, Payload::Auth(_)))
            })
        })
    }

    /// Liveness both ways: our empty INFORMATIONAL is answered, and the responder's is
    /// answered by us (it must then have no retransmission pending). True if both worked.
    pub fn liveness(&mut self, r: &mut Responder) -> bool {
        let req = self.request(ExchangeType::INFORMATIONAL, &[]);
        let id = self.next_id - 1;
        let ok_ours = r.deliver(&req).iter().any(|t| {
            self.open(&t.payload).is_some_and(|(h, _)| {
                h.flags.response()
                    && h.message_id == id
                    && h.exchange == ExchangeType::INFORMATIONAL
            })
        });
        let peer = r.peer;
        let now = r.now;
        if !r.ep.check_liveness(now, peer) {
            return false;
        }
        let theirs = r.collect();
        let Some(t) = theirs.first() else {
            return false;
        };
        let Some((h, _)) = self.open(&t.payload) else {
            return false;
        };
        if h.flags.response() || h.exchange != ExchangeType::INFORMATIONAL {
            return false;
        }
        let resp = self.seal(
            ExchangeType::INFORMATIONAL,
            Flags::RESPONSE | Flags::INITIATOR,
            h.message_id,
            &[],
        );
        r.deliver(&resp);
        // Answered: nothing is retransmitted later.
        let later = r.advance(Duration::from_secs(3));
        ok_ours && later.is_empty() && r.status().phase == ikev2::SaPhase::Established
    }
}

/// One raw payload for [`raw_chain`]: type, critical bit, body (without the generic header).
pub type RawPayload = (u8, bool, Vec<u8>);

/// Encode raw payloads as a chain: (type of the first, bytes). Lengths are correct unless a
/// caller edits the bytes afterwards.
pub fn raw_chain(payloads: &[RawPayload]) -> (PayloadType, Vec<u8>) {
    let mut out = vec![];
    for (i, (_, crit, body)) in payloads.iter().enumerate() {
        let next = payloads.get(i + 1).map_or(0, |p| p.0);
        out.push(next);
        out.push(if *crit { 0x80 } else { 0 });
        out.extend_from_slice(&((4 + body.len()) as u16).to_be_bytes());
        out.extend_from_slice(body);
    }
    (PayloadType(payloads.first().map_or(0, |p| p.0)), out)
}

/// A whole plaintext message from a header and raw payloads (length fields computed).
pub fn raw_message(h: Header, payloads: &[RawPayload]) -> Vec<u8> {
    let (first, body) = raw_chain(payloads);
    let mut v = Vec::with_capacity(28 + body.len());
    v.extend_from_slice(&h.spi_i.to_be_bytes());
    v.extend_from_slice(&h.spi_r.to_be_bytes());
    v.push(first.0);
    v.push(h.version);
    v.push(h.exchange.0);
    v.push(h.flags.0);
    v.extend_from_slice(&h.message_id.to_be_bytes());
    v.extend_from_slice(&((28 + body.len()) as u32).to_be_bytes());
    v.extend_from_slice(&body);
    v
}

/// Body of a payload as the codec encodes it (for building raw chains from typed payloads).
pub fn body_of(p: &Payload) -> (u8, Vec<u8>) {
    let (first, bytes) = wire::encode_payloads(std::slice::from_ref(p));
    (first.0, bytes[4..].to_vec())
}
