//! Named policies for the Azure VPN Gateway side, so a config can say `preset = "azure-default"`.
//!
//! `azure-default` is the policy an Azure route-based gateway uses when no custom IPsec/IKE
//! policy is set (Azure docs, "About cryptographic requirements and Azure VPN gateways";
//! its 3DES entries are left out because ipsecgw refuses 3DES). The others are custom
//! policies as configured in the portal's "IPsec / IKE policy" blade.

use super::{parse_esp, parse_ike, EspProposalSpec, IkeProposalSpec};

/// A named set of proposals and lifetimes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preset {
    pub name: &'static str,
    pub ike: Vec<IkeProposalSpec>,
    pub esp: Vec<EspProposalSpec>,
    pub ike_lifetime_s: u64,
    pub child_lifetime_s: u64,
    pub child_lifetime_kb: u64,
    pub description: &'static str,
}

struct Def {
    name: &'static str,
    ike: &'static [&'static str],
    esp: &'static [&'static str],
    description: &'static str,
}

/// Azure: IKE SA lifetime 28800 s; IPsec SA lifetime 27000 s and 102400000 KB.
const IKE_LIFETIME_S: u64 = 28_800;
const CHILD_LIFETIME_S: u64 = 27_000;
const CHILD_LIFETIME_KB: u64 = 102_400_000;

const DEFS: &[Def] = &[
    Def {
        name: "azure-default",
        ike: &[
            "aes256-sha1-modp1024",
            "aes256-sha256-modp1024",
            "aes128-sha1-modp1024",
            "aes128-sha256-modp1024",
        ],
        esp: &["aes256gcm16", "aes256-sha1", "aes256-sha256", "aes128-sha1"],
        description: "Azure route-based gateway default policy (no custom IPsec/IKE policy): \
                      IKE AES/SHA with DHGroup2, ESP GCMAES256 or AES/SHA, no PFS",
    },
    Def {
        name: "azure-gcm-ecp384",
        ike: &["aes256gcm16-prfsha384-ecp384"],
        esp: &["aes256gcm16-ecp384"],
        description: "Azure custom policy: IKE GCMAES256/SHA384/ECP384, \
                      IPsec GCMAES256/GCMAES256/ECP384",
    },
    Def {
        name: "azure-aes256-sha256-dh14",
        ike: &["aes256-sha256-modp2048"],
        esp: &["aes256-sha256-modp2048"],
        description: "Azure custom policy: IKE AES256/SHA256/DHGroup14, \
                      IPsec AES256/SHA256/PFS2048",
    },
    Def {
        name: "azure-gcm256-ecp256",
        ike: &["aes256gcm16-prfsha256-ecp256"],
        esp: &["aes256gcm16-ecp256"],
        description: "Azure custom policy: IKE GCMAES256/SHA256/ECP256, \
                      IPsec GCMAES256/GCMAES256/ECP256",
    },
];

const NAMES: &[&str] = &[
    "azure-default",
    "azure-gcm-ecp384",
    "azure-aes256-sha256-dh14",
    "azure-gcm256-ecp256",
];

/// All preset names, in documentation order.
pub fn preset_names() -> &'static [&'static str] {
    NAMES
}

/// A preset by name (case-insensitive).
pub fn preset(name: &str) -> Option<Preset> {
    let d = DEFS
        .iter()
        .find(|d| d.name.eq_ignore_ascii_case(name.trim()))?;
    // The strings above are constants covered by tests; a parse failure yields None.
    let ike = d
        .ike
        .iter()
        .map(|s| parse_ike(s).ok())
        .collect::<Option<Vec<_>>>()?;
    let esp = d
        .esp
        .iter()
        .map(|s| parse_esp(s).ok())
        .collect::<Option<Vec<_>>>()?;
    Some(Preset {
        name: d.name,
        ike,
        esp,
        ike_lifetime_s: IKE_LIFETIME_S,
        child_lifetime_s: CHILD_LIFETIME_S,
        child_lifetime_kb: CHILD_LIFETIME_KB,
        description: d.description,
    })
}
