//! Tests for parsing, printing, wire shapes, negotiation, presets and compat checks.

use super::*;
use crate::wire::{Attribute, ProtocolId, Transform, TransformType};
use proptest::prelude::*;

fn ike(s: &str) -> IkeProposalSpec {
    parse_ike(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}
fn esp(s: &str) -> EspProposalSpec {
    parse_esp(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}
fn tr(kind: TransformType, id: u16) -> Transform {
    Transform {
        kind,
        id,
        attributes: vec![],
    }
}
fn tr_kl(kind: TransformType, id: u16, bits: u16) -> Transform {
    Transform {
        kind,
        id,
        attributes: vec![Attribute::Tv {
            ty: 14,
            value: bits,
        }],
    }
}

// ---------------------------------------------------------------- parsing

#[test]
fn parse_every_ike_keyword() {
    let cases: &[(&str, (EncrId, Option<u16>))] = &[
        ("aes128", (EncrId::AES_CBC, Some(128))),
        ("aes192", (EncrId::AES_CBC, Some(192))),
        ("aes256", (EncrId::AES_CBC, Some(256))),
    ];
    for (kw, e) in cases {
        assert_eq!(ike(&format!("{kw}-sha256-modp2048")).encr, vec![*e], "{kw}");
    }
    let gcm: &[(&str, u16)] = &[
        ("aes128gcm16", 128),
        ("aes128gcm128", 128),
        ("aes192gcm16", 192),
        ("aes192gcm128", 192),
        ("aes256gcm16", 256),
        ("aes256gcm128", 256),
    ];
    for (kw, bits) in gcm {
        let s = ike(&format!("{kw}-prfsha256-ecp256"));
        assert_eq!(s.encr, vec![(EncrId::AES_GCM_16, Some(*bits))], "{kw}");
        assert!(s.integ.is_empty());
    }
    let integ: &[(&str, IntegId, PrfId)] = &[
        ("sha1", IntegId::HMAC_SHA1_96, PrfId::HMAC_SHA1),
        ("sha", IntegId::HMAC_SHA1_96, PrfId::HMAC_SHA1),
        ("sha256", IntegId::HMAC_SHA2_256_128, PrfId::HMAC_SHA2_256),
        ("sha2_256", IntegId::HMAC_SHA2_256_128, PrfId::HMAC_SHA2_256),
        ("sha384", IntegId::HMAC_SHA2_384_192, PrfId::HMAC_SHA2_384),
        ("sha2_384", IntegId::HMAC_SHA2_384_192, PrfId::HMAC_SHA2_384),
        ("sha512", IntegId::HMAC_SHA2_512_256, PrfId::HMAC_SHA2_512),
        ("sha2_512", IntegId::HMAC_SHA2_512_256, PrfId::HMAC_SHA2_512),
    ];
    for (kw, i, p) in integ {
        let s = ike(&format!("aes256-{kw}-modp2048"));
        assert_eq!(s.integ, vec![*i], "{kw}");
        assert_eq!(s.prf, vec![*p], "PRF derived from {kw}");
    }
    let prf: &[(&str, PrfId)] = &[
        ("prfsha1", PrfId::HMAC_SHA1),
        ("prfsha256", PrfId::HMAC_SHA2_256),
        ("prfsha384", PrfId::HMAC_SHA2_384),
        ("prfsha512", PrfId::HMAC_SHA2_512),
    ];
    for (kw, p) in prf {
        let s = ike(&format!("aes256-sha1-{kw}-modp2048"));
        assert_eq!(s.prf, vec![*p], "explicit {kw} replaces the derived PRF");
    }
    let dh: &[(&str, DhGroup)] = &[
        ("modp1024", DhGroup::MODP1024),
        ("modp2048", DhGroup::MODP2048),
        ("modp2048s256", DhGroup::MODP2048_256),
        ("ecp256", DhGroup::ECP256),
        ("ecp384", DhGroup::ECP384),
        ("curve25519", DhGroup::CURVE25519),
        ("x25519", DhGroup::CURVE25519),
    ];
    for (kw, g) in dh {
        assert_eq!(ike(&format!("aes256-sha256-{kw}")).dh, vec![*g], "{kw}");
    }
}

#[test]
fn parse_ike_multiple_tokens_keep_order_and_derive_prfs() {
    let s = ike("aes256-aes128-sha256-sha1-modp2048-modp1024");
    assert_eq!(
        s.encr,
        vec![(EncrId::AES_CBC, Some(256)), (EncrId::AES_CBC, Some(128))]
    );
    assert_eq!(
        s.integ,
        vec![IntegId::HMAC_SHA2_256_128, IntegId::HMAC_SHA1_96]
    );
    assert_eq!(s.prf, vec![PrfId::HMAC_SHA2_256, PrfId::HMAC_SHA1]);
    assert_eq!(s.dh, vec![DhGroup::MODP2048, DhGroup::MODP1024]);
    // duplicates collapse, case and spaces are tolerated
    assert_eq!(
        ike(" AES256 - aes256-SHA1-modp1024 "),
        ike("aes256-sha1-modp1024")
    );
}

#[test]
fn parse_ike_aead_prf_rules() {
    // strongSwan: aes256gcm16-sha384 means prfsha384, the integrity is dropped.
    let s = ike("aes256gcm16-sha384-ecp384");
    assert!(s.integ.is_empty());
    assert_eq!(s.prf, vec![PrfId::HMAC_SHA2_384]);
    assert_eq!(s, ike("aes256gcm16-prfsha384-ecp384"));
    // no PRF at all: incomplete (strongSwan refuses as well)
    let e = parse_ike("aes256gcm16-ecp384").unwrap_err();
    assert!(matches!(e, ProposalError::Incomplete { .. }), "{e}");
    assert!(e.to_string().contains("prfsha384"), "{e}");
}

#[test]
fn parse_every_esp_keyword() {
    let s = esp("aes256gcm16");
    assert_eq!(s.encr, vec![(EncrId::AES_GCM_16, Some(256))]);
    assert!(s.integ.is_empty() && s.dh.is_empty());
    assert_eq!(s.esn, vec![EsnId::NO_ESN]);
    assert_eq!(esp("aes128gcm128"), esp("aes128gcm16"));
    assert_eq!(
        esp("aes192gcm16").encr,
        vec![(EncrId::AES_GCM_16, Some(192))]
    );
    let s = esp("aes128-sha256-ecp256");
    assert_eq!(s.encr, vec![(EncrId::AES_CBC, Some(128))]);
    assert_eq!(s.integ, vec![IntegId::HMAC_SHA2_256_128]);
    assert_eq!(s.dh, vec![DhGroup::ECP256]);
    assert_eq!(esp("aes256-sha256-esn").esn, vec![EsnId::ESN]);
    assert_eq!(esp("aes256-sha256-noesn").esn, vec![EsnId::NO_ESN]);
    assert_eq!(
        esp("aes256-sha256-esn-noesn").esn,
        vec![EsnId::ESN, EsnId::NO_ESN]
    );
    assert_eq!(
        esp("aes192-sha1-modp2048-modpnone").dh,
        vec![DhGroup::MODP2048, DhGroup::NONE]
    );
    assert_eq!(esp("aes256-sha512-x25519").dh, vec![DhGroup::CURVE25519]);
}

#[test]
fn parse_lists() {
    let v = parse_ike_list("aes256-sha1-modp1024, aes128-sha1-modp1024").unwrap();
    assert_eq!(v.len(), 2);
    assert_eq!(v[1].encr, vec![(EncrId::AES_CBC, Some(128))]);
    assert_eq!(parse_esp_list("aes256gcm16,aes256-sha1").unwrap().len(), 2);
    assert!(parse_esp_list("aes256gcm16,3des-sha1").is_err());
}

#[test]
fn refusals_name_the_replacement() {
    let cases: &[(&str, &str, &str)] = &[
        ("3des-sha1-modp1024", "3des", "aes256"),
        ("des-sha1-modp1024", "des", "aes256"),
        ("aes256-md5-modp1024", "md5", "sha256"),
        ("aes256-sha1-prfmd5-modp1024", "prfmd5", "prfsha256"),
        ("aes256-sha1-modp768", "modp768", "modp2048"),
        ("null-sha1-modp1024", "null", "aes256gcm16"),
    ];
    for (s, tok, repl) in cases {
        let e = parse_ike(s).unwrap_err();
        match &e {
            ProposalError::Refused { token, instead, .. } => {
                assert_eq!(token, tok);
                assert!(instead.contains(repl), "{e}");
                assert!(instead.contains("Azure"), "names the Azure side too: {e}");
            }
            other => panic!("{s}: expected Refused, got {other:?}"),
        }
        assert!(e.to_string().contains("refused by design"));
    }
    for s in ["3des-sha1", "aes256-md5", "null", "aes128-sha1-modp768"] {
        assert!(
            matches!(parse_esp(s), Err(ProposalError::Refused { .. })),
            "{s}"
        );
    }
    let e = parse_esp("3DES-sha1").unwrap_err();
    assert_eq!(
        e.to_string(),
        "`3DES` in proposal `3DES-sha1` is refused by design: configure aes256 or aes256gcm16 \
         (Azure: AES256 or GCMAES256) instead"
    );
}

#[test]
fn unknown_tokens_get_hints() {
    let e = parse_ike("aes265-sha256-modp2048").unwrap_err();
    match &e {
        ProposalError::Unknown { token, hint, .. } => {
            assert_eq!(token, "aes265");
            assert!(hint.contains("did you mean `aes256`"), "{hint}");
            assert!(
                hint.contains("aes128gcm16"),
                "lists the valid encryption: {hint}"
            );
        }
        other => panic!("{other:?}"),
    }
    let e = parse_ike("aes256-sha256-modp3072").unwrap_err().to_string();
    assert!(
        e.contains("does not implement") && e.contains("modp2048"),
        "{e}"
    );
    let e = parse_ike("aes256-sha256-bogus").unwrap_err().to_string();
    assert!(e.contains("valid DH groups"), "{e}");
    let e = parse_esp("aes256-sha256-prfsha256")
        .unwrap_err()
        .to_string();
    assert!(e.contains("IKE proposals only"), "{e}");
    let e = parse_ike("aes256-sha256-modp2048-esn")
        .unwrap_err()
        .to_string();
    assert!(e.contains("ESP"), "{e}");
    assert!(matches!(
        parse_ike("aes256--sha1-modp1024"),
        Err(ProposalError::Unknown { .. })
    ));
    assert!(matches!(
        parse_ike("aes256-sha1-modp1024-modpnone"),
        Err(ProposalError::Unknown { .. })
    ));
}

#[test]
fn incomplete_and_invalid() {
    for s in ["sha256-modp2048", "aes256-modp2048", "aes256-sha256", ""] {
        assert!(
            matches!(parse_ike(s), Err(ProposalError::Incomplete { .. })),
            "{s}"
        );
    }
    for s in ["sha256", "aes256", "aes256-modp2048"] {
        assert!(
            matches!(parse_esp(s), Err(ProposalError::Incomplete { .. })),
            "{s}"
        );
    }
    let e = parse_esp("aes256gcm16-sha256").unwrap_err();
    assert!(matches!(e, ProposalError::Invalid { .. }), "{e}");
    assert!(e.to_string().contains("remove `sha256`"), "{e}");
    assert!(matches!(
        parse_esp("aes256gcm16-aes256-sha1"),
        Err(ProposalError::Invalid { .. })
    ));
    assert!(matches!(
        parse_ike("aes256gcm16-aes256-sha1-modp1024"),
        Err(ProposalError::Invalid { .. })
    ));
}

// ---------------------------------------------------------------- Azure names

#[test]
fn azure_ike_names() {
    assert_eq!(
        parse_azure_ike("GCMAES256", "SHA384", "ECP384").unwrap(),
        ike("aes256gcm16-prfsha384-ecp384")
    );
    assert_eq!(
        parse_azure_ike("aes256", "sha256", "dhgroup14").unwrap(),
        ike("aes256-sha256-modp2048")
    );
    assert_eq!(
        parse_azure_ike("AES128", "SHA1", "DHGroup2").unwrap(),
        ike("aes128-sha1-modp1024")
    );
    assert_eq!(
        parse_azure_ike("AES192", "SHA256", "DHGroup2048")
            .unwrap()
            .dh,
        vec![DhGroup::MODP2048]
    );
    assert_eq!(
        parse_azure_ike("GCMAES128", "SHA256", "DHGroup24").unwrap(),
        ike("aes128gcm16-prfsha256-modp2048s256")
    );
    assert_eq!(
        parse_azure_ike("AES256", "SHA256", "ECP256").unwrap().dh,
        vec![DhGroup::ECP256]
    );
    for (e, i, d, tok) in [
        ("DES3", "SHA1", "DHGroup2", "DES3"),
        ("DES", "SHA1", "DHGroup2", "DES"),
        ("AES256", "MD5", "DHGroup2", "MD5"),
        ("AES256", "SHA1", "DHGroup1", "DHGroup1"),
    ] {
        match parse_azure_ike(e, i, d) {
            Err(ProposalError::Refused { token, instead, .. }) => {
                assert_eq!(token, tok);
                assert!(instead.contains("Azure"));
            }
            other => panic!("{e}/{i}/{d}: {other:?}"),
        }
    }
    assert!(matches!(
        parse_azure_ike("AES256", "SHA1", "None"),
        Err(ProposalError::Incomplete { .. })
    ));
    assert!(matches!(
        parse_azure_ike("AES257", "SHA1", "DHGroup2"),
        Err(ProposalError::Unknown { .. })
    ));
}

#[test]
fn azure_esp_names() {
    assert_eq!(
        parse_azure_esp("GCMAES256", "GCMAES256", "ECP384").unwrap(),
        esp("aes256gcm16-ecp384")
    );
    assert_eq!(
        parse_azure_esp("GCMAES192", "GCMAES192", "None").unwrap(),
        esp("aes192gcm16")
    );
    assert_eq!(
        parse_azure_esp("gcmaes128", "GCMAES128", "PFS24").unwrap(),
        esp("aes128gcm16-modp2048s256")
    );
    assert_eq!(
        parse_azure_esp("AES256", "SHA256", "PFS2048").unwrap(),
        esp("aes256-sha256-modp2048")
    );
    assert_eq!(
        parse_azure_esp("AES256", "SHA256", "PFS14").unwrap(),
        esp("aes256-sha256-modp2048")
    );
    assert_eq!(
        parse_azure_esp("AES128", "SHA1", "PFS2").unwrap(),
        esp("aes128-sha1-modp1024")
    );
    assert_eq!(
        parse_azure_esp("AES192", "SHA1", "ECP256").unwrap(),
        esp("aes192-sha1-ecp256")
    );
    assert_eq!(
        parse_azure_esp("AES128", "SHA1", "None").unwrap(),
        esp("aes128-sha1")
    );
    // GCM integrity must match GCM encryption
    assert!(matches!(
        parse_azure_esp("GCMAES256", "GCMAES128", "None"),
        Err(ProposalError::Invalid { .. })
    ));
    assert!(matches!(
        parse_azure_esp("GCMAES256", "SHA256", "None"),
        Err(ProposalError::Invalid { .. })
    ));
    assert!(matches!(
        parse_azure_esp("AES256", "GCMAES256", "None"),
        Err(ProposalError::Invalid { .. })
    ));
    assert!(matches!(
        parse_azure_esp("None", "SHA1", "None"),
        Err(ProposalError::Refused { .. })
    ));
    assert!(matches!(
        parse_azure_esp("AES256", "SHA1", "PFS1"),
        Err(ProposalError::Refused { .. })
    ));
    assert!(matches!(
        parse_azure_esp("AES256", "MD5", "None"),
        Err(ProposalError::Refused { .. })
    ));
    assert!(matches!(
        parse_azure_esp("AES256", "SHA1", "PFSMM"),
        Err(ProposalError::Unknown { .. })
    ));
}

// ---------------------------------------------------------------- printing

#[test]
fn display_canonical_names() {
    assert_eq!(
        ike("aes256-sha256-modp1024").to_string(),
        "aes256-sha256-prfsha256-modp1024"
    );
    assert_eq!(
        ike("AES256GCM128-sha2_384-x25519").to_string(),
        "aes256gcm16-prfsha384-curve25519"
    );
    assert_eq!(esp("aes256gcm128").to_string(), "aes256gcm16");
    assert_eq!(
        esp("aes128-sha-modp2048s256-esn").to_string(),
        "aes128-sha1-modp2048s256-esn"
    );
    let suite = IkeSuite {
        encr: EncrId::AES_CBC,
        key_bits: Some(256),
        prf: PrfId::HMAC_SHA2_256,
        integ: Some(IntegId::HMAC_SHA2_256_128),
        dh: DhGroup::MODP1024,
    };
    assert_eq!(suite.to_string(), "aes256-sha256-prfsha256-modp1024");
    let child = EspSuite {
        encr: EncrId::AES_GCM_16,
        key_bits: Some(256),
        integ: None,
        dh: Some(DhGroup::ECP384),
        esn: true,
    };
    assert_eq!(child.to_string(), "aes256gcm16-ecp384-esn");
}

fn subset<T: Clone + core::fmt::Debug + 'static>(
    all: Vec<T>,
    min: usize,
) -> impl Strategy<Value = Vec<T>> {
    let n = all.len();
    proptest::sample::subsequence(all, min..=n).prop_shuffle()
}

fn arb_ike() -> impl Strategy<Value = IkeProposalSpec> {
    let cbc = vec![128u16, 192, 256]
        .into_iter()
        .map(|k| (EncrId::AES_CBC, Some(k)))
        .collect();
    let gcm = vec![128u16, 192, 256]
        .into_iter()
        .map(|k| (EncrId::AES_GCM_16, Some(k)))
        .collect();
    let integ = vec![
        IntegId::HMAC_SHA1_96,
        IntegId::HMAC_SHA2_256_128,
        IntegId::HMAC_SHA2_384_192,
        IntegId::HMAC_SHA2_512_256,
    ];
    let prf = vec![
        PrfId::HMAC_SHA1,
        PrfId::HMAC_SHA2_256,
        PrfId::HMAC_SHA2_384,
        PrfId::HMAC_SHA2_512,
    ];
    let dh = vec![
        DhGroup::MODP1024,
        DhGroup::MODP2048,
        DhGroup::MODP2048_256,
        DhGroup::ECP256,
        DhGroup::ECP384,
        DhGroup::CURVE25519,
    ];
    (
        prop_oneof![
            subset(cbc, 1).prop_map(|e| (e, false)),
            subset(gcm, 1).prop_map(|e| (e, true))
        ],
        subset(integ, 1),
        subset(prf, 1),
        subset(dh, 1),
    )
        .prop_map(|((encr, aead), integ, prf, dh)| IkeProposalSpec {
            encr,
            integ: if aead { vec![] } else { integ },
            prf,
            dh,
        })
}

fn arb_esp() -> impl Strategy<Value = EspProposalSpec> {
    let cbc = vec![128u16, 192, 256]
        .into_iter()
        .map(|k| (EncrId::AES_CBC, Some(k)))
        .collect();
    let gcm = vec![128u16, 192, 256]
        .into_iter()
        .map(|k| (EncrId::AES_GCM_16, Some(k)))
        .collect();
    let integ = vec![
        IntegId::HMAC_SHA1_96,
        IntegId::HMAC_SHA2_256_128,
        IntegId::HMAC_SHA2_384_192,
        IntegId::HMAC_SHA2_512_256,
    ];
    let dh = vec![
        DhGroup::NONE,
        DhGroup::MODP1024,
        DhGroup::MODP2048,
        DhGroup::MODP2048_256,
        DhGroup::ECP256,
        DhGroup::ECP384,
        DhGroup::CURVE25519,
    ];
    (
        prop_oneof![
            subset(cbc, 1).prop_map(|e| (e, false)),
            subset(gcm, 1).prop_map(|e| (e, true))
        ],
        subset(integ, 1),
        subset(dh, 0),
        subset(vec![EsnId::NO_ESN, EsnId::ESN], 1),
    )
        .prop_map(|((encr, aead), integ, dh, esn)| EspProposalSpec {
            encr,
            integ: if aead { vec![] } else { integ },
            dh,
            esn,
        })
}

proptest! {
    #[test]
    fn ike_display_round_trips(spec in arb_ike()) {
        prop_assert_eq!(parse_ike(&spec.to_string()), Ok(spec));
    }

    #[test]
    fn esp_display_round_trips(spec in arb_esp()) {
        prop_assert_eq!(parse_esp(&spec.to_string()), Ok(spec));
    }

    /// Offering our own proposals to ourselves always succeeds and the initiator accepts the
    /// responder's answer.
    #[test]
    fn self_negotiation_agrees(i in arb_ike(), e in arb_esp(), with_dh in any::<bool>()) {
        let (num, suite) = select_ike(core::slice::from_ref(&i), &[i.to_wire(1)]).unwrap();
        prop_assert_eq!(num, 1);
        prop_assert_eq!(accept_ike(core::slice::from_ref(&i), &suite.to_wire(num)), Ok(suite));
        let (num, child) = select_esp(core::slice::from_ref(&e), &[e.to_wire(1, 7, with_dh)], with_dh).unwrap();
        prop_assert_eq!(accept_esp(core::slice::from_ref(&e), &child.to_wire(num, 9), with_dh), Ok(child));
    }

    /// Hostile input never panics.
    #[test]
    fn garbage_never_panics(s in ".{0,40}") {
        let _ = parse_ike(&s);
        let _ = parse_esp(&s);
        let _ = parse_azure_ike(&s, &s, &s);
        let _ = parse_azure_esp(&s, &s, &s);
    }

    #[test]
    fn arbitrary_offers_never_panic(
        ts in proptest::collection::vec((0u8..8, 0u16..40, proptest::option::of(0u16..300)), 0..12),
        proto in 0u8..5,
        spi_len in 0usize..10,
    ) {
        let p = Proposal {
            num: 1,
            protocol: ProtocolId(proto),
            spi: vec![0; spi_len],
            transforms: ts.iter().map(|(k, id, kl)| Transform {
                kind: TransformType(*k),
                id: *id,
                attributes: kl.map(|v| Attribute::Tv { ty: 14, value: v }).into_iter().collect(),
            }).collect(),
        };
        let ours_i = preset("azure-default").unwrap().ike;
        let ours_e = preset("azure-default").unwrap().esp;
        let _ = select_ike(&ours_i, core::slice::from_ref(&p));
        let _ = select_esp(&ours_e, core::slice::from_ref(&p), true);
        let _ = accept_ike(&ours_i, &p);
        let _ = accept_esp(&ours_e, &p, false);
        let _ = describe(&[p]);
    }
}

// ---------------------------------------------------------------- wire shapes

#[test]
fn ike_to_wire_shape() {
    let p = ike("aes256-sha256-modp1024").to_wire(3);
    assert_eq!(p.num, 3);
    assert_eq!(p.protocol, ProtocolId::IKE);
    assert!(p.spi.is_empty());
    assert_eq!(
        p.transforms,
        vec![
            tr_kl(TransformType::ENCR, 12, 256),
            tr(TransformType::PRF, 5),
            tr(TransformType::INTEG, 12),
            tr(TransformType::DH, 2),
        ]
    );
    // the Key Length attribute is TV (AF=1) type 14
    assert_eq!(
        p.transforms[0].attributes,
        vec![Attribute::Tv { ty: 14, value: 256 }]
    );
    let p = ike("aes256gcm16-prfsha384-ecp384").to_wire(1);
    assert!(
        p.transforms.iter().all(|t| t.kind != TransformType::INTEG),
        "AEAD: no INTEG"
    );
    assert_eq!(
        describe(&[ike("aes256-sha256-modp1024").to_wire(1)]),
        "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_1024"
    );
}

#[test]
fn esp_to_wire_shape() {
    let s = esp("aes128-sha1-modp2048-esn-noesn");
    let p = s.to_wire(2, 0x0102_0304, true);
    assert_eq!(p.protocol, ProtocolId::ESP);
    assert_eq!(p.spi, vec![1, 2, 3, 4]);
    assert_eq!(esp_spi(&p), Some(0x0102_0304));
    assert_eq!(
        p.transforms,
        vec![
            tr_kl(TransformType::ENCR, 12, 128),
            tr(TransformType::INTEG, 2),
            tr(TransformType::DH, 14),
            tr(TransformType::ESN, 1),
            tr(TransformType::ESN, 0),
        ]
    );
    let p = s.to_wire(2, 1, false);
    assert!(
        p.transforms.iter().all(|t| t.kind != TransformType::DH),
        "no DH in IKE_AUTH"
    );
    let p = esp("aes256gcm16").to_wire(1, 1, true);
    assert_eq!(
        p.transforms,
        vec![
            tr_kl(TransformType::ENCR, 20, 256),
            tr(TransformType::ESN, 0)
        ]
    );
    assert_eq!(describe(&[p]), "ESP:AES_GCM_16_256/NO_EXT_SEQ");
}

#[test]
fn describe_unknowns() {
    let p = Proposal {
        num: 1,
        protocol: ProtocolId(9),
        spi: vec![],
        transforms: vec![tr(TransformType(9), 4), tr(TransformType::ENCR, 999)],
    };
    assert_eq!(
        describe(&[p.clone(), p]),
        "PROTO_9:UNKNOWN_1_999/UNKNOWN_9_4, PROTO_9:UNKNOWN_1_999/UNKNOWN_9_4"
    );
}

// ---------------------------------------------------------------- selection

fn offer_ike(num: u8, transforms: Vec<Transform>) -> Proposal {
    Proposal {
        num,
        protocol: ProtocolId::IKE,
        spi: vec![],
        transforms,
    }
}
fn offer_esp(num: u8, transforms: Vec<Transform>) -> Proposal {
    Proposal {
        num,
        protocol: ProtocolId::ESP,
        spi: vec![0, 0, 0, 1],
        transforms,
    }
}

#[test]
fn select_ike_our_order_wins() {
    let ours = vec![
        ike("aes256gcm16-prfsha384-ecp384"),
        ike("aes256-sha256-modp2048"),
    ];
    let offered = vec![
        ike("aes128-sha1-modp1024").to_wire(1),
        ike("aes256-sha256-modp2048").to_wire(2),
        ike("aes256gcm16-prfsha384-ecp384").to_wire(3),
    ];
    let (num, s) = select_ike(&ours, &offered).unwrap();
    assert_eq!(num, 3);
    assert_eq!(s.to_string(), "aes256gcm16-prfsha384-ecp384");
    // within one proposal our transform order wins too
    let ours = vec![ike("aes128-aes256-sha1-sha256-modp2048-modp1024")];
    let offered = vec![ike("aes256-aes128-sha256-sha1-modp1024-modp2048").to_wire(1)];
    let (_, s) = select_ike(&ours, &offered).unwrap();
    assert_eq!(s.to_string(), "aes128-sha1-prfsha1-modp2048");
    // but the initiator's KE group is used when allowed, avoiding INVALID_KE_PAYLOAD
    let (_, s) = select_ike_with_ke(&ours, &offered, Some(DhGroup::MODP1024)).unwrap();
    assert_eq!(s.dh, DhGroup::MODP1024);
    let (_, s) = select_ike_with_ke(&ours, &offered, Some(DhGroup::ECP384)).unwrap();
    assert_eq!(s.dh, DhGroup::MODP2048);
}

#[test]
fn select_ike_key_length_must_match() {
    let ours = vec![ike("aes256-sha256-modp2048")];
    let offered = vec![offer_ike(
        1,
        vec![
            tr_kl(TransformType::ENCR, 12, 128),
            tr(TransformType::PRF, 5),
            tr(TransformType::INTEG, 12),
            tr(TransformType::DH, 14),
        ],
    )];
    let e = select_ike(&ours, &offered).unwrap_err();
    match &e {
        ProposalError::NoProposalChosen { ours, theirs } => {
            assert_eq!(
                ours,
                "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048"
            );
            assert_eq!(
                theirs,
                "IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048"
            );
        }
        other => panic!("{other:?}"),
    }
    // AES without a Key Length attribute is not AES-256
    let mut bare = offered[0].clone();
    bare.transforms[0] = tr(TransformType::ENCR, 12);
    assert!(select_ike(&ours, core::slice::from_ref(&bare)).is_err());
    // an attribute we do not understand makes that transform unacceptable (3.3.6)
    let mut odd = bare;
    odd.transforms[0].attributes = vec![
        Attribute::Tv { ty: 14, value: 256 },
        Attribute::Tlv {
            ty: 99,
            value: vec![1],
        },
    ];
    assert!(select_ike(&ours, core::slice::from_ref(&odd)).is_err());
    // ... but other transforms of that type still count
    odd.transforms.push(tr_kl(TransformType::ENCR, 12, 256));
    assert!(select_ike(&ours, &[odd]).is_ok());
}

#[test]
fn select_ike_aead_without_integ_and_with_integ_none() {
    let ours = vec![ike("aes256gcm16-prfsha384-ecp384")];
    let base = vec![
        tr_kl(TransformType::ENCR, 20, 256),
        tr(TransformType::PRF, 6),
        tr(TransformType::DH, 20),
    ];
    let (_, s) = select_ike(&ours, &[offer_ike(1, base.clone())]).unwrap();
    assert_eq!(s.integ, None);
    let mut with_none = base.clone();
    with_none.push(tr(TransformType::INTEG, 0));
    let (_, s) = select_ike(&ours, &[offer_ike(1, with_none)]).unwrap();
    assert_eq!(s.integ, None);
    // a non-AEAD proposal without INTEG (or only NONE) is missing a mandatory type
    let ours = vec![ike("aes256-sha256-modp2048")];
    let mut no_integ = ike("aes256-sha256-modp2048").to_wire(1);
    no_integ
        .transforms
        .retain(|t| t.kind != TransformType::INTEG);
    assert!(select_ike(&ours, core::slice::from_ref(&no_integ)).is_err());
    no_integ.transforms.push(tr(TransformType::INTEG, 0));
    assert!(select_ike(&ours, &[no_integ]).is_err());
}

#[test]
fn select_ike_skips_unknown_ids_rejects_unknown_types_and_wrong_protocol() {
    let ours = vec![ike("aes256-sha256-modp2048")];
    // unknown transform ids are ignored
    let mut p = ike("aes256-sha256-modp2048").to_wire(1);
    p.transforms
        .insert(0, tr_kl(TransformType::ENCR, 1234, 256));
    p.transforms.push(tr(TransformType::DH, 4242));
    assert!(select_ike(&ours, core::slice::from_ref(&p)).is_ok());
    // an unknown transform type makes the whole proposal unacceptable, others still count
    let mut bad = p.clone();
    bad.num = 1;
    bad.transforms.push(tr(TransformType(6), 1));
    let mut good = p.clone();
    good.num = 2;
    assert!(select_ike(&ours, core::slice::from_ref(&bad)).is_err());
    assert_eq!(select_ike(&ours, &[bad, good]).unwrap().0, 2);
    // ESN is not an IKE transform type
    let mut esn = p.clone();
    esn.transforms.push(tr(TransformType::ESN, 0));
    assert!(select_ike(&ours, &[esn]).is_err());
    // wrong protocol skipped
    let mut espp = p;
    espp.protocol = ProtocolId::ESP;
    assert!(select_ike(&ours, &[espp]).is_err());
    // missing PRF or DH
    for kind in [TransformType::PRF, TransformType::DH, TransformType::ENCR] {
        let mut m = ike("aes256-sha256-modp2048").to_wire(1);
        m.transforms.retain(|t| t.kind != kind);
        assert!(select_ike(&ours, &[m]).is_err(), "missing {kind}");
    }
}

#[test]
fn select_esp_basics_and_esn() {
    let ours = vec![esp("aes256gcm16"), esp("aes256-sha256")];
    let offered = vec![
        esp("aes256-sha256").to_wire(1, 5, false),
        esp("aes256gcm16").to_wire(2, 5, false),
    ];
    let (num, s) = select_esp(&ours, &offered, false).unwrap();
    assert_eq!((num, s.to_string()), (2, "aes256gcm16".to_string()));
    assert!(!s.esn);
    // missing ESN transform: unacceptable
    let mut no_esn = esp("aes256gcm16").to_wire(1, 5, false);
    no_esn.transforms.retain(|t| t.kind != TransformType::ESN);
    assert!(select_esp(&ours, &[no_esn], false).is_err());
    // ESN only vs our noesn: no match; our esn-noesn picks the peer's
    let esn_only = esp("aes256gcm16-esn").to_wire(1, 5, false);
    assert!(select_esp(&ours, core::slice::from_ref(&esn_only), false).is_err());
    let (_, s) = select_esp(&[esp("aes256gcm16-esn-noesn")], &[esn_only], false).unwrap();
    assert!(s.esn);
    // AEAD with INTEG NONE accepted
    let p = offer_esp(
        1,
        vec![
            tr_kl(TransformType::ENCR, 20, 256),
            tr(TransformType::INTEG, 0),
            tr(TransformType::ESN, 0),
        ],
    );
    assert_eq!(select_esp(&ours, &[p], false).unwrap().1.integ, None);
    // SPI must be 4 bytes; PRF is not an ESP transform
    let mut bad_spi = esp("aes256gcm16").to_wire(1, 5, false);
    bad_spi.spi = vec![1, 2];
    assert!(select_esp(&ours, &[bad_spi], false).is_err());
    let mut prf = esp("aes256gcm16").to_wire(1, 5, false);
    prf.transforms.push(tr(TransformType::PRF, 5));
    assert!(select_esp(&ours, &[prf], false).is_err());
    // IKE proposal in an ESP selection is skipped
    assert!(select_esp(
        &ours,
        &[ike("aes256gcm16-prfsha256-ecp256").to_wire(1)],
        false
    )
    .is_err());
}

#[test]
fn select_esp_dh_handling() {
    let pfs = vec![esp("aes256-sha256-modp2048")];
    let nopfs = vec![esp("aes256-sha256")];
    let offer_pfs = esp("aes256-sha256-ecp256-modp2048").to_wire(1, 5, true);
    let offer_nopfs = esp("aes256-sha256").to_wire(1, 5, true);
    let offer_none = esp("aes256-sha256-modpnone").to_wire(1, 5, true);
    // with_dh=false: DH ignored on both sides
    for o in [&offer_pfs, &offer_nopfs] {
        assert_eq!(
            select_esp(&pfs, core::slice::from_ref(o), false)
                .unwrap()
                .1
                .dh,
            None
        );
        assert_eq!(
            select_esp(&nopfs, core::slice::from_ref(o), false)
                .unwrap()
                .1
                .dh,
            None
        );
    }
    // with_dh=true: PFS configured -> must match
    assert_eq!(
        select_esp(&pfs, core::slice::from_ref(&offer_pfs), true)
            .unwrap()
            .1
            .dh,
        Some(DhGroup::MODP2048)
    );
    assert!(select_esp(&pfs, core::slice::from_ref(&offer_nopfs), true).is_err());
    assert!(select_esp(&pfs, core::slice::from_ref(&offer_none), true).is_err());
    // no PFS configured: accepts absent DH or NONE, refuses a peer that insists on PFS
    assert_eq!(select_esp(&nopfs, &[offer_nopfs], true).unwrap().1.dh, None);
    assert_eq!(select_esp(&nopfs, &[offer_none], true).unwrap().1.dh, None);
    assert!(select_esp(&nopfs, core::slice::from_ref(&offer_pfs), true).is_err());
    // KE preference for CREATE_CHILD_SA
    let both = vec![esp("aes256-sha256-modp2048-ecp256")];
    let (_, s) = select_esp_with_ke(&both, &[offer_pfs], true, Some(DhGroup::ECP256)).unwrap();
    assert_eq!(s.dh, Some(DhGroup::ECP256));
    // the wire answer carries the group
    assert!(s
        .to_wire(1, 1)
        .transforms
        .contains(&tr(TransformType::DH, 19)));
}

#[test]
fn no_proposal_chosen_is_readable() {
    let e = select_esp(
        &[esp("aes256gcm16")],
        &[esp("aes128-sha1").to_wire(1, 5, false)],
        false,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "no proposal chosen: we offer [ESP:AES_GCM_16_256/NO_EXT_SEQ], the peer offers \
         [ESP:AES_CBC_128/HMAC_SHA1_96/NO_EXT_SEQ]"
    );
}

// ---------------------------------------------------------------- accept (initiator)

#[test]
fn accept_ike_checks_single_transforms_within_offer() {
    let ours = vec![ike("aes256-aes128-sha256-modp2048-modp1024")];
    let ok = ike("aes128-sha256-modp1024").to_wire(1);
    let s = accept_ike(&ours, &ok).unwrap();
    assert_eq!(s.to_string(), "aes128-sha256-prfsha256-modp1024");
    // two ENCR transforms
    let mut two = ok.clone();
    two.transforms.push(tr_kl(TransformType::ENCR, 12, 256));
    let e = accept_ike(&ours, &two).unwrap_err();
    assert!(e.to_string().contains("2 ENCR transforms"), "{e}");
    // two DH transforms
    let mut two = ok.clone();
    two.transforms.push(tr(TransformType::DH, 14));
    assert!(accept_ike(&ours, &two).is_err());
    // something we did not offer
    let e = accept_ike(&ours, &ike("aes256-sha256-ecp256").to_wire(1)).unwrap_err();
    assert!(
        e.to_string().contains("not among the proposals we sent"),
        "{e}"
    );
    // missing integrity for a CBC cipher
    let mut no_integ = ok.clone();
    no_integ
        .transforms
        .retain(|t| t.kind != TransformType::INTEG);
    assert!(accept_ike(&ours, &no_integ).is_err());
    // AEAD answered with a real integrity algorithm
    let ours = vec![ike("aes256gcm16-prfsha384-ecp384")];
    let mut p = ike("aes256gcm16-prfsha384-ecp384").to_wire(1);
    assert!(accept_ike(&ours, &p).is_ok());
    p.transforms.push(tr(TransformType::INTEG, 12));
    assert!(accept_ike(&ours, &p).is_err());
}

#[test]
fn accept_esp_checks() {
    let ours = vec![esp("aes256gcm16-ecp384"), esp("aes256-sha256-ecp384")];
    let s = accept_esp(&ours, &esp("aes256gcm16").to_wire(1, 5, false), false).unwrap();
    assert_eq!(s.dh, None);
    let s = accept_esp(&ours, &esp("aes256gcm16-ecp384").to_wire(1, 5, true), true).unwrap();
    assert_eq!(s.dh, Some(DhGroup::ECP384));
    // PFS configured but the responder dropped it
    assert!(accept_esp(&ours, &esp("aes256gcm16").to_wire(1, 5, true), true).is_err());
    // two ESN transforms
    assert!(accept_esp(
        &ours,
        &esp("aes256gcm16-esn-noesn").to_wire(1, 5, false),
        false
    )
    .is_err());
    // two INTEG transforms
    assert!(accept_esp(
        &ours,
        &esp("aes256-sha256-sha1").to_wire(1, 5, false),
        false
    )
    .is_err());
    // not offered
    assert!(accept_esp(&ours, &esp("aes128gcm16").to_wire(1, 5, false), false).is_err());
    // wrong SPI size
    let mut p = esp("aes256gcm16").to_wire(1, 5, false);
    p.spi.push(0);
    assert!(accept_esp(&ours, &p, false).is_err());
}

#[test]
fn dh_group_helpers() {
    let ours = vec![
        ike("aes256-sha256-ecp384-modp2048"),
        ike("aes128-sha1-modp2048-modp1024"),
    ];
    assert_eq!(
        ike_dh_groups(&ours),
        vec![DhGroup::ECP384, DhGroup::MODP2048, DhGroup::MODP1024]
    );
    assert!(ike_dh_acceptable(&ours, DhGroup::MODP1024));
    assert!(!ike_dh_acceptable(&ours, DhGroup::ECP256));
    assert!(!ike_dh_acceptable(&ours, DhGroup::NONE));
}

// ---------------------------------------------------------------- presets and compat

#[test]
fn preset_contents() {
    for n in preset_names() {
        let p = preset(n).unwrap_or_else(|| panic!("preset {n} must build"));
        assert_eq!(p.name, *n);
        assert!(!p.ike.is_empty() && !p.esp.is_empty() && !p.description.is_empty());
    }
    assert!(preset("nope").is_none());
    let d = preset("Azure-Default").unwrap();
    let ike_s: Vec<String> = d.ike.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        ike_s,
        [
            "aes256-sha1-prfsha1-modp1024",
            "aes256-sha256-prfsha256-modp1024",
            "aes128-sha1-prfsha1-modp1024",
            "aes128-sha256-prfsha256-modp1024"
        ]
    );
    let esp_s: Vec<String> = d.esp.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        esp_s,
        ["aes256gcm16", "aes256-sha1", "aes256-sha256", "aes128-sha1"]
    );
    assert!(d.esp.iter().all(|s| s.dh.is_empty()), "no PFS");
    assert_eq!(
        (d.ike_lifetime_s, d.child_lifetime_s, d.child_lifetime_kb),
        (28800, 27000, 102_400_000)
    );
    let g = preset("azure-gcm-ecp384").unwrap();
    assert_eq!(g.ike, vec![ike("aes256gcm16-prfsha384-ecp384")]);
    assert_eq!(g.esp, vec![esp("aes256gcm16-ecp384")]);
    assert_eq!(
        preset("azure-aes256-sha256-dh14").unwrap().esp,
        vec![esp("aes256-sha256-modp2048")]
    );
    assert_eq!(
        preset("azure-gcm256-ecp256").unwrap().ike,
        vec![ike("aes256gcm16-prfsha256-ecp256")]
    );
}

#[test]
fn compat_checks() {
    let azure = preset("azure-default").unwrap();
    assert_eq!(could_match_ike(&azure.ike, &azure.ike), Ok(()));
    assert_eq!(
        could_match_ike(&[ike("aes256-sha256-modp1024")], &azure.ike),
        Ok(())
    );
    let e = could_match_ike(&[ike("aes256-sha256-modp2048")], &azure.ike).unwrap_err();
    assert!(
        e.contains("DH group") && e.contains("modp2048") && e.contains("modp1024"),
        "{e}"
    );
    let e = could_match_ike(&[ike("aes256-sha512-modp1024")], &azure.ike).unwrap_err();
    assert!(e.contains("integrity") && e.contains("sha512"), "{e}");
    // every algorithm has a counterpart but no single proposal matches
    let e = could_match_ike(
        &[ike("aes256-sha1-modp2048"), ike("aes128-sha256-modp1024")],
        &[ike("aes256-sha1-modp1024"), ike("aes128-sha256-modp2048")],
    );
    assert!(e.unwrap_err().contains("not within one proposal"));

    assert_eq!(
        could_match_esp(&[esp("aes256gcm16")], &azure.esp, true),
        Ok(())
    );
    let e = could_match_esp(&[esp("aes192gcm16")], &azure.esp, true).unwrap_err();
    assert!(e.contains("encryption"), "{e}");
    // PFS mismatch: fine for IKE_AUTH, fails at rekey
    let ours = [esp("aes256gcm16-modp2048")];
    assert_eq!(could_match_esp(&ours, &azure.esp, false), Ok(()));
    let e = could_match_esp(&ours, &azure.esp, true).unwrap_err();
    assert!(
        e.contains("PFS mismatch") && e.contains("rekey") && e.contains("modp2048"),
        "{e}"
    );
    let ecp = preset("azure-gcm-ecp384").unwrap();
    let e = could_match_esp(&[esp("aes256gcm16")], &ecp.esp, true).unwrap_err();
    assert!(e.contains("we use no PFS") && e.contains("ecp384"), "{e}");
    assert_eq!(
        could_match_esp(&[esp("aes256gcm16-ecp384")], &ecp.esp, true),
        Ok(())
    );
    // modpnone: PFS optional on our side matches both
    assert_eq!(
        could_match_esp(&[esp("aes256gcm16-ecp384-modpnone")], &azure.esp, true),
        Ok(())
    );
    assert_eq!(
        could_match_esp(&[esp("aes256gcm16-ecp384-modpnone")], &ecp.esp, true),
        Ok(())
    );
}
