//! The process's own figures for `/metrics`, read from `/proc/self` at scrape time (the
//! names and meanings of Prometheus's standard `process_*` metrics). On systems without
//! `/proc` the figures are left out rather than reported as zero.

use std::fs;

/// Linux reports CPU time in clock ticks of `USER_HZ`, which is 100 on every
/// architecture Linux supports today (it is fixed in the kernel ABI, unlike `HZ`).
const USER_HZ: f64 = 100.0;

/// What `/proc/self` says about this process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ProcessFigures {
    pub(crate) resident_memory_bytes: Option<u64>,
    pub(crate) cpu_seconds: Option<f64>,
    pub(crate) open_fds: Option<u64>,
    pub(crate) max_fds: Option<u64>,
}

impl ProcessFigures {
    /// Reads them now; a figure that cannot be read is `None`.
    pub(crate) fn read() -> Self {
        Self {
            resident_memory_bytes: fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|status| resident_kib(&status))
                .map(|kib| kib * 1024),
            cpu_seconds: fs::read_to_string("/proc/self/stat")
                .ok()
                .and_then(|stat| cpu_ticks(&stat))
                .map(|ticks| ticks as f64 / USER_HZ),
            open_fds: fs::read_dir("/proc/self/fd")
                .ok()
                .map(|entries| entries.count() as u64),
            max_fds: fs::read_to_string("/proc/self/limits")
                .ok()
                .and_then(|limits| open_files_limit(&limits)),
        }
    }
}

/// `VmRSS:  1234 kB` in `/proc/self/status`.
fn resident_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `utime + stime` from `/proc/self/stat`: fields 14 and 15, counted after the command
/// name, which is in parentheses and may itself contain spaces.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// The soft limit on `Max open files` in `/proc/self/limits`.
fn open_files_limit(limits: &str) -> Option<u64> {
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_proc_formats() {
        assert_eq!(resident_kib("Name:\tx\nVmRSS:\t  2048 kB\n"), Some(2048));
        let stat = "42 (a (weird) name) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0";
        assert_eq!(cpu_ticks(stat), Some(300));
        let limits = "Limit Soft Limit Hard Limit Units\nMax open files            1024                 4096                 files\n";
        assert_eq!(open_files_limit(limits), Some(1024));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process() {
        let figures = ProcessFigures::read();
        assert!(figures.resident_memory_bytes.unwrap() > 0);
        assert!(figures.open_fds.unwrap() > 0);
        assert!(figures.cpu_seconds.is_some());
    }
}
