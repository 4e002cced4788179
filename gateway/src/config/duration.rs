//! swanctl-style durations: `30s`, `10m`, `4h`, `1d`, `500ms`, `250us`, or plain seconds
//! (`3600`, `4.5`).

use std::time::Duration;

/// Parses `30s`, `10m`, `4h`, `1d`, `500ms`, `2.5s` or a plain number of seconds.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit_secs = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "us" => 0.000_001,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        other => {
            return Err(format!(
                "`{text}` has unknown unit `{other}`: use s, m, h or d (e.g. 30s, 10m, 4h, 1d)"
            ))
        }
    };
    let value: f64 = num.parse().map_err(|_| {
        format!(
            "`{text}` is not a duration: use a number with s, m, h or d (e.g. 30s, 10m, 4h, 1d)"
        )
    })?;
    let secs = value * unit_secs;
    if !secs.is_finite() || secs > 10.0 * 365.0 * 86400.0 {
        return Err(format!("`{text}` is too long: at most 10 years"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Renders a duration the way it is configured: `4h`, `10m`, `45s`, `1d`, `1.5s`.
pub fn format(d: Duration) -> String {
    let us = d.as_micros();
    if us % 1000 != 0 && us < 1_000_000 {
        return format!("{us}us");
    }
    let ms = d.as_millis();
    if ms % 1000 != 0 {
        if ms < 1000 {
            return format!("{ms}ms");
        }
        return format!("{}s", d.as_secs_f64());
    }
    let s = d.as_secs();
    if s == 0 {
        "0s".into()
    } else if s % 86400 == 0 {
        format!("{}d", s / 86400)
    } else if s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse("4h"), Ok(Duration::from_secs(14400)));
        assert_eq!(parse("1d"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse("3600"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("2.5"), Ok(Duration::from_millis(2500)));
        assert!(parse("4x").unwrap_err().contains("unknown unit `x`"));
        assert!(parse("h").is_err());
        assert!(parse("-5s").is_err());
    }

    #[test]
    fn formats_round_trip() {
        for s in [
            "30s", "10m", "4h", "1d", "90s", "500ms", "1.5s", "0s", "250us", "1500us",
        ] {
            assert_eq!(format(parse(s).unwrap()), s);
        }
    }
}
