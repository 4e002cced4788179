//! IANA registries used by IKEv2 (RFC 7296 section 3 and the IANA "IKEv2 Parameters" registry).
//!
//! Every registry is an *open* enum: a newtype over the wire integer with named constants, so a
//! value we do not know decodes, round-trips and can be answered (e.g. with
//! UNSUPPORTED_CRITICAL_PAYLOAD) instead of failing the parse.

macro_rules! open_enum {
    ($(#[$m:meta])* $name:ident($repr:ty) { $($(#[$cm:meta])* $c:ident = $v:expr,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub $repr);
        impl $name {
            $($(#[$cm])* pub const $c: $name = $name($v);)*
            /// The registry name of a known value.
            pub fn name(self) -> Option<&'static str> {
                match self.0 { $($v => Some(stringify!($c)),)* _ => None }
            }
        }
        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, "{}({})", stringify!($name), self.0),
                }
            }
        }
        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Debug::fmt(self, f)
            }
        }
        impl From<$repr> for $name { fn from(v: $repr) -> Self { $name(v) } }
        impl From<$name> for $repr { fn from(v: $name) -> Self { v.0 } }
    };
}

open_enum! {
    /// Exchange types (RFC 7296 3.1).
    ExchangeType(u8) {
        IKE_SA_INIT = 34,
        IKE_AUTH = 35,
        CREATE_CHILD_SA = 36,
        INFORMATIONAL = 37,
    }
}

open_enum! {
    /// Payload types (RFC 7296 3.2; SKF from RFC 7383).
    PayloadType(u8) {
        NONE = 0,
        SA = 33,
        KE = 34,
        IDI = 35,
        IDR = 36,
        CERT = 37,
        CERTREQ = 38,
        AUTH = 39,
        NONCE = 40,
        NOTIFY = 41,
        DELETE = 42,
        VENDOR_ID = 43,
        TSI = 44,
        TSR = 45,
        SK = 46,
        CP = 47,
        EAP = 48,
        SKF = 53,
    }
}

open_enum! {
    /// Security protocol identifiers (RFC 7296 3.3.1).
    ProtocolId(u8) {
        NONE = 0,
        IKE = 1,
        AH = 2,
        ESP = 3,
    }
}

open_enum! {
    /// Transform types (RFC 7296 3.3.2).
    TransformType(u8) {
        ENCR = 1,
        PRF = 2,
        INTEG = 3,
        DH = 4,
        ESN = 5,
    }
}

open_enum! {
    /// Transform type 1: encryption algorithms.
    EncrId(u16) {
        DES_IV64 = 1,
        DES = 2,
        DES3 = 3,
        NULL = 11,
        AES_CBC = 12,
        AES_CTR = 13,
        AES_CCM_8 = 14,
        AES_CCM_12 = 15,
        AES_CCM_16 = 16,
        AES_GCM_8 = 18,
        AES_GCM_12 = 19,
        AES_GCM_16 = 20,
        CHACHA20_POLY1305 = 28,
    }
}

open_enum! {
    /// Transform type 2: pseudo-random functions.
    PrfId(u16) {
        HMAC_MD5 = 1,
        HMAC_SHA1 = 2,
        AES128_XCBC = 4,
        HMAC_SHA2_256 = 5,
        HMAC_SHA2_384 = 6,
        HMAC_SHA2_512 = 7,
    }
}

open_enum! {
    /// Transform type 3: integrity algorithms.
    IntegId(u16) {
        NONE = 0,
        HMAC_MD5_96 = 1,
        HMAC_SHA1_96 = 2,
        AES_XCBC_96 = 5,
        HMAC_SHA2_256_128 = 12,
        HMAC_SHA2_384_192 = 13,
        HMAC_SHA2_512_256 = 14,
    }
}

open_enum! {
    /// Transform type 4: Diffie-Hellman / key exchange groups.
    DhGroup(u16) {
        NONE = 0,
        MODP768 = 1,
        MODP1024 = 2,
        MODP1536 = 5,
        MODP2048 = 14,
        MODP3072 = 15,
        MODP4096 = 16,
        ECP256 = 19,
        ECP384 = 20,
        ECP521 = 21,
        MODP1024_160 = 22,
        MODP2048_224 = 23,
        MODP2048_256 = 24,
        CURVE25519 = 31,
    }
}

open_enum! {
    /// Transform type 5: extended sequence numbers.
    EsnId(u16) {
        NO_ESN = 0,
        ESN = 1,
    }
}

open_enum! {
    /// Transform attribute types (RFC 7296 3.3.5). Only Key Length (14) is defined.
    AttributeType(u16) {
        KEY_LENGTH = 14,
    }
}

open_enum! {
    /// Identification types (RFC 7296 3.5).
    IdType(u8) {
        IPV4_ADDR = 1,
        FQDN = 2,
        RFC822_ADDR = 3,
        IPV6_ADDR = 5,
        DER_ASN1_DN = 9,
        DER_ASN1_GN = 10,
        KEY_ID = 11,
    }
}

open_enum! {
    /// Authentication methods (RFC 7296 3.8).
    AuthMethod(u8) {
        RSA_SIG = 1,
        SHARED_KEY_MIC = 2,
        DSS_SIG = 3,
        DIGITAL_SIGNATURE = 14,
    }
}

open_enum! {
    /// Traffic selector types (RFC 7296 3.13.1).
    TsType(u8) {
        IPV4_ADDR_RANGE = 7,
        IPV6_ADDR_RANGE = 8,
    }
}

open_enum! {
    /// Notify message types (RFC 7296 3.10.1; RFC 7383; RFC 7427 etc.).
    /// Values below 16384 are errors, above are status types.
    NotifyType(u16) {
        UNSUPPORTED_CRITICAL_PAYLOAD = 1,
        INVALID_IKE_SPI = 4,
        INVALID_MAJOR_VERSION = 5,
        INVALID_SYNTAX = 7,
        INVALID_MESSAGE_ID = 9,
        INVALID_SPI = 11,
        NO_PROPOSAL_CHOSEN = 14,
        INVALID_KE_PAYLOAD = 17,
        AUTHENTICATION_FAILED = 24,
        SINGLE_PAIR_REQUIRED = 34,
        NO_ADDITIONAL_SAS = 35,
        INTERNAL_ADDRESS_FAILURE = 36,
        FAILED_CP_REQUIRED = 37,
        TS_UNACCEPTABLE = 38,
        INVALID_SELECTORS = 39,
        TEMPORARY_FAILURE = 43,
        CHILD_SA_NOT_FOUND = 44,
        INITIAL_CONTACT = 16384,
        SET_WINDOW_SIZE = 16385,
        ADDITIONAL_TS_POSSIBLE = 16386,
        IPCOMP_SUPPORTED = 16387,
        NAT_DETECTION_SOURCE_IP = 16388,
        NAT_DETECTION_DESTINATION_IP = 16389,
        COOKIE = 16390,
        USE_TRANSPORT_MODE = 16391,
        HTTP_CERT_LOOKUP_SUPPORTED = 16392,
        REKEY_SA = 16393,
        ESP_TFC_PADDING_NOT_SUPPORTED = 16394,
        NON_FIRST_FRAGMENTS_ALSO = 16395,
        MOBIKE_SUPPORTED = 16396,
        MULTIPLE_AUTH_SUPPORTED = 16404,
        REDIRECT_SUPPORTED = 16406,
        IKEV2_MESSAGE_ID_SYNC_SUPPORTED = 16420,
        IKEV2_FRAGMENTATION_SUPPORTED = 16430,
        SIGNATURE_HASH_ALGORITHMS = 16431,
    }
}

impl NotifyType {
    /// RFC 7296 3.10.1: types 0..=16383 report errors.
    pub fn is_error(self) -> bool {
        self.0 < 16384
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_round_trip_and_print() {
        let n = NotifyType(40000);
        assert_eq!(u16::from(n), 40000);
        assert_eq!(format!("{n:?}"), "NotifyType(40000)");
        assert_eq!(format!("{:?}", NotifyType::COOKIE), "COOKIE");
        assert!(NotifyType::NO_PROPOSAL_CHOSEN.is_error());
        assert!(!NotifyType::REKEY_SA.is_error());
    }
}
