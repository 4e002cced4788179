//! Every IKE and ESP algorithm we support, in both roles, with and without NAT, plus Azure's
//! default policy explicitly.

mod sim;

use ikev2::proposal::{parse_esp, parse_ike, preset, EspSuite, IkeSuite};
use ikev2::wire::{DhGroup, EncrId, IntegId, PrfId};
use ikev2::Event;
use sim::*;
use std::collections::BTreeSet;

/// IKE encryption: the AES-CBC key sizes (with an integrity algorithm) ...
const IKE_CBC: [(&str, u16); 3] = [("aes128", 128), ("aes192", 192), ("aes256", 256)];
/// ... and AES-GCM with a 16-octet ICV (AEAD, no integrity algorithm; RFC 5282).
const IKE_GCM: [(&str, u16); 2] = [("aes128gcm16", 128), ("aes256gcm16", 256)];
const IKE_INTEG: [(&str, IntegId); 4] = [
    ("sha1", IntegId::HMAC_SHA1_96),
    ("sha256", IntegId::HMAC_SHA2_256_128),
    ("sha384", IntegId::HMAC_SHA2_384_192),
    ("sha512", IntegId::HMAC_SHA2_512_256),
];
const IKE_PRF: [(&str, PrfId); 4] = [
    ("prfsha1", PrfId::HMAC_SHA1),
    ("prfsha256", PrfId::HMAC_SHA2_256),
    ("prfsha384", PrfId::HMAC_SHA2_384),
    ("prfsha512", PrfId::HMAC_SHA2_512),
];

/// The four ways to run a pair: (B initiates, A behind the EC2 NAT).
const ROLE_NAT: [(bool, bool); 4] = [(false, false), (false, true), (true, false), (true, true)];

/// Every IKE suite without its KE group (3 x 4 x 4 CBC + 2 x 4 GCM = 56): the proposal
/// string prefix and what the established IKE SA must report (`dh` filled in by the caller).
fn ike_suites_without_group() -> Vec<(String, IkeSuite)> {
    let mut v = Vec::new();
    for (e, bits) in IKE_CBC {
        for (i, integ) in IKE_INTEG {
            for (p, prf) in IKE_PRF {
                v.push((
                    format!("{e}-{i}-{p}"),
                    IkeSuite {
                        encr: EncrId::AES_CBC,
                        key_bits: Some(bits),
                        prf,
                        integ: Some(integ),
                        dh: DhGroup::MODP1024,
                    },
                ));
            }
        }
    }
    for (e, bits) in IKE_GCM {
        for (p, prf) in IKE_PRF {
            v.push((
                format!("{e}-{p}"),
                IkeSuite {
                    encr: EncrId::AES_GCM_16,
                    key_bits: Some(bits),
                    prf,
                    integ: None,
                    dh: DhGroup::MODP1024,
                },
            ));
        }
    }
    assert_eq!(v.len(), 56);
    v
}

/// Every ESP suite: AES-GCM-16 128/192/256 and AES-CBC 128/192/256 with each HMAC-SHA
/// integrity algorithm (3 + 3 x 4 = 15).
fn esp_suites() -> Vec<String> {
    let mut v: Vec<String> = ["aes128gcm16", "aes192gcm16", "aes256gcm16"]
        .into_iter()
        .map(String::from)
        .collect();
    for e in ["aes128", "aes192", "aes256"] {
        for i in ["sha1", "sha256", "sha384", "sha512"] {
            v.push(format!("{e}-{i}"));
        }
    }
    v
}

/// Encryption key (with salt for GCM) and integrity key lengths, per the brief.
fn key_len(s: &EspSuite) -> usize {
    let bits = usize::from(s.key_bits.unwrap());
    let enc = match s.encr {
        EncrId::AES_GCM_16 => bits / 8 + 4,
        EncrId::AES_CBC => bits / 8,
        other => panic!("{other:?}"),
    };
    let integ = match s.integ {
        None | Some(IntegId::NONE) => 0,
        Some(IntegId::HMAC_SHA1_96) => 20,
        Some(IntegId::HMAC_SHA2_256_128) => 32,
        Some(IntegId::HMAC_SHA2_384_192) => 48,
        Some(IntegId::HMAC_SHA2_512_256) => 64,
        Some(other) => panic!("{other:?}"),
    };
    enc + integ
}

fn run(seed: u64, ike: &[&str], esp: &[&str], b_starts: bool, nat: bool) -> Pair {
    let (a, b) = configs(ike, esp);
    let net = NetConfig {
        nat: nat.then(Nat::ec2),
        ..NetConfig::default()
    };
    let mut p = Pair::new(seed, net, a, b);
    if b_starts {
        p.initiate_b();
    } else {
        p.initiate_a();
    }
    p.drive();
    let (ca, _) = assert_mirrored(&p, nat);
    assert_eq!(ca.inbound_keys.len(), key_len(&ca.suite), "{esp:?}");
    p
}

fn ike_suite(p: &Pair) -> IkeSuite {
    match p.a.established()[0] {
        Event::IkeSaEstablished { suite, .. } => *suite,
        _ => unreachable!(),
    }
}

/// Establish every IKE suite (56 ENCR/INTEG/PRF combinations) with KE `group` four times:
/// A and B initiating, each with and without A behind the EC2 NAT. Checks that both ends
/// agree on the expected suite and derived identical keys.
///
/// The IKE SA keys are not exposed by the API; they are checked through their use: IKE_AUTH
/// only completes if both ends share SK_ei/SK_ai and SK_er/SK_ar (each side's request or
/// response would otherwise fail its ICV and be dropped) and SK_pi/SK_pr (the AUTH payloads,
/// RFC 7296 2.15); the CHILD_SA keys, which `assert_mirrored` compares byte for byte, come
/// from SK_d (RFC 7296 2.17).
///
/// The whole matrix is 56 suites x 6 groups x 4 = 1344 handshakes, one test per group so
/// they run in parallel. Measured in a debug build: about 47 s of CPU for all six (MODP-2048
/// is the slowest group at ~90 ms a handshake, 21 s for its test; Curve25519 the fastest at
/// ~1.6 ms), i.e. ~25 s on two otherwise idle cores, so every combination is run rather than
/// a sample.
fn establish_every_ike_suite(group: &str, dh: DhGroup) {
    let esp = esp_suites();
    let mut seen = BTreeSet::new();
    for (i, (prefix, mut want)) in ike_suites_without_group().into_iter().enumerate() {
        want.dh = dh;
        let ike = format!("{prefix}-{group}");
        for (k, (b_starts, nat)) in ROLE_NAT.into_iter().enumerate() {
            // Rotate the ESP suite too, so each one meets every role/NAT pairing.
            let esp_suite = &esp[(i + k) % esp.len()];
            let seed = (u64::from(dh.0) << 32) | ((i as u64) << 8) | k as u64;
            let p = run(seed, &[&ike], &[esp_suite], b_starts, nat);
            assert_eq!(
                ike_suite(&p),
                want,
                "{ike}, B starts: {b_starts}, NAT: {nat}"
            );
            seen.insert((prefix.clone(), b_starts, nat));
        }
    }
    assert_eq!(seen.len(), 56 * 4);
}

#[test]
fn every_ike_suite_with_modp1024_both_roles_with_and_without_nat() {
    establish_every_ike_suite("modp1024", DhGroup::MODP1024);
}

#[test]
fn every_ike_suite_with_modp2048_both_roles_with_and_without_nat() {
    establish_every_ike_suite("modp2048", DhGroup::MODP2048);
}

#[test]
fn every_ike_suite_with_modp2048s256_both_roles_with_and_without_nat() {
    establish_every_ike_suite("modp2048s256", DhGroup::MODP2048_256);
}

#[test]
fn every_ike_suite_with_ecp256_both_roles_with_and_without_nat() {
    establish_every_ike_suite("ecp256", DhGroup::ECP256);
}

#[test]
fn every_ike_suite_with_ecp384_both_roles_with_and_without_nat() {
    establish_every_ike_suite("ecp384", DhGroup::ECP384);
}

#[test]
fn every_ike_suite_with_curve25519_both_roles_with_and_without_nat() {
    establish_every_ike_suite("curve25519", DhGroup::CURVE25519);
}

/// Every ESP suite under three IKE suites (AEAD with ECP-256, CBC/SHA1 with Curve25519 and
/// Azure-like CBC/SHA256 with MODP-1024), each in both roles, with and without NAT.
#[test]
fn every_esp_suite_under_several_ike_suites_both_roles() {
    let ikes = [
        "aes256gcm16-prfsha256-ecp256",
        "aes128-sha1-prfsha1-curve25519",
        "aes256-sha256-prfsha256-modp1024",
    ];
    let mut seen = BTreeSet::new();
    for (i, esp) in esp_suites().iter().enumerate() {
        let want = parse_esp(esp).unwrap();
        for (j, ike) in ikes.iter().enumerate() {
            for b_starts in [false, true] {
                let nat = (i + j + usize::from(b_starts)) % 2 == 1;
                let seed = 200 + (i as u64) * 8 + (j as u64) * 2 + u64::from(b_starts);
                let p = run(seed, &[ike], &[esp], b_starts, nat);
                let got = p.a.children()[0].suite;
                assert_eq!(vec![(got.encr, got.key_bits)], want.encr, "{esp}");
                assert_eq!(got.integ.into_iter().collect::<Vec<_>>(), want.integ);
                assert!(!got.esn, "no ESN offered");
                assert_eq!(got.dh, None, "no PFS in IKE_AUTH");
                seen.insert((esp.clone(), *ike, b_starts));
            }
        }
    }
    assert_eq!(seen.len(), 15 * ikes.len() * 2);
    // ESN negotiated when both ends offer only it.
    let p = run(299, &[ikes[0]], &["aes256-sha256-esn"], true, true);
    assert!(p.a.children()[0].suite.esn);
}

#[test]
fn azure_default_policy_each_ike_and_esp_suite() {
    let azure = preset("azure-default").unwrap();
    assert_eq!(azure.ike.len(), 4);
    assert_eq!(azure.esp.len(), 4);
    // We offer exactly one of Azure's suites; Azure (B) holds its whole default policy.
    let ike_names = [
        "aes256-sha1-modp1024",
        "aes256-sha256-modp1024",
        "aes128-sha1-modp1024",
        "aes128-sha256-modp1024",
    ];
    let esp_names = ["aes256gcm16", "aes256-sha1", "aes256-sha256", "aes128-sha1"];
    for (i, (ike, esp)) in ike_names.iter().zip(esp_names).enumerate() {
        for nat in [false, true] {
            let (mut a, mut b) = configs(&[ike], &[esp]);
            b.ike_proposals = azure.ike.clone();
            b.esp_proposals = azure.esp.clone();
            let net = NetConfig {
                nat: nat.then(Nat::ec2),
                ..NetConfig::default()
            };
            a.name = format!("azure-{i}");
            let mut p = Pair::new(300 + 2 * i as u64 + u64::from(nat), net, a, b);
            p.initiate_a();
            p.drive();
            let (ca, _) = assert_mirrored(&p, nat);
            let suite = ike_suite(&p);
            assert_eq!(suite.dh, DhGroup::MODP1024);
            let want = parse_ike(ike).unwrap();
            assert_eq!(vec![suite.integ.unwrap()], want.integ);
            assert_eq!(
                vec![(ca.suite.encr, ca.suite.key_bits)],
                parse_esp(esp).unwrap().encr
            );
            assert_eq!(ca.inbound_keys.len(), key_len(&ca.suite));
        }
    }
    // And Azure initiating with its full default policy towards us holding the same.
    let (mut a, mut b) = configs(&["aes256-sha1-modp1024"], &["aes256gcm16"]);
    a.ike_proposals = azure.ike.clone();
    a.esp_proposals = azure.esp.clone();
    b.ike_proposals = azure.ike.clone();
    b.esp_proposals = azure.esp.clone();
    let mut p = Pair::new(
        310,
        NetConfig {
            nat: Some(Nat::ec2()),
            ..NetConfig::default()
        },
        a,
        b,
    );
    p.initiate_b();
    p.drive();
    let (ca, _) = assert_mirrored(&p, true);
    let suite = ike_suite(&p);
    assert_eq!(
        (suite.encr, suite.key_bits, suite.prf),
        (EncrId::AES_CBC, Some(256), PrfId::HMAC_SHA1)
    );
    assert_eq!(
        (ca.suite.encr, ca.suite.key_bits),
        (EncrId::AES_GCM_16, Some(256))
    );
}
