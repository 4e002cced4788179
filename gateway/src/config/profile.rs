//! `profile = "..."`: named proposal sets from `ikev2::proposal::preset`.

use ikev2::proposal::{preset, preset_names, EspProposalSpec, IkeProposalSpec};

/// The profile names `profile = ...` accepts.
pub fn profile_names() -> &'static [&'static str] {
    preset_names()
}

/// The IKE and ESP proposals of a profile; the error names the valid choices.
pub(crate) fn resolve(name: &str) -> Result<(Vec<IkeProposalSpec>, Vec<EspProposalSpec>), String> {
    match preset(name) {
        Some(p) => Ok((p.ike, p.esp)),
        None => Err(format!(
            "unknown profile `{name}`: use one of {}, or list `proposals` / `esp_proposals` explicitly",
            preset_names().join(", ")
        )),
    }
}

/// The one-line description of a profile, for check-config output.
pub(crate) fn description(name: &str) -> Option<&'static str> {
    preset(name).map(|p| p.description)
}
