//! Server CPU time, read from `/proc/PID/stat`, for `keeper bench --server-pid`.
//!
//! Throughput on a small shared machine is often bounded by something other than the server
//! (the load generator on the same cores, or the disk's flush time for writes), so two
//! servers can post the same ops/s while one of them works four times as hard. The CPU
//! seconds a server spends over the measured window, divided by the requests in it, is the
//! figure that stays comparable: it is what one request costs the server, whatever bounded
//! the run. Invariant: a sample is the sum over the given processes of user plus system
//! time of all their threads (fields 14 and 15 of `/proc/PID/stat`, in the kernel's fixed
//! USER_HZ of 100 ticks per second); a process that cannot be read is an error, never a
//! silent zero.

use std::fs;

/// Clock ticks per second in `/proc/PID/stat` (USER_HZ): 100 on every Linux architecture
/// keeper targets (x86-64, ARM64); it is part of the kernel's user-space ABI.
const USER_HZ: f64 = 100.0;

/// CPU seconds (user + system, all threads) used so far by the processes `pids`.
pub fn cpu_seconds(pids: &[u32]) -> Result<f64, String> {
    let mut ticks = 0u64;
    for pid in pids {
        let path = format!("/proc/{pid}/stat");
        let text = fs::read_to_string(&path).map_err(|e| format!("--server-pid {pid}: {e}"))?;
        ticks += stat_ticks(&text).ok_or_else(|| format!("{path}: unexpected format"))?;
    }
    Ok(ticks as f64 / USER_HZ)
}

/// utime + stime from one `/proc/PID/stat` line. The command name (field 2) is in
/// parentheses and may itself hold spaces and parentheses, so fields are counted from the
/// last `)`: after it come state (field 3) .. utime (14) and stime (15).
fn stat_ticks(line: &str) -> Option<u64> {
    let rest = &line[line.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11); // fields 3..=13
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// utime and stime are found even when the command name holds spaces and parentheses.
    #[test]
    fn stat_ticks_counts_from_the_last_parenthesis() {
        let line = "4242 (java (main) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 40 0";
        assert_eq!(stat_ticks(line), Some(325));
        assert_eq!(stat_ticks("1 (init) S 0 1"), None, "too short");
        assert_eq!(stat_ticks("no parenthesis at all"), None);
    }

    /// This test process has used some CPU, and a process that does not exist is an error.
    #[test]
    fn cpu_seconds_reads_a_live_process_and_names_a_missing_one() {
        let me = std::process::id();
        let spent = cpu_seconds(&[me]).expect("own stat is readable");
        assert!(spent >= 0.0);
        let err = cpu_seconds(&[me, u32::MAX]).expect_err("no such pid");
        assert!(err.contains("--server-pid 4294967295"), "{err}");
    }
}
