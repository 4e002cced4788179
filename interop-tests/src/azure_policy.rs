//! Azure VPN Gateway connection policies as the Azure portal names them, turned into the
//! strongSwan connection that stands in for Azure ([`AzurePolicy::swan_conn`]) and into the
//! proposals ipsecgw is configured with to match ([`AzurePolicy::gw_proposals`]), plus the
//! names strongSwan's `swanctl --list-sas` shows for the negotiated suites.
//!
//! The mapping (Azure docs "About cryptographic requirements and Azure VPN gateways", "Configure
//! custom IPsec/IKE connection policies"):
//!
//! | Azure field value       | strongSwan / ipsecgw keyword | list-sas name          |
//! |-------------------------|------------------------------|------------------------|
//! | GCMAES256/192/128 (enc) | aes256gcm16 / aes192gcm16 / aes128gcm16 | AES_GCM_16-256 ... |
//! | AES256/192/128 (enc)    | aes256 / aes192 / aes128     | AES_CBC-256 ...        |
//! | SHA384/SHA256/SHA1 (IKE integrity; with GCM only the PRF) | sha384 / sha256 / sha1 (prfsha384 ...) | HMAC_SHA2_384_192, PRF_HMAC_SHA2_384 ... |
//! | GCMAES* (IPsec integrity) | (none: AEAD)               | -                      |
//! | DHGroup24 / PFS24       | modp2048s256                 | MODP_2048_256          |
//! | ECP384 / ECP256         | ecp384 / ecp256              | ECP_384 / ECP_256      |
//! | DHGroup14, DHGroup2048 / PFS2048 | modp2048            | MODP_2048              |
//! | DHGroup2 / PFS2         | modp1024                     | MODP_1024              |
//! | PFS None                | (no group on the ESP proposal) | -                    |
//!
//! The file is self-contained apart from `crate::strongswan`, `crate::topology` and
//! `crate::scenario`, so tests can also include it by path.

use crate::scenario::LAB_PSK;
use crate::strongswan::{StartAction, SwanConn};
use crate::topology::AzureLab;

/// Azure's default route-based IKE offers, in Azure's order (3DES entries left out: refused).
pub const DEFAULT_IKE: [&str; 4] = [
    "aes256-sha1-modp1024",
    "aes256-sha256-modp1024",
    "aes128-sha1-modp1024",
    "aes128-sha256-modp1024",
];
/// Azure's default ESP offers as initiator (no PFS), in Azure's order.
pub const DEFAULT_ESP: [&str; 4] = ["aes256gcm16", "aes256-sha1", "aes256-sha256", "aes128-sha1"];
/// What Azure's default policy also accepts as responder: the AES/SHA offers with PFS groups
/// 2, 14 and 24 (group 1 is refused by ipsecgw and left out).
pub const DEFAULT_ESP_RESPONDER_PFS: [&str; 3] = ["modp1024", "modp2048", "modp2048s256"];

/// An Azure IKE (phase 1) custom policy: encryption, integrity, DH group (portal names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IkePolicy {
    pub encryption: &'static str,
    pub integrity: &'static str,
    pub dh_group: &'static str,
}

/// An Azure IPsec (phase 2) custom policy: encryption, integrity, PFS group (portal names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpsecPolicy {
    pub encryption: &'static str,
    pub integrity: &'static str,
    pub pfs_group: &'static str,
}

/// What the Azure connection is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AzurePolicy {
    /// No custom policy: Azure's default route-based offers (see `strongswan::AZURE_*`).
    Default,
    /// A custom IPsec/IKE policy: Azure then offers and accepts only it.
    Custom { ike: IkePolicy, ipsec: IpsecPolicy },
}

/// Azure's "connection mode" on the connection resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionMode {
    /// Either side may initiate (Azure's default).
    Default,
    /// Azure only initiates: ipsecgw must be `mode = "responder"` (or `both`).
    InitiatorOnly,
    /// Azure only responds: ipsecgw must be `mode = "initiator"` (or `both`).
    ResponderOnly,
}

impl ConnectionMode {
    /// The ipsecgw `mode` that pairs with this Azure connection mode.
    pub fn gw_mode(self) -> &'static str {
        match self {
            ConnectionMode::Default => "both",
            ConnectionMode::InitiatorOnly => "responder",
            ConnectionMode::ResponderOnly => "initiator",
        }
    }

    pub fn azure_name(self) -> &'static str {
        match self {
            ConnectionMode::Default => "Default",
            ConnectionMode::InitiatorOnly => "InitiatorOnly",
            ConnectionMode::ResponderOnly => "ResponderOnly",
        }
    }
}

/// Shorthand for a custom policy.
pub const fn custom(
    ike: (&'static str, &'static str, &'static str),
    ipsec: (&'static str, &'static str, &'static str),
) -> AzurePolicy {
    AzurePolicy::Custom {
        ike: IkePolicy {
            encryption: ike.0,
            integrity: ike.1,
            dh_group: ike.2,
        },
        ipsec: IpsecPolicy {
            encryption: ipsec.0,
            integrity: ipsec.1,
            pfs_group: ipsec.2,
        },
    }
}

fn lower(s: &str) -> String {
    s.trim().to_ascii_lowercase()
}

/// strongSwan keyword for an Azure encryption value.
pub fn swan_encryption(azure: &str) -> String {
    match lower(azure).as_str() {
        "gcmaes256" => "aes256gcm16".into(),
        "gcmaes192" => "aes192gcm16".into(),
        "gcmaes128" => "aes128gcm16".into(),
        "aes256" => "aes256".into(),
        "aes192" => "aes192".into(),
        "aes128" => "aes128".into(),
        other => panic!("not an Azure encryption value: {other}"),
    }
}

/// strongSwan keyword for an Azure integrity value (SHA*); `None` for a GCM value.
pub fn swan_integrity(azure: &str) -> Option<String> {
    match lower(azure).as_str() {
        "sha384" => Some("sha384".into()),
        "sha256" => Some("sha256".into()),
        "sha1" => Some("sha1".into()),
        s if s.starts_with("gcmaes") => None,
        other => panic!("not an Azure integrity value: {other}"),
    }
}

/// strongSwan keyword for an Azure DH or PFS group value; `None` for PFS `None`.
pub fn swan_group(azure: &str) -> Option<String> {
    match lower(azure).as_str() {
        "dhgroup24" | "pfs24" => Some("modp2048s256".into()),
        "ecp384" => Some("ecp384".into()),
        "ecp256" => Some("ecp256".into()),
        "dhgroup14" | "dhgroup2048" | "pfs2048" | "pfs14" => Some("modp2048".into()),
        "dhgroup2" | "pfs2" => Some("modp1024".into()),
        "none" | "" => None,
        other => panic!("not an Azure DH/PFS group value: {other}"),
    }
}

fn is_gcm(azure_enc: &str) -> bool {
    lower(azure_enc).starts_with("gcm")
}

/// `swanctl --list-sas` name of an Azure encryption value, e.g. `AES_GCM_16-256`.
pub fn listed_encryption(azure: &str) -> String {
    let l = lower(azure);
    let bits = &l[l.len() - 3..];
    if is_gcm(azure) {
        format!("AES_GCM_16-{bits}")
    } else {
        format!("AES_CBC-{bits}")
    }
}

/// `swanctl --list-sas` names of an Azure integrity value: (integrity, PRF).
pub fn listed_integrity(azure: &str) -> (&'static str, &'static str) {
    match lower(azure).as_str() {
        "sha384" => ("HMAC_SHA2_384_192", "PRF_HMAC_SHA2_384"),
        "sha256" => ("HMAC_SHA2_256_128", "PRF_HMAC_SHA2_256"),
        "sha1" => ("HMAC_SHA1_96", "PRF_HMAC_SHA1"),
        other => panic!("not an Azure SHA integrity value: {other}"),
    }
}

/// `swanctl --list-sas` name of a group, e.g. `ECP_384`.
pub fn listed_group(azure: &str) -> Option<&'static str> {
    swan_group(azure).map(|g| match g.as_str() {
        "modp2048s256" => "MODP_2048_256",
        "ecp384" => "ECP_384",
        "ecp256" => "ECP_256",
        "modp2048" => "MODP_2048",
        "modp1024" => "MODP_1024",
        _ => unreachable!(),
    })
}

impl IkePolicy {
    /// The strongSwan IKE proposal, e.g. `aes256gcm16-prfsha384-ecp384`, `aes256-sha256-modp2048`.
    pub fn swan(&self) -> String {
        let enc = swan_encryption(self.encryption);
        let integ = swan_integrity(self.integrity).expect("IKE integrity is SHA*");
        let dh = swan_group(self.dh_group).expect("IKE needs a DH group");
        if is_gcm(self.encryption) {
            format!("{enc}-prf{integ}-{dh}")
        } else {
            format!("{enc}-{integ}-{dh}")
        }
    }

    /// What `swanctl --list-sas` shows for it, e.g. `AES_GCM_16-256/PRF_HMAC_SHA2_384/ECP_384`.
    pub fn listed(&self) -> String {
        let (integ, prf) = listed_integrity(self.integrity);
        let dh = listed_group(self.dh_group).expect("IKE needs a DH group");
        let enc = listed_encryption(self.encryption);
        if is_gcm(self.encryption) {
            format!("{enc}/{prf}/{dh}")
        } else {
            format!("{enc}/{integ}/{prf}/{dh}")
        }
    }

    pub fn describe(&self) -> String {
        format!("{}/{}/{}", self.encryption, self.integrity, self.dh_group)
    }
}

impl IpsecPolicy {
    /// The strongSwan ESP proposal without the PFS group, e.g. `aes256gcm16`, `aes128-sha1`.
    pub fn swan_no_pfs(&self) -> String {
        let enc = swan_encryption(self.encryption);
        match swan_integrity(self.integrity) {
            Some(i) => format!("{enc}-{i}"),
            None => {
                assert!(
                    lower(self.integrity) == lower(self.encryption),
                    "Azure requires IPsec integrity {} with encryption {}",
                    self.encryption,
                    self.encryption
                );
                enc
            }
        }
    }

    /// The PFS group keyword, if PFS is on.
    pub fn swan_pfs(&self) -> Option<String> {
        swan_group(self.pfs_group)
    }

    /// The ESP proposal with the PFS group appended (ipsecgw's `esp_proposals` entry).
    pub fn swan(&self) -> String {
        match self.swan_pfs() {
            Some(g) => format!("{}-{g}", self.swan_no_pfs()),
            None => self.swan_no_pfs(),
        }
    }

    /// What `swanctl --list-sas` shows for the first CHILD_SA (no key exchange), e.g.
    /// `AES_CBC-256/HMAC_SHA2_256_128`.
    pub fn listed(&self) -> String {
        let enc = listed_encryption(self.encryption);
        if is_gcm(self.encryption) {
            enc
        } else {
            format!("{enc}/{}", listed_integrity(self.integrity).0)
        }
    }

    /// What `swanctl --list-sas` shows for a CHILD_SA created by a rekey with PFS, e.g.
    /// `AES_GCM_16-256/ECP_384`; the same as [`IpsecPolicy::listed`] without PFS.
    pub fn listed_rekeyed(&self) -> String {
        match listed_group(self.pfs_group) {
            Some(g) => format!("{}/{g}", self.listed()),
            None => self.listed(),
        }
    }

    pub fn describe(&self) -> String {
        format!("{}/{}/{}", self.encryption, self.integrity, self.pfs_group)
    }
}

impl AzurePolicy {
    /// e.g. `Default` or `IKE GCMAES256/SHA384/ECP384, IPsec GCMAES256/GCMAES256/ECP384`.
    pub fn describe(&self) -> String {
        match self {
            AzurePolicy::Default => "Default".into(),
            AzurePolicy::Custom { ike, ipsec } => {
                format!("IKE {}, IPsec {}", ike.describe(), ipsec.describe())
            }
        }
    }

    /// Azure's IKE offers/acceptances in strongSwan syntax, in Azure's order.
    pub fn swan_ike(&self) -> Vec<String> {
        match self {
            AzurePolicy::Default => DEFAULT_IKE.iter().map(|s| s.to_string()).collect(),
            AzurePolicy::Custom { ike, .. } => vec![ike.swan()],
        }
    }

    /// Azure's ESP proposals without the PFS group.
    pub fn swan_esp(&self) -> Vec<String> {
        match self {
            AzurePolicy::Default => DEFAULT_ESP.iter().map(|s| s.to_string()).collect(),
            AzurePolicy::Custom { ipsec, .. } => vec![ipsec.swan_no_pfs()],
        }
    }

    /// Azure's PFS group (custom policies only; the default policy initiates without PFS).
    pub fn swan_pfs(&self) -> Option<String> {
        match self {
            AzurePolicy::Default => None,
            AzurePolicy::Custom { ipsec, .. } => ipsec.swan_pfs(),
        }
    }

    /// The ipsecgw `proposals` and `esp_proposals` that match this policy exactly.
    pub fn gw_proposals(&self) -> (Vec<String>, Vec<String>) {
        match self {
            AzurePolicy::Default => (self.swan_ike(), self.swan_esp()),
            AzurePolicy::Custom { ike, ipsec } => (vec![ike.swan()], vec![ipsec.swan()]),
        }
    }

    /// The ipsecgw `profile` that expands to exactly this policy, if there is one.
    pub fn gw_profile(&self) -> Option<&'static str> {
        let (ike, esp) = self.gw_proposals();
        PRESETS
            .iter()
            .find(|(_, i, e)| *i == ike.as_slice() && *e == esp.as_slice())
            .map(|(n, _, _)| *n)
    }

    /// The strongSwan connection standing in for Azure in `lab` with this policy: Azure's
    /// lifetimes and DPD, 0.0.0.0/0 selectors (route-based), PSK, identities = public IPs.
    /// `azure_initiates` sets `start_action = start` (Azure "Default" or "InitiatorOnly").
    pub fn swan_conn(&self, lab: &AzureLab, azure_initiates: bool) -> SwanConn {
        self.swan_conn_at(lab, lab.azure_public_addr(), azure_initiates)
    }

    /// [`AzurePolicy::swan_conn`] for the Azure instance at `azure_addr` (active-active).
    pub fn swan_conn_at(
        &self,
        lab: &AzureLab,
        azure_addr: &str,
        azure_initiates: bool,
    ) -> SwanConn {
        let ike = self.swan_ike();
        let esp = self.swan_esp();
        let ike: Vec<&str> = ike.iter().map(String::as_str).collect();
        let esp: Vec<&str> = esp.iter().map(String::as_str).collect();
        SwanConn::azure_default(
            azure_addr,
            lab.gw_public_addr(),
            lab.gw_public_addr(),
            LAB_PSK,
        )
        .proposals(&ike, &esp)
        .pfs(self.swan_pfs().as_deref())
        .start_action(if azure_initiates {
            StartAction::Start
        } else {
            StartAction::None
        })
    }
}

/// ipsecgw's presets (`profile = ...`) as proposal lists, mirrored from
/// `ikev2::proposal::presets` so the matrix can say which cases a profile covers.
pub const PRESETS: &[(&str, &[&str], &[&str])] = &[
    (
        "azure-default",
        &[
            "aes256-sha1-modp1024",
            "aes256-sha256-modp1024",
            "aes128-sha1-modp1024",
            "aes128-sha256-modp1024",
        ],
        &["aes256gcm16", "aes256-sha1", "aes256-sha256", "aes128-sha1"],
    ),
    (
        "azure-gcm-ecp384",
        &["aes256gcm16-prfsha384-ecp384"],
        &["aes256gcm16-ecp384"],
    ),
    (
        "azure-aes256-sha256-dh14",
        &["aes256-sha256-modp2048"],
        &["aes256-sha256-modp2048"],
    ),
    (
        "azure-gcm256-ecp256",
        &["aes256gcm16-prfsha256-ecp256"],
        &["aes256gcm16-ecp256"],
    ),
];

/// Every value Azure's custom policy offers, per field (for coverage checks).
pub const IKE_ENCRYPTION: &[&str] = &["GCMAES256", "GCMAES128", "AES256", "AES192", "AES128"];
pub const IKE_INTEGRITY: &[&str] = &["SHA384", "SHA256", "SHA1"];
pub const IKE_DH: &[&str] = &["DHGroup24", "ECP384", "ECP256", "DHGroup14", "DHGroup2"];
pub const IPSEC_ENCRYPTION: &[&str] = &[
    "GCMAES256",
    "GCMAES192",
    "GCMAES128",
    "AES256",
    "AES192",
    "AES128",
];
/// `GCM` stands for "the same GCMAES value as the encryption".
pub const IPSEC_INTEGRITY: &[&str] = &["GCM", "SHA256", "SHA1"];
pub const PFS: &[&str] = &["PFS24", "ECP384", "ECP256", "PFS2048", "PFS2", "None"];

/// Field values in `policies` not covered; empty when every custom-policy value appears.
pub fn uncovered(policies: &[AzurePolicy]) -> Vec<String> {
    let mut missing = Vec::new();
    let customs: Vec<(IkePolicy, IpsecPolicy)> = policies
        .iter()
        .filter_map(|p| match p {
            AzurePolicy::Custom { ike, ipsec } => Some((*ike, *ipsec)),
            AzurePolicy::Default => None,
        })
        .collect();
    let mut check =
        |field: &str, values: &[&str], get: &dyn Fn(&IkePolicy, &IpsecPolicy) -> String| {
            for v in values {
                if !customs
                    .iter()
                    .any(|(i, e)| get(i, e).eq_ignore_ascii_case(v))
                {
                    missing.push(format!("{field} {v}"));
                }
            }
        };
    check("IKE encryption", IKE_ENCRYPTION, &|i, _| {
        i.encryption.into()
    });
    check("IKE integrity", IKE_INTEGRITY, &|i, _| i.integrity.into());
    check("DH group", IKE_DH, &|i, _| i.dh_group.into());
    check("IPsec encryption", IPSEC_ENCRYPTION, &|_, e| {
        e.encryption.into()
    });
    check("IPsec integrity", IPSEC_INTEGRITY, &|_, e| {
        if is_gcm(e.integrity) {
            "GCM".into()
        } else {
            e.integrity.into()
        }
    });
    check("PFS group", PFS, &|_, e| e.pfs_group.into());
    missing
}

/// A swanctl.conf for Azure with "UsePolicyBasedTrafficSelectors": `conn` with one CHILD per
/// (local, remote) prefix pair (Azure proposes every local x remote pair, one CHILD_SA each),
/// all under the one IKE SA. Load it with `swanctl --load-all --file`.
pub fn policy_based_swanctl(conn: &SwanConn, pairs: &[(&str, &str)]) -> String {
    let text = crate::strongswan::swanctl_conf(std::slice::from_ref(conn));
    let open = format!("\t\tchildren {{\n\t\t\t{} {{\n", conn.child);
    let (head, rest) = text
        .split_once(&open)
        .expect("swanctl_conf writes one children block");
    let (body, tail) = rest
        .split_once("\t\t\t}\n\t\t}\n\t}\n")
        .expect("swanctl_conf closes the child, children and connection");
    let mut out = String::from(head);
    out.push_str("\t\tchildren {\n");
    for (i, (l, r)) in pairs.iter().enumerate() {
        out.push_str(&format!("\t\t\t{}-{i} {{\n", conn.child));
        for line in body.lines() {
            let t = line.trim_start();
            if t.starts_with("local_ts") {
                out.push_str(&format!("\t\t\t\tlocal_ts = {l}\n"));
            } else if t.starts_with("remote_ts") {
                out.push_str(&format!("\t\t\t\tremote_ts = {r}\n"));
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push_str("\t\t\t}\n");
    }
    out.push_str("\t\t}\n\t}\n");
    out.push_str(tail);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_policies_map_to_strongswan_names() {
        let p = custom(
            ("GCMAES256", "SHA384", "ECP384"),
            ("GCMAES256", "GCMAES256", "ECP384"),
        );
        let AzurePolicy::Custom { ike, ipsec } = p else {
            unreachable!()
        };
        assert_eq!(ike.swan(), "aes256gcm16-prfsha384-ecp384");
        assert_eq!(ike.listed(), "AES_GCM_16-256/PRF_HMAC_SHA2_384/ECP_384");
        assert_eq!(ipsec.swan(), "aes256gcm16-ecp384");
        assert_eq!(ipsec.listed_rekeyed(), "AES_GCM_16-256/ECP_384");
        assert_eq!(p.gw_profile(), Some("azure-gcm-ecp384"));

        let p = custom(
            ("AES192", "SHA1", "DHGroup24"),
            ("AES128", "SHA256", "None"),
        );
        let AzurePolicy::Custom { ike, ipsec } = p else {
            unreachable!()
        };
        assert_eq!(ike.swan(), "aes192-sha1-modp2048s256");
        assert_eq!(
            ike.listed(),
            "AES_CBC-192/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_2048_256"
        );
        assert_eq!(ipsec.swan(), "aes128-sha256");
        assert_eq!(ipsec.listed(), "AES_CBC-128/HMAC_SHA2_256_128");
        assert_eq!(p.gw_profile(), None);
        assert_eq!(AzurePolicy::Default.gw_profile(), Some("azure-default"));
    }
}
