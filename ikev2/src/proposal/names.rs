//! strongSwan proposal keywords (swanctl.conf `proposals`/`esp_proposals`, ipsec.conf
//! `ike=`/`esp=`): parsing, canonical printing, and `describe` for wire proposals.
//!
//! Only algorithms ipsecgw implements are accepted; weak ones are refused by design with the
//! secure replacement named, and strongSwan keywords we do not implement get a clear hint.

use super::{EspProposalSpec, EspSuite, IkeProposalSpec, IkeSuite, ProposalError};
use crate::wire::{
    DhGroup, EncrId, EsnId, IntegId, PrfId, Proposal, ProtocolId, Transform, TransformType,
};
use core::fmt;

/// One keyword's meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    Encr(EncrId, Option<u16>),
    Integ(IntegId),
    Prf(PrfId),
    Dh(DhGroup),
    Esn(EsnId),
}

/// Supported keywords. The first entry for a meaning is its canonical (printed) name.
const TOKENS: &[(&str, Tok)] = &[
    ("aes128", Tok::Encr(EncrId::AES_CBC, Some(128))),
    ("aes192", Tok::Encr(EncrId::AES_CBC, Some(192))),
    ("aes256", Tok::Encr(EncrId::AES_CBC, Some(256))),
    ("aes128gcm16", Tok::Encr(EncrId::AES_GCM_16, Some(128))),
    ("aes192gcm16", Tok::Encr(EncrId::AES_GCM_16, Some(192))),
    ("aes256gcm16", Tok::Encr(EncrId::AES_GCM_16, Some(256))),
    ("aes128gcm128", Tok::Encr(EncrId::AES_GCM_16, Some(128))),
    ("aes192gcm128", Tok::Encr(EncrId::AES_GCM_16, Some(192))),
    ("aes256gcm128", Tok::Encr(EncrId::AES_GCM_16, Some(256))),
    ("sha1", Tok::Integ(IntegId::HMAC_SHA1_96)),
    ("sha", Tok::Integ(IntegId::HMAC_SHA1_96)),
    ("sha256", Tok::Integ(IntegId::HMAC_SHA2_256_128)),
    ("sha2_256", Tok::Integ(IntegId::HMAC_SHA2_256_128)),
    ("sha384", Tok::Integ(IntegId::HMAC_SHA2_384_192)),
    ("sha2_384", Tok::Integ(IntegId::HMAC_SHA2_384_192)),
    ("sha512", Tok::Integ(IntegId::HMAC_SHA2_512_256)),
    ("sha2_512", Tok::Integ(IntegId::HMAC_SHA2_512_256)),
    ("prfsha1", Tok::Prf(PrfId::HMAC_SHA1)),
    ("prfsha256", Tok::Prf(PrfId::HMAC_SHA2_256)),
    ("prfsha384", Tok::Prf(PrfId::HMAC_SHA2_384)),
    ("prfsha512", Tok::Prf(PrfId::HMAC_SHA2_512)),
    ("modp1024", Tok::Dh(DhGroup::MODP1024)),
    ("modp2048", Tok::Dh(DhGroup::MODP2048)),
    ("modp2048s256", Tok::Dh(DhGroup::MODP2048_256)),
    ("ecp256", Tok::Dh(DhGroup::ECP256)),
    ("ecp384", Tok::Dh(DhGroup::ECP384)),
    ("curve25519", Tok::Dh(DhGroup::CURVE25519)),
    ("x25519", Tok::Dh(DhGroup::CURVE25519)),
    // ESP only: "no PFS" is acceptable (strongSwan's KE_NONE keyword).
    ("modpnone", Tok::Dh(DhGroup::NONE)),
    ("noesn", Tok::Esn(EsnId::NO_ESN)),
    ("esn", Tok::Esn(EsnId::ESN)),
];

pub(crate) const REPL_ENCR: &str =
    "configure aes256 or aes256gcm16 (Azure: AES256 or GCMAES256) instead";
pub(crate) const REPL_INTEG: &str = "configure sha256 (Azure: SHA256) instead";
pub(crate) const REPL_PRF: &str = "configure prfsha256 (Azure IKE integrity: SHA256) instead";
pub(crate) const REPL_DH: &str =
    "configure modp2048 or ecp384 (Azure: DHGroup14/DHGroup2048 or ECP384; PFS: PFS2048 or ECP384) instead";
pub(crate) const REPL_NULL: &str =
    "ESP/IKE without encryption is not offered; configure aes256gcm16 (Azure: GCMAES256) instead";

/// Keywords refused by design and what to use instead.
const REFUSED: &[(&str, &str)] = &[
    ("des", REPL_ENCR),
    ("3des", REPL_ENCR),
    ("des3", REPL_ENCR),
    ("desiv64", REPL_ENCR),
    ("null", REPL_NULL),
    ("md5", REPL_INTEG),
    ("md5_128", REPL_INTEG),
    ("hmac_md5", REPL_INTEG),
    ("prfmd5", REPL_PRF),
    ("modp768", REPL_DH),
];

/// Valid strongSwan keywords ipsecgw does not implement (kind, keywords).
const NOT_IMPLEMENTED: &[(Kind, &[&str])] = &[
    (
        Kind::Encr,
        &[
            "aes128ctr",
            "aes192ctr",
            "aes256ctr",
            "aes128gcm8",
            "aes192gcm8",
            "aes256gcm8",
            "aes128gcm64",
            "aes192gcm64",
            "aes256gcm64",
            "aes128gcm12",
            "aes192gcm12",
            "aes256gcm12",
            "aes128gcm96",
            "aes192gcm96",
            "aes256gcm96",
            "aes128ccm8",
            "aes128ccm12",
            "aes128ccm16",
            "aes192ccm16",
            "aes256ccm16",
            "aes256ccm8",
            "aes256ccm12",
            "chacha20poly1305",
            "camellia128",
            "camellia192",
            "camellia256",
            "blowfish",
            "cast128",
            "aes",
            "aesgcm16",
            "aes128gmac",
            "aes192gmac",
            "aes256gmac",
        ],
    ),
    (
        Kind::Integ,
        &[
            "aesxcbc",
            "aescmac",
            "sha256_96",
            "sha1_160",
            "camelliaxcbc",
        ],
    ),
    (Kind::Prf, &["prfaesxcbc", "prfaescmac", "prfcamelliaxcbc"]),
    (
        Kind::Dh,
        &[
            "modp1536",
            "modp3072",
            "modp4096",
            "modp6144",
            "modp8192",
            "ecp192",
            "ecp224",
            "ecp521",
            "ecp224bp",
            "ecp256bp",
            "ecp384bp",
            "ecp512bp",
            "curve448",
            "x448",
            "modp1024s160",
            "modp2048s224",
        ],
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Encr,
    Integ,
    Prf,
    Dh,
    Esn,
}

impl Kind {
    fn of(t: Tok) -> Kind {
        match t {
            Tok::Encr(..) => Kind::Encr,
            Tok::Integ(_) => Kind::Integ,
            Tok::Prf(_) => Kind::Prf,
            Tok::Dh(_) => Kind::Dh,
            Tok::Esn(_) => Kind::Esn,
        }
    }
    fn label(self) -> &'static str {
        match self {
            Kind::Encr => "encryption algorithms",
            Kind::Integ => "integrity algorithms",
            Kind::Prf => "PRFs",
            Kind::Dh => "DH groups",
            Kind::Esn => "ESN keywords",
        }
    }
    /// Guess the kind of an unrecognised keyword from its spelling.
    fn guess(t: &str) -> Option<Kind> {
        if t.starts_with("prf") {
            Some(Kind::Prf)
        } else if t.starts_with("aes")
            || t.starts_with("gcm")
            || t.starts_with("cham")
            || t.starts_with("camel")
        {
            Some(Kind::Encr)
        } else if t.starts_with("sha") || t.starts_with("hmac") {
            Some(Kind::Integ)
        } else if t.starts_with("modp")
            || t.starts_with("ecp")
            || t.starts_with("curve")
            || t.starts_with("dh")
            || t.starts_with("ffdhe")
        {
            Some(Kind::Dh)
        } else if t.contains("esn") {
            Some(Kind::Esn)
        } else {
            None
        }
    }
}

/// Valid keywords of one kind for one protocol, for hints.
fn valid_list(kind: Kind, esp: bool) -> String {
    let mut v: Vec<&str> = TOKENS
        .iter()
        .filter(|(n, t)| Kind::of(*t) == kind && (esp || (*n != "modpnone")))
        .map(|(n, _)| *n)
        .collect();
    v.dedup();
    format!("valid {}: {}", kind.label(), v.join(", "))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    // Levenshtein distance, one row at a time: prev[j] = distance(a[..i], b[..j]).
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(prev.len());
        cur.push(i.saturating_add(1));
        for (cb, pair) in b.iter().zip(prev.windows(2)) {
            let &[diag, up] = pair else { continue };
            let left = cur.last().copied().unwrap_or_default();
            let sub = diag.saturating_add(usize::from(ca != *cb));
            cur.push(sub.min(up.saturating_add(1)).min(left.saturating_add(1)));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or_default()
}

fn unknown_hint(tok: &str, esp: bool) -> String {
    for (kind, list) in NOT_IMPLEMENTED {
        if list.contains(&tok) {
            return format!(
                "`{tok}` is a strongSwan algorithm ipsecgw does not implement; {}",
                valid_list(*kind, esp)
            );
        }
    }
    let best = TOKENS
        .iter()
        .filter(|(n, _)| esp || *n != "modpnone")
        .map(|(n, t)| (edit_distance(tok, n), *n, *t))
        .min_by_key(|(d, _, _)| *d);
    if let Some((d, name, t)) = best {
        if d <= 2.max(tok.len() / 4) && d < tok.len() {
            return format!("did you mean `{name}`? {}", valid_list(Kind::of(t), esp));
        }
    }
    match Kind::guess(tok) {
        Some(kind) => valid_list(kind, esp),
        None => {
            let kinds: &[Kind] = if esp {
                &[Kind::Encr, Kind::Integ, Kind::Dh, Kind::Esn]
            } else {
                &[Kind::Encr, Kind::Integ, Kind::Prf, Kind::Dh]
            };
            kinds
                .iter()
                .map(|k| valid_list(*k, esp))
                .collect::<Vec<_>>()
                .join("; ")
        }
    }
}

/// Split on `-` (strongSwan also ignores spaces) and resolve every keyword.
fn tokens(s: &str, esp: bool) -> Result<Vec<Tok>, ProposalError> {
    let proposal = s.trim();
    if proposal.is_empty() {
        return Err(ProposalError::Incomplete {
            proposal: s.to_string(),
            missing: "the proposal is empty".into(),
        });
    }
    let mut out = Vec::new();
    for raw in proposal.split('-') {
        let raw = raw.trim();
        let lower = raw.to_ascii_lowercase();
        if lower.is_empty() {
            return Err(ProposalError::Unknown {
                proposal: proposal.to_string(),
                token: String::new(),
                hint: "empty algorithm name (two `-` in a row, or a leading/trailing `-`)".into(),
            });
        }
        if let Some((_, instead)) = REFUSED.iter().find(|(n, _)| *n == lower) {
            return Err(ProposalError::Refused {
                proposal: proposal.to_string(),
                token: raw.to_string(),
                instead: (*instead).to_string(),
            });
        }
        match TOKENS.iter().find(|(n, _)| *n == lower) {
            Some((_, t)) => out.push(*t),
            None => {
                return Err(ProposalError::Unknown {
                    proposal: proposal.to_string(),
                    token: raw.to_string(),
                    hint: unknown_hint(&lower, esp),
                })
            }
        }
    }
    Ok(out)
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

/// The PRF strongSwan derives from an integrity algorithm (same hash).
pub(crate) fn prf_for_integ(i: IntegId) -> Option<PrfId> {
    match i {
        IntegId::HMAC_SHA1_96 => Some(PrfId::HMAC_SHA1),
        IntegId::HMAC_SHA2_256_128 => Some(PrfId::HMAC_SHA2_256),
        IntegId::HMAC_SHA2_384_192 => Some(PrfId::HMAC_SHA2_384),
        IntegId::HMAC_SHA2_512_256 => Some(PrfId::HMAC_SHA2_512),
        _ => None,
    }
}

/// Checks shared by IKE and ESP on the encryption list: present, not mixed AEAD/classic.
fn check_encr(proposal: &str, encr: &[(EncrId, Option<u16>)]) -> Result<bool, ProposalError> {
    if encr.is_empty() {
        return Err(ProposalError::Incomplete {
            proposal: proposal.to_string(),
            missing: "an encryption algorithm is required (e.g. aes256gcm16 or aes256)".into(),
        });
    }
    let aead = encr.iter().filter(|(e, _)| super::is_aead(*e)).count();
    if aead != 0 && aead != encr.len() {
        return Err(ProposalError::Invalid {
            proposal: proposal.to_string(),
            reason: "AEAD (e.g. aes256gcm16) and classic (e.g. aes256) ciphers cannot be mixed in \
                     one proposal (RFC 5282 8); write two proposals separated by a comma"
                .into(),
        });
    }
    Ok(aead != 0)
}

pub(crate) fn parse_ike(s: &str) -> Result<IkeProposalSpec, ProposalError> {
    let proposal = s.trim();
    let mut spec = IkeProposalSpec {
        encr: vec![],
        integ: vec![],
        prf: vec![],
        dh: vec![],
    };
    for t in tokens(s, false)? {
        match t {
            Tok::Encr(e, k) => push_unique(&mut spec.encr, (e, k)),
            Tok::Integ(i) => push_unique(&mut spec.integ, i),
            Tok::Prf(p) => push_unique(&mut spec.prf, p),
            Tok::Dh(DhGroup::NONE) => {
                return Err(ProposalError::Unknown {
                    proposal: proposal.to_string(),
                    token: "modpnone".into(),
                    hint: format!(
                        "an IKE SA always needs a DH group; {}",
                        valid_list(Kind::Dh, false)
                    ),
                })
            }
            Tok::Dh(g) => push_unique(&mut spec.dh, g),
            Tok::Esn(e) => {
                return Err(ProposalError::Unknown {
                    proposal: proposal.to_string(),
                    token: if e == EsnId::ESN { "esn" } else { "noesn" }.into(),
                    hint: "ESN applies to ESP proposals only (esp_proposals)".into(),
                })
            }
        }
    }
    let aead = check_encr(proposal, &spec.encr)?;
    if spec.prf.is_empty() {
        // strongSwan (proposal.c check_proposal): no explicit PRF -> same hash as integrity.
        for i in &spec.integ {
            if let Some(p) = prf_for_integ(*i) {
                push_unique(&mut spec.prf, p);
            }
        }
    }
    if aead {
        // RFC 5282 8: an AEAD proposal carries no integrity transform. strongSwan accepts
        // `aes256gcm16-sha384` as `aes256gcm16-prfsha384`; so do we.
        spec.integ.clear();
        if spec.prf.is_empty() {
            return Err(ProposalError::Incomplete {
                proposal: proposal.to_string(),
                missing: "an AEAD IKE proposal needs a PRF, e.g. aes256gcm16-prfsha384-ecp384 \
                          (Azure: GCMAES256 with integrity SHA384)"
                    .into(),
            });
        }
    } else if spec.integ.is_empty() {
        return Err(ProposalError::Incomplete {
            proposal: proposal.to_string(),
            missing: format!(
                "a non-AEAD cipher needs an integrity algorithm; {}",
                valid_list(Kind::Integ, false)
            ),
        });
    }
    if spec.dh.is_empty() {
        return Err(ProposalError::Incomplete {
            proposal: proposal.to_string(),
            missing: format!(
                "an IKE proposal needs a DH group; {}",
                valid_list(Kind::Dh, false)
            ),
        });
    }
    Ok(spec)
}

pub(crate) fn parse_esp(s: &str) -> Result<EspProposalSpec, ProposalError> {
    let proposal = s.trim();
    let mut spec = EspProposalSpec {
        encr: vec![],
        integ: vec![],
        dh: vec![],
        esn: vec![],
    };
    for t in tokens(s, true)? {
        match t {
            Tok::Encr(e, k) => push_unique(&mut spec.encr, (e, k)),
            Tok::Integ(i) => push_unique(&mut spec.integ, i),
            Tok::Prf(p) => {
                return Err(ProposalError::Unknown {
                    proposal: proposal.to_string(),
                    token: canonical(Tok::Prf(p)).unwrap_or("prf").into(),
                    hint: "PRFs apply to IKE proposals only; ESP uses the IKE SA's PRF".into(),
                })
            }
            Tok::Dh(g) => push_unique(&mut spec.dh, g),
            Tok::Esn(e) => push_unique(&mut spec.esn, e),
        }
    }
    let aead = check_encr(proposal, &spec.encr)?;
    if aead && !spec.integ.is_empty() {
        let names: Vec<&str> = spec
            .integ
            .iter()
            .filter_map(|i| canonical(Tok::Integ(*i)))
            .collect();
        return Err(ProposalError::Invalid {
            proposal: proposal.to_string(),
            reason: format!(
                "an AEAD cipher provides its own integrity; remove `{}` (RFC 4106 / RFC 7296 3.3.3)",
                names.join("-")
            ),
        });
    }
    if !aead && spec.integ.is_empty() {
        return Err(ProposalError::Incomplete {
            proposal: proposal.to_string(),
            missing: format!(
                "a non-AEAD cipher needs an integrity algorithm; {}",
                valid_list(Kind::Integ, true)
            ),
        });
    }
    if spec.esn.is_empty() {
        spec.esn.push(EsnId::NO_ESN);
    }
    Ok(spec)
}

/// Parse a comma-separated list of IKE proposals (swanctl `proposals = a, b`).
pub fn parse_ike_list(s: &str) -> Result<Vec<IkeProposalSpec>, ProposalError> {
    s.split(',').map(parse_ike).collect()
}

/// Parse a comma-separated list of ESP proposals (swanctl `esp_proposals = a, b`).
pub fn parse_esp_list(s: &str) -> Result<Vec<EspProposalSpec>, ProposalError> {
    s.split(',').map(parse_esp).collect()
}

/// The canonical keyword of a meaning, if it has one.
pub(crate) fn canonical(t: Tok) -> Option<&'static str> {
    TOKENS.iter().find(|(_, x)| *x == t).map(|(n, _)| *n)
}

/// Printing fallbacks for values without a keyword (only reachable for hand-built specs).
fn write_tok(f: &mut fmt::Formatter<'_>, first: &mut bool, t: Tok) -> fmt::Result {
    if !*first {
        f.write_str("-")?;
    }
    *first = false;
    match canonical(t) {
        Some(n) => f.write_str(n),
        None => match t {
            Tok::Encr(e, Some(k)) => write!(f, "{e}_{k}"),
            Tok::Encr(e, None) => write!(f, "{e}"),
            Tok::Integ(i) => write!(f, "{i}"),
            Tok::Prf(p) => write!(f, "{p}"),
            Tok::Dh(g) => write!(f, "{g}"),
            Tok::Esn(e) => write!(f, "{e}"),
        },
    }
}

impl fmt::Display for IkeProposalSpec {
    /// Canonical strongSwan form: encryption, integrity, PRF, DH, e.g.
    /// `aes256-sha256-prfsha256-modp1024`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (e, k) in &self.encr {
            write_tok(f, &mut first, Tok::Encr(*e, *k))?;
        }
        for i in &self.integ {
            write_tok(f, &mut first, Tok::Integ(*i))?;
        }
        for p in &self.prf {
            write_tok(f, &mut first, Tok::Prf(*p))?;
        }
        for g in &self.dh {
            write_tok(f, &mut first, Tok::Dh(*g))?;
        }
        Ok(())
    }
}

impl fmt::Display for EspProposalSpec {
    /// Canonical strongSwan form: encryption, integrity, PFS groups, ESN (`noesn` alone is
    /// the default and not printed), e.g. `aes256gcm16-ecp384`, `aes256-sha256-esn`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (e, k) in &self.encr {
            write_tok(f, &mut first, Tok::Encr(*e, *k))?;
        }
        for i in &self.integ {
            write_tok(f, &mut first, Tok::Integ(*i))?;
        }
        for g in &self.dh {
            write_tok(f, &mut first, Tok::Dh(*g))?;
        }
        if self.esn.as_slice() != [EsnId::NO_ESN] {
            for e in &self.esn {
                write_tok(f, &mut first, Tok::Esn(*e))?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for IkeSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_spec(), f)
    }
}

impl fmt::Display for EspSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_spec(), f)
    }
}

/// strongSwan-style transform name (as in its `%P` proposal printing).
fn transform_name(t: &Transform) -> String {
    let known: Option<&str> = match t.kind {
        TransformType::ENCR => match EncrId(t.id) {
            EncrId::DES_IV64 => Some("DES_IV64"),
            EncrId::DES => Some("DES_CBC"),
            EncrId::DES3 => Some("3DES_CBC"),
            EncrId::NULL => Some("NULL"),
            EncrId::AES_CBC => Some("AES_CBC"),
            EncrId::AES_CTR => Some("AES_CTR"),
            EncrId::AES_CCM_8 => Some("AES_CCM_8"),
            EncrId::AES_CCM_12 => Some("AES_CCM_12"),
            EncrId::AES_CCM_16 => Some("AES_CCM_16"),
            EncrId::AES_GCM_8 => Some("AES_GCM_8"),
            EncrId::AES_GCM_12 => Some("AES_GCM_12"),
            EncrId::AES_GCM_16 => Some("AES_GCM_16"),
            EncrId::CHACHA20_POLY1305 => Some("CHACHA20_POLY1305"),
            _ => None,
        },
        TransformType::PRF => match PrfId(t.id) {
            PrfId::HMAC_MD5 => Some("PRF_HMAC_MD5"),
            PrfId::HMAC_SHA1 => Some("PRF_HMAC_SHA1"),
            PrfId::AES128_XCBC => Some("PRF_AES128_XCBC"),
            PrfId::HMAC_SHA2_256 => Some("PRF_HMAC_SHA2_256"),
            PrfId::HMAC_SHA2_384 => Some("PRF_HMAC_SHA2_384"),
            PrfId::HMAC_SHA2_512 => Some("PRF_HMAC_SHA2_512"),
            _ => None,
        },
        TransformType::INTEG => match IntegId(t.id) {
            IntegId::NONE => Some("INTEG_NONE"),
            i => i.name(),
        },
        TransformType::DH => match DhGroup(t.id) {
            DhGroup::NONE => Some("KE_NONE"),
            DhGroup::MODP768 => Some("MODP_768"),
            DhGroup::MODP1024 => Some("MODP_1024"),
            DhGroup::MODP1536 => Some("MODP_1536"),
            DhGroup::MODP2048 => Some("MODP_2048"),
            DhGroup::MODP3072 => Some("MODP_3072"),
            DhGroup::MODP4096 => Some("MODP_4096"),
            DhGroup::ECP256 => Some("ECP_256"),
            DhGroup::ECP384 => Some("ECP_384"),
            DhGroup::ECP521 => Some("ECP_521"),
            DhGroup::MODP1024_160 => Some("MODP_1024_160"),
            DhGroup::MODP2048_224 => Some("MODP_2048_224"),
            DhGroup::MODP2048_256 => Some("MODP_2048_256"),
            DhGroup::CURVE25519 => Some("CURVE_25519"),
            _ => None,
        },
        TransformType::ESN => match EsnId(t.id) {
            EsnId::NO_ESN => Some("NO_EXT_SEQ"),
            EsnId::ESN => Some("EXT_SEQ"),
            _ => None,
        },
        _ => None,
    };
    let mut s = match known {
        Some(n) => n.to_string(),
        None => format!("UNKNOWN_{}_{}", t.kind.0, t.id),
    };
    if let Some(k) = t.key_length() {
        s.push_str(&format!("_{k}"));
    }
    s
}

/// Readable form of wire proposals, strongSwan style, types in the order ENCR, INTEG, PRF,
/// DH, ESN, then anything else; proposals separated by `, `.
pub(crate) fn describe(proposals: &[Proposal]) -> String {
    const ORDER: [TransformType; 5] = [
        TransformType::ENCR,
        TransformType::INTEG,
        TransformType::PRF,
        TransformType::DH,
        TransformType::ESN,
    ];
    let mut out = Vec::with_capacity(proposals.len());
    for p in proposals {
        let proto = match p.protocol {
            ProtocolId::IKE => "IKE".to_string(),
            ProtocolId::ESP => "ESP".to_string(),
            ProtocolId::AH => "AH".to_string(),
            other => format!("PROTO_{}", other.0),
        };
        let mut names = Vec::with_capacity(p.transforms.len());
        for kind in ORDER {
            names.extend(
                p.transforms
                    .iter()
                    .filter(|t| t.kind == kind)
                    .map(transform_name),
            );
        }
        names.extend(
            p.transforms
                .iter()
                .filter(|t| !ORDER.contains(&t.kind))
                .map(transform_name),
        );
        out.push(format!("{proto}:{}", names.join("/")));
    }
    out.join(", ")
}

/// Keywords of a list of values, comma-separated (for explanations).
pub(crate) fn tok_names(toks: impl IntoIterator<Item = Tok>) -> String {
    let mut out: Vec<String> = Vec::new();
    for t in toks {
        let n = match canonical(t) {
            Some(n) => n.to_string(),
            None => format!("{t:?}"),
        };
        if !out.contains(&n) {
            out.push(n);
        }
    }
    if out.is_empty() {
        "none".to_string()
    } else {
        out.join(", ")
    }
}
