//! Offline compatibility checks for `check-config`: can our proposals ever agree with the
//! peer's configured ones? Uses the same matching as the live negotiation.

use super::names::{tok_names, Tok};
use super::{select_esp, select_ike, EspProposalSpec, IkeProposalSpec};

fn disjoint<T: PartialEq + Copy>(
    what: &str,
    ours: &[T],
    theirs: &[T],
    tok: impl Fn(T) -> Tok,
) -> Option<String> {
    if ours.iter().any(|x| theirs.contains(x)) {
        return None;
    }
    let o = tok_names(ours.iter().map(|x| tok(*x)));
    let t = tok_names(theirs.iter().map(|x| tok(*x)));
    Some(format!(
        "no common {what}: we offer {o}, the peer accepts only {t}"
    ))
}

fn list<T: core::fmt::Display>(v: &[T]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `Ok` if at least one of our IKE proposals can be agreed with one of the peer's (in either
/// role); otherwise a readable reason, e.g. "no common DH group: we offer modp2048, the peer
/// accepts only modp1024".
pub fn could_match_ike(ours: &[IkeProposalSpec], theirs: &[IkeProposalSpec]) -> Result<(), String> {
    for b in theirs {
        if select_ike(ours, &[b.to_wire(1)]).is_ok() {
            return Ok(());
        }
    }
    let all = |f: fn(&IkeProposalSpec) -> Vec<Tok>, v: &[IkeProposalSpec]| -> Vec<Tok> {
        v.iter().flat_map(f).collect()
    };
    let encr = |s: &IkeProposalSpec| s.encr.iter().map(|(e, k)| Tok::Encr(*e, *k)).collect();
    let integ = |s: &IkeProposalSpec| s.integ.iter().map(|i| Tok::Integ(*i)).collect();
    let prf = |s: &IkeProposalSpec| s.prf.iter().map(|p| Tok::Prf(*p)).collect();
    let dh = |s: &IkeProposalSpec| s.dh.iter().map(|g| Tok::Dh(*g)).collect();
    let reasons: Vec<String> = [
        ("encryption algorithm", all(encr, ours), all(encr, theirs)),
        ("integrity algorithm", all(integ, ours), all(integ, theirs)),
        ("PRF", all(prf, ours), all(prf, theirs)),
        ("DH group", all(dh, ours), all(dh, theirs)),
    ]
    .into_iter()
    .filter(|(_, o, t)| !o.is_empty() && !t.is_empty())
    .filter_map(|(w, o, t)| disjoint(w, &o, &t, |x| x))
    .collect();
    Err(explain("IKE", reasons, &list(ours), &list(theirs)))
}

fn explain(what: &str, reasons: Vec<String>, ours: &str, theirs: &str) -> String {
    if reasons.is_empty() {
        format!(
            "no {what} proposal of ours matches one of the peer's as a whole (each algorithm \
             has a counterpart, but not within one proposal): we offer [{ours}], the peer \
             [{theirs}]"
        )
    } else {
        format!("{what} proposals can never match: {}", reasons.join("; "))
    }
}

/// `Ok` if some ESP proposal pair agrees for the first CHILD_SA (created inside IKE_AUTH,
/// which carries no key exchange, so PFS groups are ignored, RFC 7296 1.2) and, when
/// `pfs_checked`, also for CREATE_CHILD_SA rekeys, where the PFS groups must agree. A PFS
/// mismatch is the classic "tunnel comes up fine and dies at the first rekey".
pub fn could_match_esp(
    ours: &[EspProposalSpec],
    theirs: &[EspProposalSpec],
    pfs_checked: bool,
) -> Result<(), String> {
    let matches = |with_dh: bool| {
        theirs
            .iter()
            .any(|b| select_esp(ours, &[b.to_wire(1, 1, with_dh)], with_dh).is_ok())
    };
    let all = |f: fn(&EspProposalSpec) -> Vec<Tok>, v: &[EspProposalSpec]| -> Vec<Tok> {
        v.iter().flat_map(f).collect()
    };
    if !matches(false) {
        let encr = |s: &EspProposalSpec| s.encr.iter().map(|(e, k)| Tok::Encr(*e, *k)).collect();
        let integ = |s: &EspProposalSpec| s.integ.iter().map(|i| Tok::Integ(*i)).collect();
        let esn = |s: &EspProposalSpec| s.esn.iter().map(|e| Tok::Esn(*e)).collect();
        let reasons: Vec<String> = [
            ("encryption algorithm", all(encr, ours), all(encr, theirs)),
            ("integrity algorithm", all(integ, ours), all(integ, theirs)),
            ("ESN setting", all(esn, ours), all(esn, theirs)),
        ]
        .into_iter()
        .filter(|(_, o, t)| !o.is_empty() && !t.is_empty())
        .filter_map(|(w, o, t)| disjoint(w, &o, &t, |x| x))
        .collect();
        return Err(explain("ESP", reasons, &list(ours), &list(theirs)));
    }
    if pfs_checked && !matches(true) {
        let pfs = |v: &[EspProposalSpec]| {
            let groups: Vec<Tok> = v
                .iter()
                .flat_map(|s| s.dh.iter())
                .filter(|g| **g != crate::wire::DhGroup::NONE)
                .map(|g| Tok::Dh(*g))
                .collect();
            let none = v
                .iter()
                .any(|s| s.dh.is_empty() || s.dh.contains(&crate::wire::DhGroup::NONE));
            match (groups.is_empty(), none) {
                (true, _) => "no PFS".to_string(),
                (false, false) => format!("PFS with {}", tok_names(groups)),
                (false, true) => format!("PFS with {} or none", tok_names(groups)),
            }
        };
        return Err(format!(
            "PFS mismatch: the first CHILD_SA will come up (IKE_AUTH carries no key exchange) \
             but every rekey will fail with NO_PROPOSAL_CHOSEN: we use {}, the peer uses {}",
            pfs(ours),
            pfs(theirs)
        ));
    }
    Ok(())
}
