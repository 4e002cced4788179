//! Property round trips: Repr -> encode -> decode == Repr, for every payload type and for
//! whole messages.

use super::strategies::*;
use crate::wire::*;
use proptest::prelude::*;

/// Encode one payload as the only payload of a message and decode it back; for payloads
/// allowed inside SK, also through `encode_payloads`/`decode_payloads`.
fn round_trip(p: Payload) -> Result<(), TestCaseError> {
    let m = normalized(Message {
        header: Header {
            spi_i: 1,
            spi_r: 2,
            next_payload: PayloadType::NONE,
            version: Header::VERSION_2_0,
            exchange: ExchangeType::INFORMATIONAL,
            flags: Flags(0),
            message_id: 3,
            length: 0,
        },
        payloads: vec![p.clone()],
    });
    let bytes = encode_message(&m);
    prop_assert_eq!(bytes.len(), m.header.length as usize);
    prop_assert_eq!(decode_message(&bytes), Ok(m));
    if !matches!(p, Payload::Sk(_) | Payload::Skf(_)) {
        let (first, chain) = encode_payloads(std::slice::from_ref(&p));
        prop_assert_eq!(first, p.payload_type());
        prop_assert_eq!(decode_payloads(first, &chain), Ok(vec![p]));
    }
    Ok(())
}

macro_rules! payload_round_trips {
    ($($name:ident: $strategy:expr;)*) => {
        proptest! {
            $(
                #[test]
                fn $name(p in $strategy) {
                    round_trip(p)?;
                }
            )*
        }
    };
}

payload_round_trips! {
    sa_round_trips: sa().prop_map(Payload::Sa);
    ke_round_trips: ke().prop_map(Payload::Ke);
    idi_round_trips: id().prop_map(Payload::IdI);
    idr_round_trips: id().prop_map(Payload::IdR);
    cert_round_trips: cert().prop_map(Payload::Cert);
    certreq_round_trips: cert().prop_map(Payload::CertReq);
    auth_round_trips: auth().prop_map(Payload::Auth);
    nonce_round_trips: bytes(300).prop_map(Payload::Nonce);
    notify_round_trips: notify().prop_map(Payload::Notify);
    delete_round_trips: delete().prop_map(Payload::Delete);
    vendor_id_round_trips: bytes(64).prop_map(Payload::VendorId);
    tsi_round_trips: selectors().prop_map(Payload::TsI);
    tsr_round_trips: selectors().prop_map(Payload::TsR);
    cp_round_trips: bytes(64).prop_map(Payload::Cp);
    sk_round_trips: sk().prop_map(Payload::Sk);
    skf_round_trips: skf().prop_map(Payload::Skf);
    unknown_round_trips: unknown();
}

proptest! {
    #[test]
    fn message_round_trips(m in message()) {
        let bytes = encode_message(&m);
        prop_assert_eq!(decode_header(&bytes), Ok(m.header));
        prop_assert_eq!(decode_message(&bytes), Ok(m));
    }

    #[test]
    fn inner_chain_round_trips(ps in proptest::collection::vec(plain_payload(), 0..10)) {
        let (first, bytes) = encode_payloads(&ps);
        prop_assert_eq!(decode_payloads(first, &bytes), Ok(ps));
    }
}
