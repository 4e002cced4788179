//! proptest strategies producing Reprs the decoder could have produced (valid ranges: SPI
//! sizes 0/4/8, attribute types below 0x8000, TS addresses of their type's family, SK/SKF
//! only last, unknown payload types outside the implemented set).

use crate::wire::*;
use proptest::collection::vec;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub(crate) fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=max)
}

pub(crate) fn spi() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![Just(0usize), Just(4), Just(8)].prop_flat_map(|n| vec(any::<u8>(), n))
}

pub(crate) fn attribute() -> impl Strategy<Value = Attribute> {
    prop_oneof![
        (0u16..0x8000, any::<u16>()).prop_map(|(ty, value)| Attribute::Tv { ty, value }),
        (0u16..0x8000, bytes(12)).prop_map(|(ty, value)| Attribute::Tlv { ty, value }),
    ]
}

pub(crate) fn transform() -> impl Strategy<Value = Transform> {
    (any::<u8>(), any::<u16>(), vec(attribute(), 0..3)).prop_map(|(k, id, attributes)| Transform {
        kind: TransformType(k),
        id,
        attributes,
    })
}

pub(crate) fn proposal() -> impl Strategy<Value = Proposal> {
    (any::<u8>(), any::<u8>(), spi(), vec(transform(), 0..6)).prop_map(
        |(num, p, spi, transforms)| Proposal {
            num,
            protocol: ProtocolId(p),
            spi,
            transforms,
        },
    )
}

pub(crate) fn sa() -> impl Strategy<Value = SaPayload> {
    vec(proposal(), 1..4).prop_map(|proposals| SaPayload { proposals })
}

pub(crate) fn ke() -> impl Strategy<Value = KePayload> {
    (any::<u16>(), vec(any::<u8>(), 1..300)).prop_map(|(g, data)| KePayload {
        group: DhGroup(g),
        data,
    })
}

pub(crate) fn id() -> impl Strategy<Value = Identification> {
    (any::<u8>(), bytes(40)).prop_map(|(t, data)| Identification {
        id_type: IdType(t),
        data,
    })
}

pub(crate) fn cert() -> impl Strategy<Value = CertPayload> {
    (any::<u8>(), bytes(40)).prop_map(|(encoding, data)| CertPayload { encoding, data })
}

pub(crate) fn auth() -> impl Strategy<Value = AuthPayload> {
    (any::<u8>(), bytes(64)).prop_map(|(m, data)| AuthPayload {
        method: AuthMethod(m),
        data,
    })
}

pub(crate) fn notify() -> impl Strategy<Value = Notify> {
    (any::<u8>(), spi(), any::<u16>(), bytes(40)).prop_map(|(p, spi, k, data)| Notify {
        protocol: ProtocolId(p),
        spi,
        kind: NotifyType(k),
        data,
    })
}

pub(crate) fn delete() -> impl Strategy<Value = Delete> {
    let spis = prop_oneof![
        Just((0u8, vec![])),
        (1..=8u8, 1usize..10)
            .prop_flat_map(|(size, n)| (Just(size), vec(vec(any::<u8>(), usize::from(size)), n))),
    ];
    (any::<u8>(), spis).prop_map(|(p, (spi_size, spis))| Delete {
        protocol: ProtocolId(p),
        spi_size,
        spis,
    })
}

pub(crate) fn selector() -> impl Strategy<Value = TrafficSelector> {
    let v4 = (any::<[u8; 4]>(), any::<[u8; 4]>()).prop_map(|(a, b)| {
        (
            TsType::IPV4_ADDR_RANGE,
            IpAddr::V4(Ipv4Addr::from(a)),
            IpAddr::V4(Ipv4Addr::from(b)),
        )
    });
    let v6 = (any::<[u8; 16]>(), any::<[u8; 16]>()).prop_map(|(a, b)| {
        (
            TsType::IPV6_ADDR_RANGE,
            IpAddr::V6(Ipv6Addr::from(a)),
            IpAddr::V6(Ipv6Addr::from(b)),
        )
    });
    (prop_oneof![v4, v6], any::<u8>(), any::<u16>(), any::<u16>()).prop_map(
        |((ts_type, start, end), ip_protocol, start_port, end_port)| TrafficSelector {
            ts_type,
            ip_protocol,
            start_port,
            end_port,
            start,
            end,
        },
    )
}

pub(crate) fn selectors() -> impl Strategy<Value = Vec<TrafficSelector>> {
    vec(selector(), 0..5)
}

/// Payload types the codec does not implement (so they decode as `Unknown`): anything but
/// NONE, 33..=47 and SKF (53). EAP (48) is among them.
pub(crate) fn unknown_kind() -> impl Strategy<Value = PayloadType> {
    (1u8..=255)
        .prop_filter("implemented type", |k| !(33..=47).contains(k) && *k != 53)
        .prop_map(PayloadType)
}

pub(crate) fn unknown() -> impl Strategy<Value = Payload> {
    (unknown_kind(), any::<bool>(), bytes(40)).prop_map(|(kind, critical, body)| Payload::Unknown {
        kind,
        critical,
        body,
    })
}

pub(crate) fn sk() -> impl Strategy<Value = Encrypted> {
    (any::<u8>(), bytes(80)).prop_map(|(f, body)| Encrypted {
        first_inner: PayloadType(f),
        body,
    })
}

pub(crate) fn skf() -> impl Strategy<Value = EncryptedFragment> {
    (1..=u16::MAX)
        .prop_flat_map(|total| (1..=total, Just(total)))
        .prop_flat_map(|(n, t)| (Just(n), Just(t), any::<u8>(), bytes(80)))
        .prop_map(
            |(fragment_number, total_fragments, f, body)| EncryptedFragment {
                first_inner: PayloadType(f),
                fragment_number,
                total_fragments,
                body,
            },
        )
}

/// Any payload that may appear before the end of a chain (not SK/SKF).
pub(crate) fn plain_payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        sa().prop_map(Payload::Sa),
        ke().prop_map(Payload::Ke),
        id().prop_map(Payload::IdI),
        id().prop_map(Payload::IdR),
        cert().prop_map(Payload::Cert),
        cert().prop_map(Payload::CertReq),
        auth().prop_map(Payload::Auth),
        bytes(64).prop_map(Payload::Nonce),
        notify().prop_map(Payload::Notify),
        delete().prop_map(Payload::Delete),
        bytes(40).prop_map(Payload::VendorId),
        selectors().prop_map(Payload::TsI),
        selectors().prop_map(Payload::TsR),
        bytes(40).prop_map(Payload::Cp),
        unknown(),
    ]
}

pub(crate) fn header() -> impl Strategy<Value = Header> {
    (
        any::<u64>(),
        any::<u64>(),
        0u8..16,
        any::<u8>(),
        any::<u8>(),
        any::<u32>(),
    )
        .prop_map(|(spi_i, spi_r, minor, x, f, message_id)| Header {
            spi_i,
            spi_r,
            next_payload: PayloadType::NONE,
            version: 0x20 | minor,
            exchange: ExchangeType(x),
            flags: Flags(f),
            message_id,
            length: 0,
        })
}

/// A whole message: plain payloads, optionally ending with SK or SKF.
pub(crate) fn message() -> impl Strategy<Value = Message> {
    let last = prop_oneof![
        2 => Just(None),
        1 => sk().prop_map(|s| Some(Payload::Sk(s))),
        1 => skf().prop_map(|s| Some(Payload::Skf(s))),
    ];
    (header(), vec(plain_payload(), 0..8), last).prop_map(|(header, mut payloads, last)| {
        payloads.extend(last);
        normalized(Message { header, payloads })
    })
}

/// Fill in the header fields the encoder computes, so a round trip compares equal.
pub(crate) fn normalized(mut m: Message) -> Message {
    let (first, body) = encode_payloads(&m.payloads);
    m.header.next_payload = first;
    m.header.length = (Header::LEN + body.len()) as u32;
    m
}
