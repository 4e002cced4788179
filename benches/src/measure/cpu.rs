//! CPU time from /proc: per process (utime + stime, all threads) and for the whole host.

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
fn ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// utime + stime of `pid` (all its threads), in seconds; `None` if it is gone.
pub fn process_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_ticks(&stat).map(|t| t as f64 / ticks_per_sec())
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line. The command name (field 2)
/// may contain spaces and parentheses, so fields are counted after its closing parenthesis.
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): utime is field 14 -> index 11.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Busy CPU seconds of the whole host (all CPUs, everything but idle and iowait) from
/// /proc/stat.
pub fn host_busy_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    parse_host_busy_ticks(&stat).map(|t| t as f64 / ticks_per_sec())
}

pub fn parse_host_busy_ticks(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal [guest guest_nice: already in user]
    let busy = v
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4);
    Some(busy.map(|(_, x)| x).sum())
}

/// A CPU snapshot: the tunnel processes' total and the host's busy time.
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    pub procs: f64,
    pub host: f64,
}

pub fn sample(pids: &[u32]) -> CpuSample {
    CpuSample {
        procs: pids.iter().filter_map(|p| process_secs(*p)).sum(),
        host: host_busy_secs().unwrap_or(0.0),
    }
}

/// CPU seconds per GB (10^9 bytes) between two samples, for the processes and the host.
pub fn per_gb(before: CpuSample, after: CpuSample, bytes: u64) -> (f64, f64) {
    let gb = bytes as f64 / 1e9;
    if gb <= 0.0 {
        return (f64::NAN, f64::NAN);
    }
    (
        (after.procs - before.procs) / gb,
        (after.host - before.host) / gb,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat_lines() {
        let line = "1234 (wireguard go) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0";
        assert_eq!(parse_stat_ticks(line), Some(325));
        let host = "cpu  10 1 20 1000 5 3 7 2 0 0\ncpu0 5 0 10 500 2 1 3 1 0 0\n";
        assert_eq!(parse_host_busy_ticks(host), Some(10 + 1 + 20 + 3 + 7 + 2));
    }
}
