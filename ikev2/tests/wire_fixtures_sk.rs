//! The committed strongSwan captures (tests/fixtures/strongswan/*/, see its README) opened with
//! the keys strongSwan logged (`keys.txt`):
//!
//! * a real-world known-answer test of the key derivation: SKEYSEED and SK_d/ai/ar/ei/er/pi/pr
//!   from g^ir, the nonces and the SPIs (RFC 7296 2.14), both CHILD_SAs' KEYMAT (2.17, with
//!   the rekey's nonces and its PFS g^ir when there is one), and the PSK AUTH values (2.15);
//! * every SK payload (IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL, both directions) verifies and
//!   decrypts with SK_e/SK_a of its sender, and the inner payload chain decodes and re-encodes
//!   to the same plaintext, byte for byte; sealed again with the captured IV it gives the
//!   captured message back.

use ikev2::crypto::{
    child_keymat, derive_ike_sa_keys, psk_auth, IkeCipher, IkeSaKeys, Integ, Prf, Random,
    SkProtector,
};
use ikev2::wire::{
    decode_message, decode_payloads, encode_payloads, id_payload_body, ExchangeType, Message,
    Payload, PayloadType, ProtocolId,
};
use std::collections::HashMap;
use std::path::PathBuf;

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length: {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// One fixture folder: its messages in capture order and its `keys.txt`.
struct Capture {
    name: &'static str,
    messages: Vec<Vec<u8>>,
    keys: HashMap<String, String>,
}

impl Capture {
    fn load(name: &'static str) -> Capture {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/strongswan")
            .join(name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "bin"))
            .collect();
        files.sort();
        assert_eq!(files.len(), 10, "{name}: ten captured messages");
        let messages = files
            .iter()
            .map(|f| std::fs::read(f).expect("read"))
            .collect();
        let text = std::fs::read_to_string(dir.join("keys.txt")).expect("keys.txt");
        let keys = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Capture {
            name,
            messages,
            keys,
        }
    }

    fn text(&self, key: &str) -> &str {
        self.keys
            .get(key)
            .unwrap_or_else(|| panic!("{}: no {key} in keys.txt", self.name))
    }

    fn bytes(&self, key: &str) -> Vec<u8> {
        hex(self.text(key))
    }

    fn u64(&self, key: &str) -> u64 {
        u64::from_str_radix(self.text(key), 16).expect("SPI")
    }

    /// The IKE SA's algorithms, from the proposal strongSwan logged.
    fn suite(&self) -> (Prf, IkeCipher, Option<Integ>) {
        match self.text("ike_proposal") {
            "aes256-sha1-modp1024" => (
                Prf::HmacSha1,
                IkeCipher::AesCbc { key_bits: 256 },
                Some(Integ::HmacSha1_96),
            ),
            "aes256gcm16-prfsha384-ecp384" => {
                (Prf::HmacSha384, IkeCipher::AesGcm16 { key_bits: 256 }, None)
            }
            other => panic!("{}: no suite mapping for {other}", self.name),
        }
    }

    fn ike_keys(&self) -> IkeSaKeys {
        let (prf, cipher, integ) = self.suite();
        derive_ike_sa_keys(
            prf,
            cipher,
            integ,
            &self.bytes("ni"),
            &self.bytes("nr"),
            &self.bytes("g_ir"),
            self.u64("spi_i"),
            self.u64("spi_r"),
        )
        .expect("derive IKE SA keys")
    }

    /// Protectors for messages from the initiator and from the responder.
    fn protectors(&self) -> (SkProtector, SkProtector) {
        let (_, cipher, integ) = self.suite();
        let k = self.ike_keys();
        let ai = integ.map(|_| k.sk_ai.as_bytes());
        let ar = integ.map(|_| k.sk_ar.as_bytes());
        (
            SkProtector::new(cipher, k.sk_ei.as_bytes(), integ, ai).expect("SK_ei"),
            SkProtector::new(cipher, k.sk_er.as_bytes(), integ, ar).expect("SK_er"),
        )
    }

    /// Message `i` (0-based) decoded, and its SK payload opened with its sender's keys.
    fn open(&self, i: usize) -> (Message, PayloadType, Vec<u8>) {
        let bytes = &self.messages[i];
        let msg = decode_message(bytes).unwrap_or_else(|e| panic!("{} #{i}: {e}", self.name));
        let Some(Payload::Sk(sk)) = msg.payloads.last() else {
            panic!("{} #{i}: no SK payload", self.name);
        };
        let (from_i, from_r) = self.protectors();
        let key = if msg.header.flags.initiator() {
            from_i
        } else {
            from_r
        };
        let plain = key
            .open(bytes, sk.body.len())
            .unwrap_or_else(|e| panic!("{} #{i}: {e}", self.name));
        (msg.clone(), sk.first_inner, plain.to_vec())
    }

    /// The inner payloads of message `i`.
    fn inner(&self, i: usize) -> Vec<Payload> {
        let (_, first, plain) = self.open(i);
        decode_payloads(first, &plain).unwrap_or_else(|e| panic!("{} #{i}: {e}", self.name))
    }
}

const CAPTURES: [&str; 2] = ["azure-default", "gcm-ecp384"];

fn nonce(payloads: &[Payload]) -> Vec<u8> {
    payloads
        .iter()
        .find_map(|p| match p {
            Payload::Nonce(n) => Some(n.clone()),
            _ => None,
        })
        .expect("a Nonce payload")
}

fn esp_spi(payloads: &[Payload]) -> Vec<u8> {
    payloads
        .iter()
        .find_map(|p| match p {
            Payload::Sa(sa) => sa.proposals.first().map(|p| p.spi.clone()),
            _ => None,
        })
        .expect("an SA payload with a proposal")
}

/// The payload types of a chain, for readable assertions.
fn kinds(payloads: &[Payload]) -> Vec<&'static str> {
    payloads
        .iter()
        .map(|p| match p {
            Payload::Sa(_) => "SA",
            Payload::Ke(_) => "KE",
            Payload::IdI(_) => "IDi",
            Payload::IdR(_) => "IDr",
            Payload::Auth(_) => "AUTH",
            Payload::Nonce(_) => "N(once)",
            Payload::Notify(_) => "N",
            Payload::Delete(_) => "D",
            Payload::TsI(_) => "TSi",
            Payload::TsR(_) => "TSr",
            Payload::CertReq(_) => "CERTREQ",
            Payload::Cert(_) => "CERT",
            Payload::VendorId(_) => "V",
            Payload::Cp(_) => "CP",
            Payload::Sk(_) | Payload::Skf(_) => "SK",
            Payload::Unknown { .. } => "?",
        })
        .collect()
}

#[test]
fn strongswan_keys_txt_is_a_key_derivation_kat() {
    for name in CAPTURES {
        let c = Capture::load(name);
        // The logged SPIs and nonces are the ones on the wire.
        let init_req = decode_message(&c.messages[0]).expect("IKE_SA_INIT request");
        let init_resp = decode_message(&c.messages[1]).expect("IKE_SA_INIT response");
        assert_eq!(init_resp.header.exchange, ExchangeType::IKE_SA_INIT);
        assert_eq!(init_resp.header.spi_i, c.u64("spi_i"), "{name}");
        assert_eq!(init_resp.header.spi_r, c.u64("spi_r"), "{name}");
        assert_eq!(nonce(&init_req.payloads), c.bytes("ni"), "{name}");
        assert_eq!(nonce(&init_resp.payloads), c.bytes("nr"), "{name}");

        // SKEYSEED = prf(Ni | Nr, g^ir) (RFC 7296 2.14).
        let (prf, _, _) = c.suite();
        let ni_nr = [c.bytes("ni"), c.bytes("nr")].concat();
        assert_eq!(
            prf.compute(&ni_nr, &[&c.bytes("g_ir")]).as_bytes(),
            &c.bytes("skeyseed")[..],
            "{name}: SKEYSEED"
        );
        // {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni|Nr|SPIi|SPIr).
        let k = c.ike_keys();
        for (label, got) in [
            ("sk_d", &k.sk_d),
            ("sk_ai", &k.sk_ai),
            ("sk_ar", &k.sk_ar),
            ("sk_ei", &k.sk_ei),
            ("sk_er", &k.sk_er),
            ("sk_pi", &k.sk_pi),
            ("sk_pr", &k.sk_pr),
        ] {
            assert_eq!(got.as_bytes(), &c.bytes(label)[..], "{name}: {label}");
        }

        // AUTH (RFC 7296 2.15) of both sides, recomputed from the PSK, the IKE_SA_INIT
        // messages, the peer's nonce, SK_pi/SK_pr and the ID payload as sent.
        let psk = c.text("psk").as_bytes().to_vec();
        let auth_req = c.inner(2);
        let auth_resp = c.inner(3);
        for (payloads, init_msg, peer_nonce, sk_p, who) in [
            (
                &auth_req,
                &c.messages[0],
                c.bytes("nr"),
                &k.sk_pi,
                "initiator",
            ),
            (
                &auth_resp,
                &c.messages[1],
                c.bytes("ni"),
                &k.sk_pr,
                "responder",
            ),
        ] {
            let id = payloads
                .iter()
                .find_map(|p| match p {
                    Payload::IdI(id) | Payload::IdR(id) => Some(id),
                    _ => None,
                })
                .expect("ID payload");
            let auth = payloads
                .iter()
                .find_map(|p| match p {
                    Payload::Auth(a) => Some(a),
                    _ => None,
                })
                .expect("AUTH payload");
            let ip = c.text(&format!("{who}_id"));
            assert_eq!(
                id.data,
                ip.parse::<std::net::Ipv4Addr>().expect("IPv4 ID").octets(),
                "{name}: {who} ID"
            );
            let expect = psk_auth(
                prf,
                &psk,
                init_msg,
                &peer_nonce,
                sk_p.as_bytes(),
                &id_payload_body(id),
            );
            assert_eq!(auth.data, expect, "{name}: {who} AUTH");
        }

        // CHILD_SA KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr) (RFC 7296 2.17), i->r keys
        // first. ESP is AES-GCM-16 with 256-bit keys: 32 bytes of key and 4 of salt, no
        // integrity key. The first CHILD_SA uses the IKE_SA_INIT nonces, the rekeyed one
        // the CREATE_CHILD_SA nonces (and the PFS g^ir when logged).
        assert!(c.text("esp_proposal").starts_with("aes256gcm16"), "{name}");
        let rekey_req = c.inner(4);
        let rekey_resp = c.inner(5);
        let pfs = c.keys.get("child2.pfs_g_ir").map(|h| hex(h));
        assert_eq!(
            pfs.is_some(),
            rekey_req.iter().any(|p| matches!(p, Payload::Ke(_))),
            "{name}: PFS g^ir logged exactly when the rekey carries KE"
        );
        for (child, g_ir, ni, nr) in [
            ("child1", None, c.bytes("ni"), c.bytes("nr")),
            (
                "child2",
                pfs.as_deref(),
                nonce(&rekey_req),
                nonce(&rekey_resp),
            ),
        ] {
            let keymat = child_keymat(prf, k.sk_d.as_bytes(), g_ir, &ni, &nr, 72).expect("KEYMAT");
            let (i2r, r2i) = keymat.as_bytes().split_at(36);
            assert_eq!(
                i2r,
                &c.bytes(&format!("{child}.encr_i"))[..],
                "{name}: {child} i->r"
            );
            assert_eq!(
                r2i,
                &c.bytes(&format!("{child}.encr_r"))[..],
                "{name}: {child} r->i"
            );
        }

        // CHILD SPIs: each side's SA payload carries its inbound SPI (RFC 7296 3.3.1).
        for (child, req, resp) in [
            ("child1", &auth_req, &auth_resp),
            ("child2", &rekey_req, &rekey_resp),
        ] {
            assert_eq!(esp_spi(req), c.bytes(&format!("{child}.spi_r2i")), "{name}");
            assert_eq!(
                esp_spi(resp),
                c.bytes(&format!("{child}.spi_i2r")),
                "{name}"
            );
        }
    }
}

/// Replays fixed bytes as the "random" IV source, to re-seal a captured message.
struct Fixed(Vec<u8>);

impl Random for Fixed {
    fn fill(&mut self, out: &mut [u8]) {
        assert!(
            out.len() <= self.0.len(),
            "more randomness than the captured IV"
        );
        let rest = self.0.split_off(out.len());
        out.copy_from_slice(&self.0);
        self.0 = rest;
    }
}

#[test]
fn strongswan_sk_payloads_decrypt_and_inner_chains_reencode_byte_identical() {
    let (mut opened, mut resealed_count) = (0, 0);
    for name in CAPTURES {
        let c = Capture::load(name);
        let gcm = matches!(c.suite().1, IkeCipher::AesGcm16 { .. });
        let mut chains = Vec::new();
        for i in 2..c.messages.len() {
            let (msg, first, plain) = c.open(i);
            let inner = decode_payloads(first, &plain)
                .unwrap_or_else(|e| panic!("{name} #{i}: inner chain: {e}"));
            let (first_again, bytes) = encode_payloads(&inner);
            if !inner.is_empty() {
                assert_eq!(first_again, first, "{name} #{i}: first inner payload type");
            }
            assert_eq!(
                bytes, plain,
                "{name} #{i}: inner chain re-encodes differently"
            );

            // Sealed again under the captured IV, the plaintext gives the captured bytes (GCM:
            // no padding, strongSwan sends Pad Length 0). CBC padding bytes are the sender's
            // choice (RFC 7296 3.14), so there our re-seal must open to the same plaintext.
            let Some(Payload::Sk(sk)) = msg.payloads.last() else {
                unreachable!("open() checked the SK payload");
            };
            let (from_i, from_r) = c.protectors();
            let key = if msg.header.flags.initiator() {
                from_i
            } else {
                from_r
            };
            let iv_len = if gcm { 8 } else { 16 };
            if key.sealed_len(plain.len()) == sk.body.len() {
                let original = &c.messages[i];
                let mut resealed = original.clone();
                key.seal(
                    &mut Fixed(sk.body[..iv_len].to_vec()),
                    &mut resealed,
                    &plain,
                )
                .expect("seal");
                if gcm {
                    assert_eq!(&resealed, original, "{name} #{i}: GCM re-seal");
                } else {
                    // strongSwan's CBC padding is random: compare what does not depend on it.
                    assert_eq!(
                        resealed[..original.len() - sk.body.len() + iv_len],
                        original[..original.len() - sk.body.len() + iv_len],
                        "{name} #{i}: header and IV"
                    );
                    let again = key
                        .open(&resealed, sk.body.len())
                        .expect("open our re-seal");
                    assert_eq!(&again[..], &plain[..], "{name} #{i}: CBC re-seal opens");
                }
                resealed_count += 1;
            } else {
                assert!(!gcm, "{name} #{i}: GCM body length is exactly sealed_len");
            }
            opened += 1;
            chains.push(kinds(&inner));
        }
        // What each message holds (RFC 7296 1.2-1.4), as strongSwan sent it.
        let has = |i: usize, k: &[&str]| {
            let got = &chains[i - 2];
            for want in k {
                assert!(got.contains(want), "{name} #{i}: {got:?} lacks {want}");
            }
        };
        has(2, &["IDi", "AUTH", "SA", "TSi", "TSr"]);
        has(3, &["IDr", "AUTH", "SA", "TSi", "TSr"]);
        has(4, &["SA", "N(once)", "TSi", "TSr", "N"]);
        has(5, &["SA", "N(once)", "TSi", "TSr"]);
        // Old CHILD_SA deleted, then the IKE SA.
        for i in [6, 7] {
            let inner = c.inner(i);
            let Some(Payload::Delete(d)) = inner.first() else {
                panic!("{name} #{i}: {:?}", chains[i - 2]);
            };
            assert_eq!(d.protocol, ProtocolId::ESP, "{name} #{i}");
            let spi = if i == 6 {
                "child1.spi_r2i"
            } else {
                "child1.spi_i2r"
            };
            assert_eq!(
                d.spis,
                vec![c.bytes(spi)],
                "{name} #{i}: deletes the old CHILD_SA"
            );
        }
        let Some(Payload::Delete(d)) = c.inner(8).into_iter().next() else {
            panic!("{name} #8: {:?}", chains[6]);
        };
        assert_eq!(d.protocol, ProtocolId::IKE, "{name}: IKE SA delete");
        assert!(chains[7].is_empty(), "{name}: the final response is empty");
    }
    assert_eq!(opened, 16, "every encrypted capture opened");
    println!("{resealed_count} of {opened} re-sealed");
    assert!(
        resealed_count >= 8,
        "at least every GCM message was re-sealed"
    );
}
