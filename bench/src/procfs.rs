//! Process figures from /proc (Linux only, no dependency).

use std::time::Duration;

/// Clock ticks per second of `utime`/`stime` in /proc/PID/stat (`USER_HZ`, 100 on Linux).
const USER_HZ: f64 = 100.0;

/// CPU time (user + system) of a process: `self` or a PID.
pub fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // the command name may contain spaces: fields start after the last ')'
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // after ')': state is field 3, utime field 14, stime field 15 (1-based in proc(5))
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64((utime + stime) / USER_HZ))
}

/// On-CPU time of the calling thread in nanoseconds (/proc/thread-self/schedstat), finer than
/// the 10 ms ticks of /proc/PID/stat.
pub fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// A `Vm*` field of /proc/PID/status, in KiB.
pub fn status_kib(pid: &str, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Resident set size (VmRSS) in MiB.
pub fn rss_mib(pid: &str) -> Option<f64> {
    status_kib(pid, "VmRSS").map(|k| k as f64 / 1024.0)
}

/// Peak resident set size (VmHWM) in MiB.
pub fn hwm_mib(pid: &str) -> Option<f64> {
    status_kib(pid, "VmHWM").map(|k| k as f64 / 1024.0)
}

/// Resets this process's peak RSS to its current RSS (`echo 5 > /proc/self/clear_refs`), so that
/// VmHWM afterwards is the peak of what follows. Returns whether it worked.
pub fn reset_peak() -> bool {
    reset_hwm("self")
}

/// The same for another process (root, or the same user).
pub fn reset_hwm(pid: &str) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// The machine: CPU model, cores, memory (for the report).
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = status_like("/proc/meminfo", "MemTotal").map_or(0.0, |k| k as f64 / 1024.0 / 1024.0);
    format!("{cpu}, {cores} cores, {mem:.1} GiB RAM")
}

fn status_like(path: &str, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(path).ok()?;
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        assert!(cpu_time("self").is_some());
        assert!(rss_mib("self").unwrap() > 0.0);
        assert!(hwm_mib("self").unwrap() >= rss_mib("self").unwrap() - 1.0);
    }
}
