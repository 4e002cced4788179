//! Checks the captured strongSwan fixtures in ikev2/tests/fixtures/strongswan/ against their
//! keys.txt (no root needed): SPIs and nonces match IKE_SA_INIT, and the logged SK_a keys verify
//! the CBC suite's ICVs / the SK_e keys open the GCM suite's SK payloads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use interop_tests::fixtures::{nonce_of, IkeHeader};
use ring::{aead, hmac};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ikev2/tests/fixtures/strongswan")
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

struct Set {
    keys: HashMap<String, String>,
    messages: Vec<(String, Vec<u8>)>,
}

fn load(name: &str) -> Set {
    let dir = root().join(name);
    let text = std::fs::read_to_string(dir.join("keys.txt")).expect("keys.txt");
    let keys = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            l.split_once(" = ")
                .or_else(|| l.strip_suffix(" =").map(|k| (k, "")))
        })
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut messages: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("fixture dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("read"))
        })
        .collect();
    messages.sort();
    assert!(
        messages.len() >= 4,
        "{name}: at least IKE_SA_INIT and IKE_AUTH"
    );
    Set { keys, messages }
}

fn key(set: &Set, k: &str) -> Vec<u8> {
    unhex(
        set.keys
            .get(k)
            .unwrap_or_else(|| panic!("{k} missing from keys.txt")),
    )
}

fn check_init(set: &Set) {
    let (req, resp) = (&set.messages[0].1, &set.messages[1].1);
    assert!(set.messages[0].0.ends_with("ike_sa_init-request.bin"));
    let (hq, hr) = (
        IkeHeader::parse(req).unwrap(),
        IkeHeader::parse(resp).unwrap(),
    );
    assert_eq!(hq.spi_i.to_vec(), key(set, "spi_i"));
    assert_eq!(hr.spi_r.to_vec(), key(set, "spi_r"));
    assert_eq!(nonce_of(req).unwrap(), key(set, "ni"));
    assert_eq!(nonce_of(resp).unwrap(), key(set, "nr"));
    for (name, msg) in &set.messages {
        let h = IkeHeader::parse(msg).unwrap_or_else(|| panic!("{name}: not IKE"));
        assert_eq!(h.spi_i, hq.spi_i, "{name}: same IKE SA");
        let kind = if h.is_response() {
            "response"
        } else {
            "request"
        };
        assert!(
            name.ends_with(&format!("-{kind}.bin")),
            "{name}: named by its R flag"
        );
    }
}

/// The encrypted messages (first payload SK), with who sent them.
fn encrypted(set: &Set) -> impl Iterator<Item = (&str, &[u8], bool)> {
    set.messages.iter().filter_map(|(n, m)| {
        let h = IkeHeader::parse(m)?;
        (h.next_payload == 46).then_some((n.as_str(), m.as_slice(), h.from_initiator()))
    })
}

#[test]
fn azure_default_fixtures_verify_with_logged_keys() {
    let set = load("azure-default");
    check_init(&set);
    assert_eq!(set.keys["ike_proposal"], "aes256-sha1-modp1024");
    let mut n = 0;
    for (name, msg, from_i) in encrypted(&set) {
        let k = key(&set, if from_i { "sk_ai" } else { "sk_ar" });
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &k),
            &msg[..msg.len() - 12],
        );
        assert_eq!(
            &tag.as_ref()[..12],
            &msg[msg.len() - 12..],
            "{name}: HMAC-SHA1-96 ICV"
        );
        n += 1;
    }
    assert!(n >= 2, "IKE_AUTH request and response are encrypted");
}

#[test]
fn gcm_fixtures_decrypt_with_logged_keys() {
    let set = load("gcm-ecp384");
    check_init(&set);
    assert_eq!(set.keys["ike_proposal"], "aes256gcm16-prfsha384-ecp384");
    let mut n = 0;
    for (name, msg, from_i) in encrypted(&set) {
        let k = key(&set, if from_i { "sk_ei" } else { "sk_er" });
        assert_eq!(k.len(), 36, "AES-256 key + 4-byte salt");
        // RFC 5282: AAD = IKE header + SK payload header; nonce = salt || 8-byte IV.
        let (aad, rest) = msg.split_at(28 + 4);
        let (iv, ct) = rest.split_at(8);
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(&k[32..]);
        nonce[4..].copy_from_slice(iv);
        let key =
            aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_256_GCM, &k[..32]).unwrap());
        let mut buf = ct.to_vec();
        let plain = key
            .open_in_place(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(aad),
                &mut buf,
            )
            .unwrap_or_else(|_| panic!("{name}: SK payload opens with the logged key"));
        let pad = *plain.last().unwrap() as usize;
        assert!(pad < plain.len(), "{name}: sane padding");
        n += 1;
    }
    assert!(n >= 2, "IKE_AUTH request and response are encrypted");
}
