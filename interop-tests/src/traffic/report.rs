//! Measurements that must reach CI: libtest swallows a passing test's stderr, so each test also
//! appends its numbers to `target/interop-results/<name>.txt` (at the workspace root, or under
//! `$INTEROP_RESULTS_DIR`), which `scripts/test.sh` prints at the end.

use std::io::Write;
use std::path::PathBuf;

/// Where the results files go.
pub fn results_dir() -> PathBuf {
    match std::env::var_os("INTEROP_RESULTS_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("target")
            .join("interop-results"),
    }
}

/// Prints `line` on stderr and appends it, prefixed with the test's name and the UTC time, to
/// `<results_dir>/<file>.txt`. A file that cannot be written is reported, never fatal.
pub fn record(file: &str, test: &str, line: &str) {
    eprintln!("{test}: {line}");
    record_in(&results_dir(), file, test, line);
}

fn record_in(dir: &std::path::Path, file: &str, test: &str, line: &str) {
    let r = std::fs::create_dir_all(dir).and_then(|()| {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("{file}.txt")))?;
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        writeln!(f, "[{}] {test}: {line}", utc(secs))
    });
    if let Err(e) = r {
        eprintln!("cannot write {}/{file}.txt: {e}", dir.display());
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time (civil-from-days, proleptic Gregorian).
fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_796_368_128), "2026-12-04T07:08:48Z");
    }

    #[test]
    fn record_appends_lines() {
        let dir = std::env::temp_dir().join(format!("interop-results-{}", std::process::id()));
        record_in(&dir, "unit", "t", "first");
        record_in(&dir, "unit", "t", "second");
        let text = std::fs::read_to_string(dir.join("unit.txt")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].ends_with("] t: first") && lines[1].ends_with("] t: second"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
