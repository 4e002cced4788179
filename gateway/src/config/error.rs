//! Configuration errors: every problem found, each naming the key path, the bad value (never a
//! secret) and the fix.

use std::fmt;

/// One problem in the configuration, e.g. `connections.azure.mtu: 9500 out of range 576..=9000`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key path, e.g. `connections.azure.children.vnet.esp_proposals[1]`; empty for
    /// problems with the file as a whole.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl ConfigError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// All problems found in a configuration (never empty when returned as an error).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError::new(path, message));
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.0.iter()
    }
}

impl fmt::Display for ConfigErrors {
    /// One error per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Joins a parent path and a key: `join("connections", "azure")` = `connections.azure`.
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// The message for an unknown key: suggests the closest known key, or a swanctl translation.
pub(crate) fn unknown_key_message(key: &str, known: &[&str]) -> String {
    if let Some(hint) = swanctl_hint(key) {
        return format!("unknown key `{key}`: {hint}");
    }
    let best = known
        .iter()
        .map(|k| (levenshtein(key, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3) || k.starts_with(key) || key.starts_with(k))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((_, k)) => format!("unknown key `{key}`, did you mean `{k}`?"),
        None => format!("unknown key `{key}`; known keys here: {}", known.join(", ")),
    }
}

/// Keys an operator may carry over from swanctl.conf that ipsecgw spells differently.
fn swanctl_hint(key: &str) -> Option<&'static str> {
    Some(match key {
        "local" | "remote" => {
            "ipsecgw has no local/remote auth sections: set `local_id`, `remote_id` and `psk` \
             (or `psk_file`) directly in the connection"
        }
        "secrets" | "ike" => {
            "ipsecgw has no secrets section: set `psk` or `psk_file` in the connection"
        }
        "version" => "ipsecgw speaks IKEv2 only: remove `version`",
        "auth" => "only pre-shared keys are supported: remove `auth` and set `psk` or `psk_file`",
        "start_action " | "auto" => "use `start_action` (\"start\" or \"add\")",
        "esp_proposal" => "did you mean `esp_proposals`?",
        "proposal" | "ike_proposals" => "did you mean `proposals`?",
        _ => return None,
    })
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_nearest_key() {
        let known = ["remote_addrs", "local_addrs", "remote_id"];
        assert_eq!(
            unknown_key_message("remote_addr", &known),
            "unknown key `remote_addr`, did you mean `remote_addrs`?"
        );
        assert!(unknown_key_message("zzzzzz", &known).contains("known keys here: remote_addrs"));
    }

    #[test]
    fn levenshtein_counts_edits() {
        assert_eq!(levenshtein("mtu", "mtu"), 0);
        assert_eq!(levenshtein("mut", "mtu"), 2);
        assert_eq!(levenshtein("dpd_dely", "dpd_delay"), 1);
    }
}
