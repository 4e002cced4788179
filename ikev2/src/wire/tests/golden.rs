//! Golden messages built by hand from the RFC 7296 figures (3.1 header, 3.2 generic payload
//! header, 3.3 SA/proposal/transform/attribute, 3.4 KE, 3.9 Nonce, 3.10 Notify, 3.5 ID,
//! 3.8 AUTH, 3.13 TS, 3.14 SK; RFC 7383 2.5 SKF). Each is decoded field by field and
//! re-encoded byte-identical. The same messages seed the fuzz corpus.

use crate::wire::*;
use std::net::{IpAddr, Ipv4Addr};

/// Filler bytes standing for a public value, nonce, hash or ciphertext: content is opaque to
/// the codec, only the lengths matter.
fn filler(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
        .collect()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

const SPI_I: [u8; 8] = [0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f, 0x70, 0x81];

/// An IKE_SA_INIT request: HDR, SAi1, KEi, Ni, N(NAT_DETECTION_SOURCE_IP),
/// N(NAT_DETECTION_DESTINATION_IP) (RFC 7296 1.2 and 2.23). 432 bytes.
pub(crate) fn ike_sa_init_request() -> Vec<u8> {
    let ke_data = filler(256, 1);
    let nonce = filler(32, 2);
    let nat_src = filler(20, 3);
    let nat_dst = filler(20, 4);
    cat(&[
        // 3.1 IKE header
        &SPI_I,              // IKE SA Initiator's SPI
        &[0; 8],             // IKE SA Responder's SPI: zero in the first message
        &[33],               // Next Payload: SA
        &[0x20],             // MjVer 2, MnVer 0
        &[34],               // Exchange Type: IKE_SA_INIT
        &[0x08],             // Flags: Initiator
        &[0, 0, 0, 0],       // Message ID 0
        &[0, 0, 0x01, 0xb0], // Length 432 = 28 + 48 + 264 + 36 + 28 + 28
        // 3.2 generic header of the SA payload: next KE (34), not critical, length 48
        &[34, 0x00, 0x00, 0x30],
        // 3.3.1 proposal: last (0), reserved, length 44, #1, IKE (1), SPI size 0, 4 transforms
        &[0, 0, 0x00, 0x2c, 1, 1, 0, 4],
        // 3.3.2 transform: more (3), reserved, length 12, ENCR (1), reserved, AES-CBC (12)
        &[3, 0, 0x00, 0x0c, 1, 0, 0x00, 12],
        // 3.3.5 attribute, TV format: AF=1 | Key Length (14), value 256
        &[0x80, 0x0e, 0x01, 0x00],
        // transform: more, length 8, PRF (2), PRF_HMAC_SHA2_256 (5)
        &[3, 0, 0x00, 0x08, 2, 0, 0x00, 5],
        // transform: more, length 8, INTEG (3), AUTH_HMAC_SHA2_256_128 (12)
        &[3, 0, 0x00, 0x08, 3, 0, 0x00, 12],
        // transform: last (0), length 8, DH (4), group 14 (2048-bit MODP)
        &[0, 0, 0x00, 0x08, 4, 0, 0x00, 14],
        // 3.4 KE: next Nonce (40), length 264 = 4 + 4 + 256; group 14, reserved, data
        &[40, 0x00, 0x01, 0x08],
        &[0x00, 14, 0, 0],
        &ke_data,
        // 3.9 Nonce: next Notify (41), length 36, 32 bytes of nonce
        &[41, 0x00, 0x00, 0x24],
        &nonce,
        // 3.10 Notify: next Notify, length 28; protocol 0, SPI size 0,
        // NAT_DETECTION_SOURCE_IP (16388 = 0x4004), SHA-1 hash (2.23)
        &[41, 0x00, 0x00, 0x1c],
        &[0, 0, 0x40, 0x04],
        &nat_src,
        // last payload: next NONE (0); NAT_DETECTION_DESTINATION_IP (16389 = 0x4005)
        &[0, 0x00, 0x00, 0x1c],
        &[0, 0, 0x40, 0x05],
        &nat_dst,
    ])
}

/// An IKE_AUTH request as it travels: HDR, SK {IDi, AUTH, SAi2, TSi, TSr} with the SK body
/// opaque (IV || ciphertext || ICV; 16 + 96 + 16 bytes here).
pub(crate) fn ike_auth_request_sealed() -> Vec<u8> {
    let body = filler(128, 5);
    cat(&[
        &SPI_I,
        &[0x99, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22], // responder's SPI
        &[46],                                             // Next Payload: SK
        &[0x20],                                           // version 2.0
        &[35],                                             // IKE_AUTH
        &[0x08],                                           // Initiator
        &[0, 0, 0, 1],                                     // Message ID 1
        &[0, 0, 0x00, 0xa0],                               // Length 160 = 28 + 4 + 128
        // 3.14 SK generic header: Next Payload names the first inner payload, IDi (35)
        &[35, 0x00, 0x00, 0x84], // length 132 = 4 + 128
        &body,
    ])
}

/// The decrypted content of that SK payload: IDi, AUTH, SAi2, TSi, TSr (RFC 7296 1.2).
pub(crate) fn ike_auth_inner_chain() -> Vec<u8> {
    let auth = filler(32, 6);
    cat(&[
        // 3.5 IDi: next AUTH (39), length 22 = 4 + 4 + 14; ID_FQDN (2), reserved, "gw.example.com"
        &[39, 0, 0x00, 0x16],
        &[2, 0, 0, 0],
        b"gw.example.com",
        // 3.8 AUTH: next SA (33), length 40; Shared Key MIC (2), reserved, 32-byte MAC
        &[33, 0, 0x00, 0x28],
        &[2, 0, 0, 0],
        &auth,
        // 3.3 SA: next TSi (44), length 49 = 4 + 45
        &[44, 0, 0x00, 0x31],
        // proposal: last, length 45 = 8 + 4 + 12 + 8 + 13, #1, ESP (3), SPI size 4,
        // 3 transforms, then the 4-byte SPI
        &[0, 0, 0x00, 0x2d, 1, 3, 4, 3],
        &[0xc1, 0x2a, 0x00, 0x07],
        // ENCR AES-GCM-16 (20) with Key Length 256
        &[3, 0, 0x00, 0x0c, 1, 0, 0x00, 20],
        &[0x80, 0x0e, 0x01, 0x00],
        // ESN (5): No Extended Sequence Numbers (0)
        &[3, 0, 0x00, 0x08, 5, 0, 0x00, 0],
        // last transform, length 13: an unknown transform type 250, id 1, carrying a TLV
        // attribute (AF=0, 3.3.5): type 99, length 1, value 0xaa
        &[0, 0, 0x00, 0x0d, 250, 0, 0x00, 1],
        &[0x00, 0x63, 0x00, 0x01, 0xaa],
        // 3.13 TSi: next TSr (45), length 4 + 4 + 16; one selector
        &[45, 0, 0x00, 0x18],
        &[1, 0, 0, 0],
        // 3.13.1 TS_IPV4_ADDR_RANGE (7), any protocol, length 16, ports 0-65535,
        // 10.0.0.0 - 10.0.255.255
        &[7, 0, 0x00, 0x10, 0x00, 0x00, 0xff, 0xff],
        &[10, 0, 0, 0, 10, 0, 255, 255],
        // TSr: last, length 4 + 4 + 40; one selector, TS_IPV6_ADDR_RANGE (8), TCP (6),
        // length 40, port 443 only, fd00:: - fd00::ffff
        &[0, 0, 0x00, 0x30],
        &[1, 0, 0, 0],
        &[8, 6, 0x00, 0x28, 0x01, 0xbb, 0x01, 0xbb],
        &[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        &[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff],
    ])
}

/// An INFORMATIONAL response fragment (RFC 7383 2.5): HDR, SKF #2 of 3 (Next Payload 0 in
/// fragments after the first).
pub(crate) fn skf_fragment() -> Vec<u8> {
    let body = filler(48, 9);
    cat(&[
        &SPI_I,
        &[0x99, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22],
        &[53],                     // Next Payload: SKF
        &[0x20],                   // version 2.0
        &[37],                     // INFORMATIONAL
        &[0x20],                   // Response
        &[0, 0, 0, 7],             // Message ID 7
        &[0, 0, 0x00, 0x54],       // Length 84 = 28 + 4 + 4 + 48
        &[0, 0x00, 0x00, 0x38],    // generic header: next 0, length 56 = 4 + 4 + 48
        &[0x00, 0x02, 0x00, 0x03], // Fragment Number 2, Total Fragments 3
        &body,
    ])
}

#[test]
fn ike_sa_init_request_decodes_field_by_field() {
    let bytes = ike_sa_init_request();
    assert_eq!(bytes.len(), 432);
    let m = decode_message(&bytes).expect("decodes");
    let h = m.header;
    assert_eq!(h.spi_i, u64::from_be_bytes(SPI_I));
    assert_eq!(h.spi_r, 0);
    assert_eq!(h.next_payload, PayloadType::SA);
    assert_eq!(h.version, Header::VERSION_2_0);
    assert_eq!(h.exchange, ExchangeType::IKE_SA_INIT);
    assert!(h.flags.initiator() && !h.flags.response());
    assert_eq!(h.message_id, 0);
    assert_eq!(h.length, 432);
    assert_eq!(decode_header(&bytes), Ok(h));

    assert_eq!(m.payloads.len(), 5);
    let Payload::Sa(sa) = &m.payloads[0] else {
        panic!("not SA: {:?}", m.payloads[0])
    };
    assert_eq!(sa.proposals.len(), 1);
    let p = &sa.proposals[0];
    assert_eq!((p.num, p.protocol, p.spi.len()), (1, ProtocolId::IKE, 0));
    let t: Vec<(TransformType, u16)> = p.transforms.iter().map(|t| (t.kind, t.id)).collect();
    assert_eq!(
        t,
        [
            (TransformType::ENCR, EncrId::AES_CBC.0),
            (TransformType::PRF, PrfId::HMAC_SHA2_256.0),
            (TransformType::INTEG, IntegId::HMAC_SHA2_256_128.0),
            (TransformType::DH, DhGroup::MODP2048.0),
        ]
    );
    assert_eq!(p.transforms[0].key_length(), Some(256));
    assert_eq!(
        p.transforms[0].attributes,
        [Attribute::Tv { ty: 14, value: 256 }]
    );
    assert!(p.transforms[1..].iter().all(|t| t.attributes.is_empty()));

    let Payload::Ke(ke) = &m.payloads[1] else {
        panic!("not KE")
    };
    assert_eq!(ke.group, DhGroup::MODP2048);
    assert_eq!(ke.data, filler(256, 1));
    assert_eq!(m.payloads[2], Payload::Nonce(filler(32, 2)));
    let nat = |kind, seed| {
        Payload::Notify(Notify {
            protocol: ProtocolId::NONE,
            spi: vec![],
            kind,
            data: filler(20, seed),
        })
    };
    assert_eq!(m.payloads[3], nat(NotifyType::NAT_DETECTION_SOURCE_IP, 3));
    assert_eq!(
        m.payloads[4],
        nat(NotifyType::NAT_DETECTION_DESTINATION_IP, 4)
    );

    assert_eq!(encode_message(&m), bytes);
}

#[test]
fn ike_sa_init_request_encodes_from_repr() {
    // Built from the Repr with wrong header next_payload/length: the encoder computes both.
    let mut m = decode_message(&ike_sa_init_request()).unwrap();
    m.header.next_payload = PayloadType::NONE;
    m.header.length = 0;
    assert_eq!(encode_message(&m), ike_sa_init_request());
}

#[test]
fn ike_auth_sealed_and_inner_chain() {
    let bytes = ike_auth_request_sealed();
    let m = decode_message(&bytes).expect("decodes");
    assert_eq!(m.header.exchange, ExchangeType::IKE_AUTH);
    assert_eq!(m.header.message_id, 1);
    assert_eq!(
        m.payloads,
        [Payload::Sk(Encrypted {
            first_inner: PayloadType::IDI,
            body: filler(128, 5)
        })]
    );
    assert_eq!(encode_message(&m), bytes);

    let inner = ike_auth_inner_chain();
    let ps = decode_payloads(PayloadType::IDI, &inner).expect("inner chain decodes");
    let kinds: Vec<PayloadType> = ps.iter().map(Payload::payload_type).collect();
    use PayloadType as P;
    assert_eq!(kinds, [P::IDI, P::AUTH, P::SA, P::TSI, P::TSR]);
    assert_eq!(
        ps[0],
        Payload::IdI(Identification {
            id_type: IdType::FQDN,
            data: b"gw.example.com".to_vec()
        })
    );
    assert_eq!(
        ps[1],
        Payload::Auth(AuthPayload {
            method: AuthMethod::SHARED_KEY_MIC,
            data: filler(32, 6)
        })
    );
    let Payload::Sa(sa) = &ps[2] else { panic!() };
    let p = &sa.proposals[0];
    assert_eq!(
        (p.protocol, p.spi.as_slice()),
        (ProtocolId::ESP, &[0xc1, 0x2a, 0x00, 0x07][..])
    );
    assert_eq!(p.transforms.len(), 3);
    assert_eq!(
        (p.transforms[0].id, p.transforms[0].key_length()),
        (EncrId::AES_GCM_16.0, Some(256))
    );
    assert_eq!(
        (p.transforms[1].kind, p.transforms[1].id),
        (TransformType::ESN, EsnId::NO_ESN.0)
    );
    assert_eq!(p.transforms[2].kind, TransformType(250));
    assert_eq!(
        p.transforms[2].attributes,
        [Attribute::Tlv {
            ty: 99,
            value: vec![0xaa]
        }]
    );
    assert_eq!(
        ps[3],
        Payload::TsI(vec![TrafficSelector {
            ts_type: TsType::IPV4_ADDR_RANGE,
            ip_protocol: 0,
            start_port: 0,
            end_port: 65535,
            start: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)),
            end: IpAddr::V4(Ipv4Addr::new(10, 0, 255, 255)),
        }])
    );
    let Payload::TsR(tsr) = &ps[4] else { panic!() };
    assert_eq!(
        (
            tsr[0].ts_type,
            tsr[0].ip_protocol,
            tsr[0].start_port,
            tsr[0].end_port
        ),
        (TsType::IPV6_ADDR_RANGE, 6, 443, 443)
    );
    assert_eq!(tsr[0].start, "fd00::".parse::<IpAddr>().unwrap());
    assert_eq!(tsr[0].end, "fd00::ffff".parse::<IpAddr>().unwrap());

    assert_eq!(encode_payloads(&ps), (PayloadType::IDI, inner));
}

#[test]
fn skf_fragment_decodes() {
    let bytes = skf_fragment();
    let m = decode_message(&bytes).expect("decodes");
    assert!(m.header.flags.response());
    assert_eq!(
        m.payloads,
        [Payload::Skf(EncryptedFragment {
            first_inner: PayloadType::NONE,
            fragment_number: 2,
            total_fragments: 3,
            body: filler(48, 9),
        })]
    );
    assert_eq!(encode_message(&m), bytes);
}

#[test]
fn unknown_payloads_keep_their_critical_bit() {
    // HDR, then an unknown type 200 marked critical (3.2: C bit 0x80; the other reserved
    // bits, here 0x01, are ignored), then an unknown type 201 not critical.
    let mut bytes = ike_sa_init_request()[..28].to_vec();
    bytes[16] = 200;
    bytes[24..28].copy_from_slice(&(28u32 + 6 + 4).to_be_bytes());
    bytes.extend_from_slice(&[201, 0x81, 0, 6, 0xde, 0xad, 0, 0x00, 0, 4]);
    let m = decode_message(&bytes).unwrap();
    assert_eq!(
        m.payloads,
        [
            Payload::Unknown {
                kind: PayloadType(200),
                critical: true,
                body: vec![0xde, 0xad]
            },
            Payload::Unknown {
                kind: PayloadType(201),
                critical: false,
                body: vec![]
            },
        ]
    );
    // Re-encoded with the ignored reserved bit cleared.
    bytes[29] = 0x80;
    assert_eq!(encode_message(&m), bytes);
}
