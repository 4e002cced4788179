//! The Azure compatibility matrix: ipsecgw (in `gw`, behind the EC2-style 1:1 NAT) against a
//! strongSwan configured exactly as an Azure VPN Gateway would be for each policy: the default
//! policy's IKE and ESP offers in the roles not already covered by `ipsecgw_vs_strongswan.rs`,
//! every custom-policy value at least once (both roles across the set, with `profile = ...`
//! where a preset exists), the PFS groups at a forced CHILD_SA rekey, Azure's connection modes,
//! policy-based selectors (one CHILD_SA per prefix pair) and a PFS mismatch.
//!
//! One table ([`CASES`]), one runner ([`run`]). The README/docs table is generated from it:
//! `cargo test -p interop-tests --test azure_matrix -- --nocapture print_matrix_table`.
//! Each case: tunnel up, suites checked in `swanctl --list-sas`, 5 pings, 1 MB each way by hash.
//! Needs root for the lab; skips loudly otherwise.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

// `azure_policy` names these as `crate::...` (it is also meant to be `interop_tests::azure_policy`
// once lib.rs declares it).
use interop_tests::{scenario, strongswan, topology};

use interop_tests::azure_policy;
use interop_tests::azure_policy::{custom, policy_based_swanctl, AzurePolicy, ConnectionMode};
use interop_tests::gateway_config::{ipsecgw_toml, GatewayOpts};
use interop_tests::ipsecgw::{ipsecgw_bin, Ipsecgw};
use interop_tests::proc::{wait_for, wait_for_some};
use interop_tests::scenario::{start_azure, GW_CHILD, GW_CONN, TUNNEL_TIMEOUT};
use interop_tests::strongswan::{Charon, CharonConfig, LogLevels};
use interop_tests::topology::{AzureLab, LabOptions, VNET_HOST, VPC_HOST, VPC_PREFIX};
use interop_tests::traffic::{ping, tcp_transfer, wait_for_ping, PingOpts};
use interop_tests::Result;

static SERIAL: Mutex<()> = Mutex::new(());
const MB: u64 = 1 << 20;

fn must<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// Who sends IKE_SA_INIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// ipsecgw initiates (`start_action = "start"`), Azure responds.
    GwInitiates,
    /// Azure initiates (strongSwan `start_action = start`), ipsecgw responds.
    AzureInitiates,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Selectors {
    /// 0.0.0.0/0 on Azure's side (route-based), VPC <-> VNet on ours.
    RouteBased,
    /// UsePolicyBasedTrafficSelectors with 2 local x 2 remote prefixes: 4 CHILD_SAs.
    PolicyBased2x2,
}

/// What the case checks after the tunnel is up and traffic passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    Nothing,
    /// Azure rekeys the CHILD_SA; the new SA used the policy's PFS group.
    AzureRekeysChild,
    /// ipsecgw rekeys (child `rekey_time = 20s`) with PFS; Azure (a custom policy with PFS, or
    /// the default policy, which accepts PFS as responder) takes it, and the new CHILD_SA used
    /// the group of ipsecgw's ESP proposal.
    GwRekeysChild,
    /// The rekey fails on a PFS mismatch and ipsecgw reports it (status and one log line).
    RekeyFailsOnPfsMismatch,
}

struct Case {
    /// The `#[test]` function (in this file, or in `elsewhere`).
    test: &'static str,
    /// Covered by this test in another file (not run from here; listed in the table).
    elsewhere: Option<&'static str>,
    policy: AzurePolicy,
    azure_mode: ConnectionMode,
    role: Role,
    /// `profile = ...` in ipsecgw's config (with no explicit lists unless given below).
    gw_profile: Option<&'static str>,
    /// ipsecgw's explicit `proposals` / `esp_proposals`; empty = the policy's own (when no
    /// profile is set).
    gw_ike: &'static [&'static str],
    gw_esp: &'static [&'static str],
    /// Names in `swanctl --list-sas`; `None` = derived from the (custom) policy.
    expect_ike: Option<&'static str>,
    expect_esp: Option<&'static str>,
    selectors: Selectors,
    then: Then,
    /// Why the test is `#[ignore]`d (kept in step with the attribute below).
    ignored: Option<&'static str>,
}

const fn case(test: &'static str, policy: AzurePolicy, role: Role) -> Case {
    Case {
        test,
        elsewhere: None,
        policy,
        azure_mode: ConnectionMode::Default,
        role,
        gw_profile: None,
        gw_ike: &[],
        gw_esp: &[],
        expect_ike: None,
        expect_esp: None,
        selectors: Selectors::RouteBased,
        then: Then::Nothing,
        ignored: None,
    }
}

/// A default-policy case where ipsecgw offers exactly one IKE and one ESP suite, so Azure's
/// offer of that suite is the one negotiated.
const fn default_suite(
    test: &'static str,
    role: Role,
    ike: &'static [&'static str],
    esp: &'static [&'static str],
    expect_ike: &'static str,
    expect_esp: &'static str,
) -> Case {
    Case {
        gw_ike: ike,
        gw_esp: esp,
        expect_ike: Some(expect_ike),
        expect_esp: Some(expect_esp),
        ..case(test, AzurePolicy::Default, role)
    }
}

const fn elsewhere(c: Case, file: &'static str) -> Case {
    Case {
        elsewhere: Some(file),
        ..c
    }
}

use Role::{AzureInitiates as R, GwInitiates as I};

// The custom policies of the matrix: every Azure custom-policy value at least once.
const C1: AzurePolicy = custom(
    ("GCMAES256", "SHA384", "ECP384"),
    ("GCMAES256", "GCMAES256", "ECP384"),
);
const C2: AzurePolicy = custom(
    ("GCMAES128", "SHA256", "ECP256"),
    ("GCMAES128", "GCMAES128", "ECP256"),
);
const C3: AzurePolicy = custom(
    ("AES256", "SHA256", "DHGroup14"),
    ("AES256", "SHA256", "PFS2048"),
);
const C4: AzurePolicy = custom(("AES192", "SHA1", "DHGroup24"), ("AES192", "SHA1", "PFS24"));
const C5: AzurePolicy = custom(("AES128", "SHA1", "DHGroup2"), ("AES128", "SHA256", "PFS2"));
const C6: AzurePolicy = custom(
    ("AES256", "SHA384", "ECP384"),
    ("GCMAES192", "GCMAES192", "None"),
);
const C7: AzurePolicy = custom(
    ("GCMAES256", "SHA256", "DHGroup14"),
    ("AES128", "SHA1", "None"),
);
const C8: AzurePolicy = custom(
    ("GCMAES256", "SHA256", "ECP256"),
    ("GCMAES256", "GCMAES256", "ECP256"),
);

const VS: &str = "ipsecgw_vs_strongswan.rs";

/// ipsecgw's CHILD_SA `rekey_time` in the cases where it starts the PFS rekey.
const GW_CHILD_REKEY: Duration = Duration::from_secs(20);

/// `swanctl --list-sas` name of a strongSwan group keyword, e.g. `modp2048s256` ->
/// `MODP_2048_256`.
fn listed_swan_group(keyword: &str) -> Option<&'static str> {
    Some(match keyword {
        "modp1024" => "MODP_1024",
        "modp2048" => "MODP_2048",
        "modp2048s256" => "MODP_2048_256",
        "ecp256" => "ECP_256",
        "ecp384" => "ECP_384",
        _ => return None,
    })
}

static CASES: &[Case] = &[
    // Azure default policy: each IKE and ESP offer in both roles.
    elsewhere(
        default_suite(
            "initiator_nat_aes256_sha1_gcm256_100mb",
            I,
            &["aes256-sha1-modp1024"],
            &["aes256gcm16"],
            "AES_CBC-256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024",
            "AES_GCM_16-256",
        ),
        VS,
    ),
    elsewhere(
        default_suite(
            "initiator_nat_aes256_sha256_esp_aes256_sha1",
            I,
            &["aes256-sha256-modp1024"],
            &["aes256-sha1"],
            "AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_1024",
            "AES_CBC-256/HMAC_SHA1_96",
        ),
        VS,
    ),
    elsewhere(
        default_suite(
            "initiator_no_nat_aes128_sha1_esp_aes256_sha256",
            I,
            &["aes128-sha1-modp1024"],
            &["aes256-sha256"],
            "AES_CBC-128/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024",
            "AES_CBC-256/HMAC_SHA2_256_128",
        ),
        VS,
    ),
    elsewhere(
        default_suite(
            "responder_nat_aes128_sha256_esp_aes128_sha1",
            R,
            &["aes128-sha256-modp1024"],
            &["aes128-sha1"],
            "AES_CBC-128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_1024",
            "AES_CBC-128/HMAC_SHA1_96",
        ),
        VS,
    ),
    elsewhere(
        default_suite(
            "responder_no_nat_azure_default_lists_100mb",
            R,
            &azure_policy::DEFAULT_IKE,
            &azure_policy::DEFAULT_ESP,
            "AES_CBC-256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024",
            "AES_GCM_16-256",
        ),
        VS,
    ),
    default_suite(
        "default_r_ike_aes256_sha1_esp_aes256_sha1",
        R,
        &["aes256-sha1-modp1024"],
        &["aes256-sha1"],
        "AES_CBC-256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024",
        "AES_CBC-256/HMAC_SHA1_96",
    ),
    default_suite(
        "default_r_ike_aes256_sha256_esp_aes256_sha256",
        R,
        &["aes256-sha256-modp1024"],
        &["aes256-sha256"],
        "AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_1024",
        "AES_CBC-256/HMAC_SHA2_256_128",
    ),
    default_suite(
        "default_r_ike_aes128_sha1_esp_gcm256",
        R,
        &["aes128-sha1-modp1024"],
        &["aes256gcm16"],
        "AES_CBC-128/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024",
        "AES_GCM_16-256",
    ),
    default_suite(
        "default_i_ike_aes128_sha256_esp_aes128_sha1",
        I,
        &["aes128-sha256-modp1024"],
        &["aes128-sha1"],
        "AES_CBC-128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_1024",
        "AES_CBC-128/HMAC_SHA1_96",
    ),
    // Azure's default policy accepts PFS 2/14/24 with AES/SHA as responder: ipsecgw with PFS2048
    // comes up and its own rekey (with a modp2048 exchange) is accepted.
    Case {
        then: Then::GwRekeysChild,
        ignored: None,
        ..default_suite(
            "default_i_pfs2048_gw_rekey",
            I,
            &["aes256-sha256-modp1024"],
            &["aes256-sha256-modp2048"],
            "AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_1024",
            "AES_CBC-256/HMAC_SHA2_256_128",
        )
    },
    Case {
        then: Then::GwRekeysChild,
        ..default_suite(
            "default_i_pfs2_gw_rekey",
            I,
            &["aes256-sha1-modp1024"],
            &["aes256-sha1-modp1024"],
            "AES_CBC-256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024",
            "AES_CBC-256/HMAC_SHA1_96",
        )
    },
    Case {
        then: Then::GwRekeysChild,
        ..default_suite(
            "default_r_pfs24_gw_rekey",
            R,
            &["aes128-sha1-modp1024"],
            &["aes128-sha1-modp2048s256"],
            "AES_CBC-128/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024",
            "AES_CBC-128/HMAC_SHA1_96",
        )
    },
    // Connection modes.
    Case {
        azure_mode: ConnectionMode::InitiatorOnly,
        gw_profile: Some("azure-default"),
        expect_ike: Some("AES_CBC-256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024"),
        expect_esp: Some("AES_GCM_16-256"),
        ..case("mode_azure_initiator_only", AzurePolicy::Default, R)
    },
    Case {
        azure_mode: ConnectionMode::ResponderOnly,
        gw_profile: Some("azure-default"),
        expect_ike: Some("AES_CBC-256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024"),
        expect_esp: Some("AES_GCM_16-256"),
        ..case("mode_azure_responder_only", AzurePolicy::Default, I)
    },
    // Custom policies: the first CHILD_SA (no key exchange) and traffic.
    Case {
        gw_profile: Some("azure-gcm-ecp384"),
        ..case("custom_gcm256_sha384_ecp384_pfs_ecp384_i", C1, I)
    },
    case("custom_gcm128_sha256_ecp256_pfs_ecp256_r", C2, R),
    Case {
        gw_profile: Some("azure-aes256-sha256-dh14"),
        ..case("custom_aes256_sha256_dh14_pfs2048_i", C3, I)
    },
    case("custom_aes192_sha1_dh24_pfs24_r", C4, R),
    case("custom_aes128_sha1_dh2_esp_sha256_pfs2_i", C5, I),
    case("custom_aes256_sha384_ecp384_esp_gcm192_nopfs_r", C6, R),
    case("custom_gcm256_sha256_dh14_esp_aes128_sha1_nopfs_i", C7, I),
    Case {
        gw_profile: Some("azure-gcm256-ecp256"),
        ..case("custom_gcm256_sha256_ecp256_pfs_ecp256_r", C8, R)
    },
    // The PFS groups at a CHILD_SA rekey forced by Azure.
    Case {
        then: Then::AzureRekeysChild,
        ignored: None,
        gw_profile: Some("azure-gcm-ecp384"),
        ..case("pfs_ecp384_rekey", C1, I)
    },
    Case {
        then: Then::AzureRekeysChild,
        ignored: None,
        ..case("pfs_ecp256_rekey", C2, R)
    },
    Case {
        then: Then::AzureRekeysChild,
        ignored: None,
        ..case("pfs2048_rekey", C3, I)
    },
    Case {
        then: Then::AzureRekeysChild,
        ignored: None,
        ..case("pfs24_rekey", C4, R)
    },
    Case {
        then: Then::AzureRekeysChild,
        ignored: None,
        ..case("pfs2_rekey", C5, I)
    },
    Case {
        then: Then::AzureRekeysChild,
        ignored: None,
        ..case("pfs_none_rekey", C7, R)
    },
    // The PFS groups at a CHILD_SA rekey started by ipsecgw (the ECP groups; the MODP ones are
    // in the default-policy rows above).
    Case {
        then: Then::GwRekeysChild,
        gw_profile: Some("azure-gcm-ecp384"),
        ..case("gw_rekey_pfs_ecp384", C1, I)
    },
    Case {
        then: Then::GwRekeysChild,
        gw_profile: Some("azure-gcm256-ecp256"),
        ..case("gw_rekey_pfs_ecp256", C8, R)
    },
    // Policy-based traffic selectors: every local x remote pair, one CHILD_SA each.
    Case {
        selectors: Selectors::PolicyBased2x2,
        gw_profile: Some("azure-default"),
        expect_ike: Some("AES_CBC-256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024"),
        expect_esp: Some("AES_GCM_16-256"),
        ignored: None,
        ..case("policy_based_2x2_four_child_sas", AzurePolicy::Default, I)
    },
    Case {
        selectors: Selectors::PolicyBased2x2,
        gw_profile: Some("azure-default"),
        expect_ike: Some("AES_CBC-256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024"),
        expect_esp: Some("AES_GCM_16-256"),
        ..case("policy_based_2x2_azure_initiates", AzurePolicy::Default, R)
    },
    // A PFS mismatch: Azure's custom policy has PFS ECP384, ipsecgw's ESP none. check-config
    // warns against the profile (`pfs_mismatch_caught_by_check_config`, no lab); at run time
    // the tunnel comes up and the first rekey fails, reported clearly.
    Case {
        gw_profile: Some("azure-gcm-ecp384"),
        gw_esp: &["aes256gcm16"],
        then: Then::RekeyFailsOnPfsMismatch,
        ignored: None,
        ..case("pfs_mismatch_reported_at_rekey", C1, I)
    },
];

fn find(test: &str) -> &'static Case {
    CASES
        .iter()
        .find(|c| c.test == test && c.elsewhere.is_none())
        .unwrap_or_else(|| panic!("no matrix case {test}"))
}

impl Case {
    fn expect_ike(&self) -> String {
        match (self.expect_ike, self.policy) {
            (Some(e), _) => e.to_string(),
            (None, AzurePolicy::Custom { ike, .. }) => ike.listed(),
            (None, AzurePolicy::Default) => {
                panic!("{}: default-policy case without expect_ike", self.test)
            }
        }
    }

    fn expect_esp(&self) -> String {
        match (self.expect_esp, self.policy) {
            (Some(e), _) => e.to_string(),
            (None, AzurePolicy::Custom { ipsec, .. }) => ipsec.listed(),
            (None, AzurePolicy::Default) => {
                panic!("{}: default-policy case without expect_esp", self.test)
            }
        }
    }

    /// What ipsecgw is configured with, as the table shows it.
    fn gw_offer(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = self.gw_profile {
            parts.push(format!("profile {p}"));
        }
        let (ike, esp) = self.gw_lists();
        if !ike.is_empty() {
            parts.push(format!("IKE {}", ike.join(",")));
        }
        if !esp.is_empty() {
            parts.push(format!("ESP {}", esp.join(",")));
        }
        if self.then == Then::GwRekeysChild {
            parts.push("child rekey_time 20s".into());
        }
        parts.join("; ")
    }

    /// Explicit lists for ipsecgw's config (empty = omitted).
    fn gw_lists(&self) -> (Vec<String>, Vec<String>) {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        if self.gw_profile.is_some() || !self.gw_ike.is_empty() || !self.gw_esp.is_empty() {
            (own(self.gw_ike), own(self.gw_esp))
        } else {
            self.policy.gw_proposals()
        }
    }

    fn gw_mode(&self) -> &'static str {
        self.azure_mode.gw_mode()
    }

    fn status(&self) -> String {
        match (self.elsewhere, self.ignored) {
            (Some(f), _) => format!("pass (in {f})"),
            (None, Some(why)) => format!("ignored: {why}"),
            (None, None) => "pass".into(),
        }
    }

    fn checks(&self) -> &'static str {
        match (self.selectors, self.then) {
            (Selectors::PolicyBased2x2, _) => "4 CHILD_SAs, ping per pair",
            (_, Then::AzureRekeysChild) => "Azure rekeys CHILD: PFS group used",
            (_, Then::GwRekeysChild) => "ipsecgw rekeys CHILD with PFS",
            (_, Then::RekeyFailsOnPfsMismatch) => "rekey fails, reported",
            _ => "up, suites, ping, 1 MB each way",
        }
    }
}

/// The matrix as a Markdown table (docs/azure.md and the README carry a copy).
fn matrix_table() -> String {
    let mut t = String::from(
        "| Azure policy | Azure mode | initiator | ipsecgw config | checks | test | status |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for c in CASES {
        let selectors = match c.selectors {
            Selectors::RouteBased => "",
            Selectors::PolicyBased2x2 => ", policy-based TS 2x2",
        };
        t.push_str(&format!(
            "| {}{selectors} | {} | {} | {} | {} | `{}` | {} |\n",
            c.policy.describe(),
            c.azure_mode.azure_name(),
            match c.role {
                Role::GwInitiates => "ipsecgw",
                Role::AzureInitiates => "Azure",
            },
            c.gw_offer(),
            c.checks(),
            c.test,
            c.status()
        ));
    }
    t
}

#[test]
fn print_matrix_table() {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{}", matrix_table());
}

/// The README and docs/azure.md carry this file's table verbatim: a case added, renamed or
/// ignored here shows there (regenerate with `cargo test -p interop-tests --test azure_matrix
/// print_matrix_table -- --nocapture`). The "pass" column is true because CI runs every
/// non-ignored case and fails on any failure.
#[test]
fn readme_and_docs_carry_the_generated_table() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let table = matrix_table();
    for doc in ["README.md", "docs/azure.md"] {
        let text = std::fs::read_to_string(root.join(doc)).expect(doc);
        assert!(
            text.contains(&table),
            "{doc} does not carry the current matrix table; replace it with:\n{table}"
        );
    }
}

/// Every value of Azure's custom policy appears in the matrix, and both roles are used.
#[test]
fn matrix_covers_every_custom_policy_value() {
    let policies: Vec<AzurePolicy> = CASES.iter().map(|c| c.policy).collect();
    let missing = azure_policy::uncovered(&policies);
    assert!(missing.is_empty(), "not covered: {missing:?}");
    for role in [I, R] {
        assert!(CASES
            .iter()
            .any(|c| c.role == role && matches!(c.policy, AzurePolicy::Custom { .. })));
    }
    // Each PFS group is exercised at a rekey.
    for pfs in azure_policy::PFS {
        assert!(
            CASES.iter().any(|c| c.then == Then::AzureRekeysChild
                && matches!(c.policy, AzurePolicy::Custom { ipsec, .. } if ipsec.pfs_group.eq_ignore_ascii_case(pfs))),
            "PFS {pfs} never rekeyed"
        );
    }
    // Each default offer in both roles.
    for (i, ike) in azure_policy::DEFAULT_IKE.iter().enumerate() {
        for role in [I, R] {
            assert!(
                CASES.iter().any(|c| c.policy == AzurePolicy::Default
                    && c.role == role
                    && c.gw_ike.first() == Some(ike)),
                "default IKE offer {i} ({ike}) not covered as {role:?}"
            );
        }
    }
    for esp in azure_policy::DEFAULT_ESP {
        for role in [I, R] {
            assert!(
                CASES.iter().any(|c| c.policy == AzurePolicy::Default
                    && c.role == role
                    && c.gw_esp.first() == Some(&esp)),
                "default ESP offer {esp} not covered as {role:?}"
            );
        }
    }
}

/// The 2x2 policy-based prefixes: VPC halves x VNet halves; the second host address in each.
const PB_LOCAL: [&str; 2] = ["10.0.1.0/25", "10.0.1.128/25"];
const PB_REMOTE: [&str; 2] = ["10.1.0.0/25", "10.1.0.128/25"];
const VPC_HOST_B: &str = "10.0.1.200";
const VNET_HOST_B: &str = "10.1.0.200";

struct Running {
    gw: Ipsecgw,
    azure: Charon,
    lab: AzureLab,
}

fn start(c: &Case) -> Running {
    let lab = must(AzureLab::new(LabOptions {
        nat: true,
        label: format!("mx-{}", &c.test[..c.test.len().min(20)]),
    }));
    let azure_initiates = c.role == Role::AzureInitiates;
    let mut conn = c.policy.swan_conn(&lab, azure_initiates);
    if c.then == Then::GwRekeysChild && c.policy == AzurePolicy::Default {
        // Azure's default policy as responder also takes PFS 2/14/24 with AES/SHA.
        for p in ["aes256-sha1", "aes256-sha256", "aes128-sha1"] {
            for g in azure_policy::DEFAULT_ESP_RESPONDER_PFS {
                conn.esp_proposals.push(format!("{p}-{g}"));
            }
        }
    }
    let azure = match c.selectors {
        Selectors::RouteBased => must(start_azure(&lab, conn, LogLevels::default())),
        Selectors::PolicyBased2x2 => {
            let mut pairs = Vec::new();
            for r in PB_REMOTE {
                for l in PB_LOCAL {
                    pairs.push((r, l)); // Azure's local = the VNet
                }
            }
            // kernel-libipsec installs a CHILD_SA's policies with a source address from the
            // local selector: give the Azure stand-in one in each VNet half, as Azure's
            // gateway subnet would have, or it refuses the second half with TS_UNACCEPTABLE.
            must(lab.azure.ip(&[
                "addr",
                "add",
                "10.1.0.129/32",
                "dev",
                topology::AZURE_INSIDE_IF,
            ]));
            let dir = must(lab.dir.subdir("azure"));
            let charon = must(Charon::start(&lab.azure, &dir, &CharonConfig::new(vec![])));
            let path = dir.join("swanctl-policy-based.conf");
            must(std::fs::write(&path, policy_based_swanctl(&conn, &pairs)).map_err(Into::into));
            must(charon.swanctl(&[
                "--load-all",
                "--noprompt",
                "--file",
                &path.to_string_lossy(),
            ]));
            must(charon.route_via_tun(&lab.azure, VPC_PREFIX));
            must(lab.vpc.ip(&[
                "addr",
                "add",
                &format!("{VPC_HOST_B}/24"),
                "dev",
                topology::HOST_IF,
            ]));
            must(lab.vnet.ip(&[
                "addr",
                "add",
                &format!("{VNET_HOST_B}/24"),
                "dev",
                topology::HOST_IF,
            ]));
            charon
        }
    };

    let dir = must(lab.dir.subdir("gw"));
    let mut opts = GatewayOpts::azure_default(&lab);
    opts.control_socket = dir.join("control.sock");
    opts.profile = c.gw_profile.map(str::to_string);
    (opts.proposals, opts.esp_proposals) = c.gw_lists();
    opts.mode = c.gw_mode().into();
    opts.start_action = if azure_initiates { "none" } else { "start" }.into();
    if c.then == Then::GwRekeysChild {
        opts.child_rekey_time = Some(GW_CHILD_REKEY);
    }
    let mut toml = String::new();
    if c.selectors == Selectors::PolicyBased2x2 {
        opts.local_ts = vec![PB_LOCAL[0].into()];
        opts.remote_ts = vec![PB_REMOTE[0].into()];
        toml.push_str(&ipsecgw_toml(&lab, &opts));
        let mut n = 0;
        for l in PB_LOCAL {
            for r in PB_REMOTE {
                if n > 0 {
                    toml.push_str(&format!(
                        "\n[connections.{GW_CONN}.children.{GW_CHILD}-{n}]\nlocal_ts = [\"{l}\"]\nremote_ts = [\"{r}\"]\n"
                    ));
                    if !opts.esp_proposals.is_empty() {
                        let list: Vec<String> = opts
                            .esp_proposals
                            .iter()
                            .map(|e| format!("\"{e}\""))
                            .collect();
                        toml.push_str(&format!("esp_proposals = [{}]\n", list.join(", ")));
                    }
                }
                n += 1;
            }
        }
    } else {
        toml.push_str(&ipsecgw_toml(&lab, &opts));
    }
    let gw = must(Ipsecgw::start_with_config(
        &lab.gw,
        &dir,
        &toml,
        &opts.control_socket,
    ));
    Running { gw, azure, lab }
}

fn transfer_both_ways(lab: &AzureLab, mb: u64) {
    let xfer = Path::new(env!("CARGO_BIN_EXE_xfer"));
    for (from, to, addr, port) in [
        (&lab.vpc, &lab.vnet, VNET_HOST, 5011),
        (&lab.vnet, &lab.vpc, VPC_HOST, 5012),
    ] {
        let r = must(tcp_transfer(
            xfer,
            from,
            to,
            addr,
            port,
            mb * MB,
            u64::from(port),
            lab.dir.path(),
            Duration::from_secs(60),
        ));
        assert!(r.intact(), "{mb} MB to {addr} corrupted or short: {r:?}");
    }
}

fn ping_n(from: &interop_tests::netns::Netns, dst: &str, n: u32) {
    let p = must(ping(
        from,
        dst,
        &PingOpts {
            count: n,
            ..PingOpts::default()
        },
    ));
    assert_eq!((p.sent, p.received), (n, n), "ping {dst}: {p:?}");
}

/// `ping -I src dst`, 5 echoes, all answered.
fn ping_from(from: &interop_tests::netns::Netns, src: &str, dst: &str) {
    let out = from
        .run(
            "ping",
            &["-n", "-c", "5", "-i", "0.05", "-W", "1", "-I", src, dst],
        )
        .unwrap_or_else(|e| panic!("ping -I {src} {dst}: {e}"));
    assert!(
        out.contains(" 0% packet loss"),
        "ping -I {src} {dst}:\n{out}"
    );
}

/// The unique ids (`#N`) of the CHILD SAs named `child` in a `swanctl --list-sas` listing.
fn child_ids(listing: &str, child: &str) -> Vec<String> {
    listing
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix(&format!("{child}: #")))
        .filter_map(|rest| rest.split(',').next().map(str::to_string))
        .collect()
}

fn last_error(gw: &Ipsecgw) -> String {
    gw.status_json()
        .ok()
        .and_then(|s| {
            s.pointer("/tunnels/0/last_error")
                .and_then(|e| e.as_str())
                .map(str::to_string)
        })
        .unwrap_or_default()
}

fn run(test: &str) {
    let c = find(test);
    if !interop_tests::require_root(c.test) {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t0 = Instant::now();
    let Running { mut gw, azure, lab } = start(c);
    if let Err(e) = gw.wait_established(GW_CONN, TUNNEL_TIMEOUT) {
        panic!(
            "{}: {e}\nazure log tail:{}",
            c.test,
            strongswan::log_tail(&azure, 30)
        );
    }
    let children = match c.selectors {
        Selectors::RouteBased => 1,
        Selectors::PolicyBased2x2 => 4,
    };
    let sas = must(azure.wait_sas(1, children, Duration::from_secs(10)));
    let listing = must(azure.list_sas());
    let (ike, esp) = (c.expect_ike(), c.expect_esp());
    assert!(
        listing.contains(&ike),
        "{}: expected IKE {ike} in:\n{listing}",
        c.test
    );
    assert!(
        listing.contains(&format!("ESP:{esp}")),
        "{}: expected ESP:{esp} in:\n{listing}",
        c.test
    );
    let status = must(gw.status_json());
    assert_eq!(
        status
            .pointer("/tunnels/0/ike_sa/we_initiated")
            .and_then(|v| v.as_bool()),
        Some(c.role == Role::GwInitiates),
        "{}: status {status}",
        c.test
    );
    eprintln!("{}: up after {:.2?}: {sas:?}", c.test, t0.elapsed());

    must(wait_for_ping(&lab.vpc, VNET_HOST, Duration::from_secs(5)));
    ping_n(&lab.vpc, VNET_HOST, 5);
    if c.selectors == Selectors::PolicyBased2x2 {
        for src in [VPC_HOST, VPC_HOST_B] {
            for dst in [VNET_HOST, VNET_HOST_B] {
                ping_from(&lab.vpc, src, dst);
            }
        }
    }
    transfer_both_ways(&lab, 1);

    match c.then {
        Then::Nothing => {}
        Then::AzureRekeysChild => {
            let AzurePolicy::Custom { ipsec, .. } = c.policy else {
                unreachable!()
            };
            let want = format!("ESP:{}", ipsec.listed_rekeyed());
            let child = must(azure.sa_summary()).child[0].0.clone();
            let before = child_ids(&listing, &child);
            must(azure.rekey_child(&child));
            let after = must(wait_for_some(
                "the rekeyed CHILD_SA",
                Duration::from_secs(15),
                || {
                    let l = azure.list_sas().ok()?;
                    let s = strongswan::SaSummary::parse(&l);
                    let ids = child_ids(&l, &child);
                    let new = ids.iter().any(|i| !before.contains(i));
                    (new && s.child_installed() == 1 && l.contains(&want)).then_some(l)
                },
            ));
            // Without PFS the new SA lists no group; with PFS it names the policy's group.
            if ipsec.swan_pfs().is_none() {
                assert!(!after.contains(&format!("ESP:{esp}/")), "{after}");
            }
            ping_n(&lab.vpc, VNET_HOST, 5);
            assert_eq!(must(gw.tunnel_state(GW_CONN)), "established");
        }
        Then::GwRekeysChild => {
            // The PFS group: the custom policy's, or that of ipsecgw's own ESP proposal (the
            // default policy takes several), as strongSwan lists a rekeyed SA.
            let want = match c.policy {
                AzurePolicy::Custom { ipsec, .. } => format!("ESP:{}", ipsec.listed_rekeyed()),
                AzurePolicy::Default => {
                    let (_, esp_list) = c.gw_lists();
                    let group = esp_list
                        .first()
                        .and_then(|p| p.rsplit('-').next())
                        .and_then(listed_swan_group)
                        .unwrap_or_else(|| panic!("{}: no PFS group in {esp_list:?}", c.test));
                    format!("ESP:{esp}/{group}")
                }
            };
            assert!(want.contains('/'), "{}: {want} has no PFS group", c.test);
            let child = must(azure.sa_summary()).child[0].0.clone();
            let before = child_ids(&listing, &child);
            let after = must(wait_for_some(
                "ipsecgw's PFS rekey",
                GW_CHILD_REKEY * 4,
                || {
                    let l = azure.list_sas().ok()?;
                    let s = strongswan::SaSummary::parse(&l);
                    let new = child_ids(&l, &child).iter().any(|i| !before.contains(i));
                    (new && s.child_installed() == 1 && l.contains(&want)).then_some(l)
                },
            ));
            // Azure's lifetimes are hours: the rekey was ipsecgw's, and its status counts it.
            let status = must(gw.status_json());
            let rekeys = status
                .pointer("/tunnels/0/child_rekeys")
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
            assert!(rekeys >= 1, "{}: no CHILD rekey counted: {status}", c.test);
            eprintln!("{}: ipsecgw rekeyed, {want}:\n{after}", c.test);
            ping_n(&lab.vpc, VNET_HOST, 5);
            assert_eq!(must(gw.tunnel_state(GW_CONN)), "established");
        }
        Then::RekeyFailsOnPfsMismatch => {
            let child = must(azure.sa_summary()).child[0].0.clone();
            let _ = azure.rekey_child(&child);
            must(wait_for(
                "the PFS mismatch to be reported",
                Duration::from_secs(15),
                || {
                    let e = last_error(&gw).to_lowercase();
                    e.contains("pfs") || (e.contains("esp") && e.contains("no proposal"))
                },
            ));
            let err = last_error(&gw);
            // Both sides readable: Azure's group and ours (none).
            assert!(
                err.to_uppercase().contains("ECP_384") || err.to_lowercase().contains("ecp384"),
                "Azure's PFS group not named: {err}"
            );
            // One rekey attempt, one report: a few seconds later there is still one line
            // (not a loop of identical errors).
            std::thread::sleep(Duration::from_secs(3));
            let log = gw.log();
            let lines: Vec<&str> = log
                .lines()
                .filter(|l| l.to_lowercase().contains("pfs") || l.contains("NO_PROPOSAL_CHOSEN"))
                .collect();
            eprintln!("{}: log lines for the mismatch: {lines:#?}", c.test);
            // The start-up check-config warning (gateway::cli) is not a run-time report.
            let at_run_time = lines.iter().filter(|l| !l.contains("gateway::cli")).count();
            assert_eq!(
                at_run_time, 1,
                "the PFS mismatch of one rekey attempt must be logged once:\n{log}"
            );
            eprintln!("{}: reported: {err}", c.test);
        }
    }
    let text = must(gw.status_text());
    assert!(!text.contains(scenario::LAB_PSK) && !gw.log().contains(scenario::LAB_PSK));
    eprintln!("{}: passed in {:.2?}", c.test, t0.elapsed());
}

/// check-config on ipsecgw's side of the PFS mismatch case: the profile names Azure's policy,
/// the explicit ESP list drops PFS, and check-config says the tunnel will die at the first
/// rekey, before anything is sent. No lab needed.
#[test]
fn pfs_mismatch_caught_by_check_config() {
    let Some((ok, _out, err)) = check_config(
        "profile = \"azure-gcm-ecp384\"\n",
        "esp_proposals = [\"aes256gcm16\"]\n",
    ) else {
        return;
    };
    assert!(ok, "check-config failed: {err}");
    assert!(err.contains("PFS mismatch"), "no PFS warning: {err}");
    assert!(err.contains("ecp384"), "Azure's group not named: {err}");
}

/// modp2048 against Azure's default policy can never match: check-config says so.
#[test]
fn default_policy_modp2048_caught_by_check_config() {
    let Some((ok, out, err)) = check_config(
        "profile = \"azure-default\"\nproposals = [\"aes256-sha256-modp2048\"]\n",
        "",
    ) else {
        return;
    };
    assert!(ok, "check-config failed: {err}");
    assert!(
        err.contains("can never match"),
        "no mismatch warning: {err}"
    );
    assert!(
        err.contains("modp2048") && err.contains("modp1024"),
        "{err}"
    );
    // The expanded proposals are printed.
    assert!(out.contains("aes256-sha256-prfsha256-modp2048"), "{out}");
}

/// Runs `ipsecgw check-config` on a minimal config with `conn_extra` / `child_extra` lines:
/// (exit 0, stdout, stderr); `None` (after a SKIP line) without an ipsecgw binary.
fn check_config(conn_extra: &str, child_extra: &str) -> Option<(bool, String, String)> {
    let Ok(bin) = ipsecgw_bin() else {
        interop_tests::skip("check_config", "no ipsecgw binary built");
        return None;
    };
    let dir = std::env::temp_dir().join(format!("azure-matrix-cc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("cc-{}.toml", conn_extra.len() + child_extra.len()));
    let text = format!(
        "[connections.azure]\nremote_addrs = [\"203.0.113.20\"]\nlocal_addrs = [\"172.31.5.10\"]\n\
         local_id = \"198.51.100.10\"\npsk = \"matrix-check-config-example-psk\"\n{conn_extra}\n\
         [connections.azure.children.vnet]\nlocal_ts = [\"10.0.1.0/24\"]\nremote_ts = [\"10.1.0.0/24\"]\n{child_extra}"
    );
    std::fs::write(&path, text).unwrap();
    let out = std::process::Command::new(bin)
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    Some((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

macro_rules! matrix_tests {
    ($($(#[$attr:meta])* $name:ident;)*) => {
        $(
            #[test]
            $(#[$attr])*
            fn $name() {
                run(stringify!($name));
            }
        )*

        /// Every runnable row of the table has a test function, and no function lacks a row.
        #[test]
        fn every_case_has_a_test() {
            let fns: &[&str] = &[$(stringify!($name)),*];
            for c in CASES.iter().filter(|c| c.elsewhere.is_none()) {
                assert!(fns.contains(&c.test), "no #[test] for {}", c.test);
            }
            for f in fns {
                find(f);
            }
        }
    };
}

matrix_tests! {
    default_r_ike_aes256_sha1_esp_aes256_sha1;
    default_r_ike_aes256_sha256_esp_aes256_sha256;
    default_r_ike_aes128_sha1_esp_gcm256;
    default_i_ike_aes128_sha256_esp_aes128_sha1;
    default_i_pfs2048_gw_rekey;
    default_i_pfs2_gw_rekey;
    default_r_pfs24_gw_rekey;
    mode_azure_initiator_only;
    mode_azure_responder_only;
    custom_gcm256_sha384_ecp384_pfs_ecp384_i;
    custom_gcm128_sha256_ecp256_pfs_ecp256_r;
    custom_aes256_sha256_dh14_pfs2048_i;
    custom_aes192_sha1_dh24_pfs24_r;
    custom_aes128_sha1_dh2_esp_sha256_pfs2_i;
    custom_aes256_sha384_ecp384_esp_gcm192_nopfs_r;
    custom_gcm256_sha256_dh14_esp_aes128_sha1_nopfs_i;
    custom_gcm256_sha256_ecp256_pfs_ecp256_r;
    pfs_ecp384_rekey;
    pfs_ecp256_rekey;
    pfs2048_rekey;
    pfs24_rekey;
    pfs2_rekey;
    pfs_none_rekey;
    gw_rekey_pfs_ecp384;
    gw_rekey_pfs_ecp256;
    policy_based_2x2_four_child_sas;
    policy_based_2x2_azure_initiates;
    pfs_mismatch_reported_at_rekey;
}

/// An ESP mismatch at run time (IKE agrees, ESP cannot: ipsecgw offers only AES-GCM-128, Azure's
/// default policy has no GCM-128): the failure is in `ipsecgw status` as `last_error` and in the
/// log, naming ours and, where the peer sent them (ipsecgw responding), Azure's proposals.
#[test]
fn esp_mismatch_reported_in_status_both_roles() {
    if !interop_tests::require_root("esp_mismatch_reported_in_status_both_roles") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for role in [R, I] {
        let c = Case {
            gw_ike: &["aes256-sha1-modp1024"],
            gw_esp: &["aes128gcm16"],
            ..case(
                "esp_mismatch_reported_in_status_both_roles",
                AzurePolicy::Default,
                role,
            )
        };
        let Running {
            gw,
            azure,
            lab: _lab,
        } = start(&c);
        let err = must(wait_for_some(
            "the ESP mismatch in ipsecgw status",
            Duration::from_secs(15),
            || {
                let e = last_error(&gw);
                let l = e.to_lowercase();
                (l.contains("proposal") && (l.contains("esp") || l.contains("child"))).then_some(e)
            },
        ));
        let l = err.to_lowercase();
        assert!(
            l.contains("aes128gcm16") || err.contains("AES_GCM_16-128") || l.contains("gcm_16_128"),
            "{role:?}: our ESP proposal not named: {err}"
        );
        if role == R {
            assert!(
                l.contains("aes256gcm16") || err.contains("AES_GCM_16") && err.contains("256"),
                "{role:?}: Azure's ESP proposals not named: {err}"
            );
        }
        let log = gw.log();
        assert!(
            log.lines()
                .any(|x| x.to_lowercase().contains("proposal") && x.contains("128")),
            "{role:?}: no log line for the ESP mismatch:\n{log}"
        );
        assert_eq!(
            azure.sa_summary().map(|s| s.child_installed()).unwrap_or(0),
            0
        );
        eprintln!("ESP mismatch ({role:?}): {err}");
    }
}
