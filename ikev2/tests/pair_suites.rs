//! Every IKE and ESP algorithm we support, in both roles, with and without NAT, plus Azure's
//! default policy explicitly.

mod sim;

use ikev2::proposal::{parse_esp, parse_ike, preset, EspSuite};
use ikev2::wire::{DhGroup, EncrId, IntegId, PrfId};
use ikev2::Event;
use sim::*;

/// A covering set: every ENCR (AES-CBC 128/256, AES-GCM-16 128/256), integrity (SHA1,
/// SHA2-256/384/512 with CBC), PRF (SHA1, SHA2-256/384/512) and DH group (2, 14, 24, 19, 20,
/// 31) appears at least once.
const IKE_SUITES: &[&str] = &[
    "aes128-sha1-prfsha1-modp1024",
    "aes256-sha256-prfsha256-modp2048",
    "aes128-sha384-prfsha384-modp2048s256",
    "aes256-sha512-prfsha512-ecp256",
    "aes128gcm16-prfsha256-ecp384",
    "aes256gcm16-prfsha384-curve25519",
    "aes256gcm16-prfsha512-ecp256",
    "aes256-sha256-prfsha1-curve25519",
];

const ESP_SUITES: &[&str] = &[
    "aes128-sha1",
    "aes256-sha256",
    "aes128-sha384",
    "aes256-sha512",
    "aes128gcm16",
    "aes256gcm16",
    "aes192-sha256",
    "aes256-sha256-esn",
];

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

fn ike_suite(p: &Pair) -> ikev2::proposal::IkeSuite {
    match p.a.established()[0] {
        Event::IkeSaEstablished { suite, .. } => *suite,
        _ => unreachable!(),
    }
}

#[test]
fn every_ike_suite_both_roles_with_and_without_nat() {
    let mut groups = vec![];
    for (i, ike) in IKE_SUITES.iter().enumerate() {
        let esp = ESP_SUITES[i % ESP_SUITES.len()];
        for (j, (b_starts, nat)) in [(false, false), (false, true), (true, false), (true, true)]
            .into_iter()
            .enumerate()
        {
            let p = run(100 + 4 * i as u64 + j as u64, &[ike], &[esp], b_starts, nat);
            let want = parse_ike(ike).unwrap();
            let got = ike_suite(&p);
            assert_eq!(vec![got.prf], want.prf);
            assert_eq!(vec![got.dh], want.dh);
            assert_eq!(vec![(got.encr, got.key_bits)], want.encr);
            groups.push(got.dh);
        }
    }
    for g in [
        DhGroup::MODP1024,
        DhGroup::MODP2048,
        DhGroup::MODP2048_256,
        DhGroup::ECP256,
        DhGroup::ECP384,
        DhGroup::CURVE25519,
    ] {
        assert!(groups.contains(&g), "{g:?} not covered");
    }
}

#[test]
fn every_esp_suite() {
    for (i, esp) in ESP_SUITES.iter().enumerate() {
        let p = run(
            200 + i as u64,
            &["aes256gcm16-prfsha256-ecp256"],
            &[esp],
            i % 2 == 1,
            i % 3 == 0,
        );
        let want = parse_esp(esp).unwrap();
        let got = p.a.children()[0].suite;
        assert_eq!(vec![(got.encr, got.key_bits)], want.encr);
        assert_eq!(got.esn, want.esn.contains(&ikev2::wire::EsnId::ESN));
        assert_eq!(got.dh, None, "no PFS in IKE_AUTH");
    }
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
