//! The file as written: serde structs with `deny_unknown_fields`, every field optional so each
//! key can be checked on its own and all problems reported at once.

use super::error::{join, unknown_key_message, ConfigErrors};
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;
use zeroize::Zeroize;

/// Top level: `[daemon]` and `[connections.NAME]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoot {
    pub daemon: Option<toml::Table>,
    pub connections: Option<toml::Table>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDaemon {
    pub control_socket: Option<String>,
    pub metrics_listen: Option<String>,
    pub log_level: Option<String>,
    pub aqm_target: Option<RawDuration>,
    pub aqm_interval: Option<RawDuration>,
    pub tun_queues: Option<i64>,
    pub reply_spin: Option<RawDuration>,
    pub realtime_priority: Option<i64>,
    pub aead_backend: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConnection {
    pub remote_addrs: Option<StrList>,
    pub local_addrs: Option<StrList>,
    pub local_id: Option<String>,
    pub remote_id: Option<String>,
    pub psk: Option<RawSecret>,
    pub psk_file: Option<String>,
    pub profile: Option<String>,
    pub proposals: Option<StrList>,
    pub mode: Option<String>,
    pub start_action: Option<String>,
    pub encap: Option<bool>,
    pub rekey_time: Option<RawDuration>,
    pub over_time: Option<RawDuration>,
    pub rand_time: Option<RawDuration>,
    pub dpd_delay: Option<RawDuration>,
    pub rekey_grace: Option<RawDuration>,
    pub ha_group: Option<String>,
    pub ha_mode: Option<String>,
    pub ha_priority: Option<i64>,
    pub dpd_timeout: Option<RawDuration>,
    pub dpd_action: Option<String>,
    pub retransmit_timeout: Option<RawDuration>,
    pub retransmit_base: Option<f64>,
    pub retransmit_tries: Option<i64>,
    pub mtu: Option<i64>,
    pub mss_clamp: Option<RawMss>,
    pub tun_name: Option<String>,
    pub children: Option<toml::Table>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChild {
    pub local_ts: Option<StrList>,
    pub remote_ts: Option<StrList>,
    pub esp_proposals: Option<StrList>,
    pub rekey_time: Option<RawDuration>,
    pub life_time: Option<RawDuration>,
    pub rand_time: Option<RawDuration>,
    pub life_bytes: Option<i64>,
    pub life_packets: Option<i64>,
    pub replay_window: Option<i64>,
    pub start_action: Option<String>,
}

/// A list written as a TOML array or, swanctl-style, one comma-separated string.
#[derive(Debug, Default, Clone)]
pub(crate) struct StrList(pub Vec<String>);

impl<'de> Deserialize<'de> for StrList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StrList, E> {
                Ok(StrList(
                    v.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect(),
                ))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<StrList, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(StrList(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A duration as written: `"4h"` or a number of seconds.
#[derive(Debug, Clone)]
pub(crate) enum RawDuration {
    Text(String),
    Secs(f64),
}

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a duration like \"30s\", \"10m\", \"4h\", \"1d\" or a number of seconds",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawDuration, E> {
                Ok(RawDuration::Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawDuration, E> {
                Ok(RawDuration::Secs(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawDuration, E> {
                Ok(RawDuration::Secs(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawDuration, E> {
                Ok(RawDuration::Secs(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// `mss_clamp`: `"auto"`, `"off"` or a number.
#[derive(Debug, Clone)]
pub(crate) enum RawMss {
    Text(String),
    Num(i64),
}

impl<'de> Deserialize<'de> for RawMss {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawMss;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"auto\", \"off\" or a number of bytes")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawMss, E> {
                Ok(RawMss::Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawMss, E> {
                Ok(RawMss::Num(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawMss, E> {
                Ok(RawMss::Num(i64::try_from(v).unwrap_or(i64::MAX)))
            }
        }
        d.deserialize_any(V)
    }
}

/// The PSK as written; wiped on drop, never printed.
#[derive(Default, Zeroize)]
#[zeroize(drop)]
pub(crate) struct RawSecret(pub String);

impl fmt::Debug for RawSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for RawSecret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawSecret;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSecret, E> {
                Ok(RawSecret(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<RawSecret, E> {
                Ok(RawSecret(v))
            }
            // Any other type: report without echoing the value.
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawSecret, E> {
                Err(E::custom(SECRET_TYPE))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawSecret, E> {
                Err(E::custom(SECRET_TYPE))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawSecret, E> {
                Err(E::custom(SECRET_TYPE))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawSecret, E> {
                Err(E::custom(SECRET_TYPE))
            }
        }
        d.deserialize_any(V)
    }
}

const SECRET_TYPE: &str = "must be a quoted string (value not shown)";

/// Keys whose values are secrets: their values never appear in any message.
const SECRET_KEYS: &[&str] = &["psk"];

/// The field names serde knows for a derived struct (read through a capturing deserializer).
pub(crate) fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Capture<'a>(&'a mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for Capture<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("captured"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Capture(&mut fields));
    fields
}

/// Deserializes one table into `T`, reporting every unknown key (with a suggestion) and every
/// key of the wrong type under `path`, then dropping those keys so the rest still resolves.
pub(crate) fn deserialize_table<T: DeserializeOwned + Default>(
    mut table: toml::Table,
    path: &str,
    errors: &mut ConfigErrors,
) -> T {
    let known = fields_of::<T>();
    let keys: Vec<String> = table.keys().cloned().collect();
    for key in keys {
        if !known.contains(&key.as_str()) {
            errors.push(join(path, &key), unknown_key_message(&key, known));
            wipe(table.remove(&key));
            continue;
        }
        let value = table.remove(&key).expect("key listed");
        if SECRET_KEYS.contains(&key.as_str()) {
            // Checked without a probe copy, so the only copy moves into `RawSecret`.
            if value.is_str() {
                table.insert(key, value);
            } else {
                errors.push(join(path, &key), SECRET_TYPE);
                wipe(Some(value));
            }
            continue;
        }
        let mut single = toml::Table::new();
        single.insert(key.clone(), value);
        match toml::Value::Table(single.clone()).try_into::<T>() {
            Ok(_) => {
                let value = single.remove(&key).expect("inserted");
                table.insert(key, value);
            }
            Err(e) => {
                errors.push(join(path, &key), e.message().trim());
                wipe(single.remove(&key));
            }
        }
    }
    let result = toml::Value::Table(table).try_into::<T>();
    match result {
        Ok(t) => t,
        Err(e) => {
            // Not expected after the per-key checks; report without values.
            errors.push(
                path,
                format!(
                    "cannot read this section: {}",
                    e.message().lines().next().unwrap_or("")
                ),
            );
            T::default()
        }
    }
}

/// Overwrites any strings in a value we are about to drop (it may hold a PSK).
pub(crate) fn wipe(value: Option<toml::Value>) {
    match value {
        Some(toml::Value::String(mut s)) => s.zeroize(),
        Some(toml::Value::Table(t)) => t.into_iter().for_each(|(_, v)| wipe(Some(v))),
        Some(toml::Value::Array(a)) => a.into_iter().for_each(|v| wipe(Some(v))),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_captured() {
        let f = fields_of::<RawDaemon>();
        assert_eq!(
            f,
            &[
                "control_socket",
                "metrics_listen",
                "log_level",
                "aqm_target",
                "aqm_interval",
                "tun_queues",
                "reply_spin",
                "realtime_priority",
                "aead_backend"
            ]
        );
    }

    #[test]
    fn all_bad_keys_reported() {
        let table: toml::Table =
            toml::from_str("control_sock = 1\nlog_level = 5\nmetrics_listen = \"x\"").unwrap();
        let mut errs = ConfigErrors::default();
        let d: RawDaemon = deserialize_table(table, "daemon", &mut errs);
        assert_eq!(d.metrics_listen.as_deref(), Some("x"));
        assert_eq!(errs.len(), 2, "{errs}");
        assert!(errs.to_string().contains(
            "daemon.control_sock: unknown key `control_sock`, did you mean `control_socket`?"
        ));
        assert!(errs.to_string().contains("daemon.log_level: invalid type"));
    }

    #[test]
    fn secret_type_errors_do_not_echo() {
        let table: toml::Table = toml::from_str("psk = 987654321").unwrap();
        let mut errs = ConfigErrors::default();
        let _: RawConnection = deserialize_table(table, "connections.a", &mut errs);
        assert!(!errs.to_string().contains("987654321"), "{errs}");
        assert!(errs
            .to_string()
            .contains("connections.a.psk: must be a quoted string"));
    }
}
