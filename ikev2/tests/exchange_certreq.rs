//! CERTREQ is tolerated inside IKE_AUTH (RFC 7296 3.7: a peer using PSK authentication may
//! still ask for certificates, as strongSwan does when it has CA certificates loaded; the
//! request is a hint and may be ignored). A scripted initiator ("Mallory",
//! ikev2/fuzz/common/mallory.rs) sends IDi, CERTREQ, AUTH, SA, TSi, TSr to a real responder.

#[path = "../fuzz/common/mallory.rs"]
mod mallory;

use ikev2::wire::{CertPayload, ExchangeType, Payload};
use ikev2::Event;
use mallory::*;

/// X.509 Certificate - Signature (RFC 7296 3.6, encoding 4).
const X509_SIGNATURE: u8 = 4;

#[test]
fn certreq_in_ike_auth_is_ignored_and_the_sa_established() {
    for (seed, ike) in [(70u64, IKE), (71, IKE_CBC)] {
        for ca_hashes in [2usize, 0] {
            let mut r = Responder::new(seed, ike);
            let mut m = Mallory::new(seed + 1000, ike);
            assert!(m.ike_sa_init(&mut r), "{ike}: IKE_SA_INIT");
            let mut payloads = m.auth_payloads(PSK);
            // The CA field: concatenated SHA-1 hashes of the CAs' public keys (3.7).
            let certreq = Payload::CertReq(CertPayload {
                encoding: X509_SIGNATURE,
                data: [0x5a; 20].repeat(ca_hashes),
            });
            payloads.insert(1, certreq);
            let req = m.request(ExchangeType::IKE_AUTH, &payloads);
            let replies = r.deliver(&req);
            assert_eq!(replies.len(), 1, "{ike}: one IKE_AUTH response");
            let (h, inner) = m.open(&replies[0].payload).expect("response opens");
            assert!(h.flags.response());
            assert_eq!(h.exchange, ExchangeType::IKE_AUTH);
            for want in ["IDr", "AUTH", "SA", "TSi", "TSr"] {
                assert!(
                    inner.iter().any(|p| match want {
                        "IDr" => matches!(p, Payload::IdR(_)),
                        "AUTH" => matches!(p, Payload::Auth(_)),
                        "SA" => matches!(p, Payload::Sa(_)),
                        "TSi" => matches!(p, Payload::TsI(_)),
                        _ => matches!(p, Payload::TsR(_)),
                    }),
                    "{ike}: response lacks {want}: {inner:?}"
                );
            }
            // No error notification (types below 16384, RFC 7296 3.10.1) and no CERT: we
            // authenticate with the PSK.
            assert!(
                !inner.iter().any(|p| matches!(
                    p,
                    Payload::Notify(n) if n.kind.0 < 16384
                ) || matches!(p, Payload::Cert(_))),
                "{ike}: {inner:?}"
            );
            assert!(r
                .events
                .iter()
                .any(|e| matches!(e, Event::IkeSaEstablished { .. })));
            assert!(r
                .events
                .iter()
                .any(|e| matches!(e, Event::ChildSaEstablished(_))));
            assert_eq!(r.failures(), 0);
            assert!(m.liveness(&mut r), "{ike}: the SA works afterwards");
        }
    }
}
