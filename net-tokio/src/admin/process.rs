//! Facts about the keeper process and its machine, where ZooKeeper reports the JVM's:
//! `environment`, `system_properties`, the file descriptor gauges, and the `process_*`
//! Prometheus metrics (what Prometheus clients export for any process).
//!
//! Read from `/proc` on Linux; elsewhere the figures that need it are left out rather than
//! invented. Invariant: nothing here fails a request: an unreadable file only drops the
//! figure it would have given.

use std::collections::BTreeMap;

use keeper_core::zoocfg::ZooCfg;
use serde::Serialize;

use super::metrics::{family, sample};

/// What ZooKeeper prints for a property that has no value (`java.compiler=<NA>`).
const NA: &str = "<NA>";

/// The `environment` command's keys, in ZooKeeper's order.
#[derive(Serialize)]
pub struct Environment {
    #[serde(rename = "zookeeper.version")]
    zookeeper_version: String,
    #[serde(rename = "host.name")]
    host_name: String,
    #[serde(rename = "java.version")]
    java_version: &'static str,
    #[serde(rename = "java.vendor")]
    java_vendor: &'static str,
    #[serde(rename = "java.home")]
    java_home: &'static str,
    #[serde(rename = "java.class.path")]
    java_class_path: &'static str,
    #[serde(rename = "java.library.path")]
    java_library_path: &'static str,
    #[serde(rename = "java.io.tmpdir")]
    java_io_tmpdir: String,
    #[serde(rename = "java.compiler")]
    java_compiler: &'static str,
    #[serde(rename = "os.name")]
    os_name: String,
    #[serde(rename = "os.arch")]
    os_arch: &'static str,
    #[serde(rename = "os.version")]
    os_version: String,
    #[serde(rename = "user.name")]
    user_name: String,
    #[serde(rename = "user.home")]
    user_home: String,
    #[serde(rename = "user.dir")]
    user_dir: String,
    /// The machine's available memory (the JVM reports its free heap).
    #[serde(rename = "os.memory.free")]
    os_memory_free: String,
    /// The machine's memory (the JVM reports its maximum heap).
    #[serde(rename = "os.memory.max")]
    os_memory_max: String,
    /// This process's resident memory (the JVM reports its current heap).
    #[serde(rename = "os.memory.total")]
    os_memory_total: String,
}

/// The `environment` command: keeper's version, the host, and the process's facts under
/// ZooKeeper's key names; the JVM-only keys say `<NA>`.
pub fn environment(cfg: &ZooCfg) -> Environment {
    let mb = |bytes: Option<u64>| match bytes {
        Some(b) => format!("{}MB", b / (1024 * 1024)),
        None => NA.to_string(),
    };
    Environment {
        zookeeper_version: cfg.config.version_text.clone(),
        host_name: cfg.config.host_name.clone(),
        java_version: NA,
        java_vendor: NA,
        java_home: NA,
        java_class_path: NA,
        java_library_path: NA,
        java_io_tmpdir: std::env::temp_dir().display().to_string(),
        java_compiler: NA,
        os_name: os_name(),
        os_arch: os_arch(),
        os_version: os_version(),
        user_name: user_name(),
        user_home: env_or_na(&["HOME"]),
        user_dir: std::env::current_dir().map(|d| d.display().to_string()).unwrap_or(NA.into()),
        os_memory_free: mb(meminfo_bytes("MemAvailable:")),
        os_memory_max: mb(meminfo_bytes("MemTotal:")),
        os_memory_total: mb(status_bytes("VmRSS:")),
    }
}

/// The `system_properties` command: the process facts that have a JVM property name,
/// sorted by key as ZooKeeper prints them.
pub fn system_properties() -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("file.separator", std::path::MAIN_SEPARATOR.to_string()),
        ("java.io.tmpdir", std::env::temp_dir().display().to_string()),
        ("line.separator", "\n".to_string()),
        ("os.arch", os_arch().to_string()),
        ("os.name", os_name()),
        ("os.version", os_version()),
        ("path.separator", if cfg!(windows) { ";" } else { ":" }.to_string()),
        ("user.dir", std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default()),
        ("user.home", env_or_na(&["HOME"])),
        ("user.name", user_name()),
    ])
}

/// Open file descriptors of this process.
pub fn open_fds() -> Option<u64> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as u64)
}

/// The soft limit on open files (`ulimit -n`).
pub fn max_fds() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The `process_*` metrics Prometheus clients export for any process.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcessInfo {
    pub cpu_seconds: Option<f64>,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
    pub resident_memory_bytes: Option<u64>,
    pub virtual_memory_bytes: Option<u64>,
    pub start_time_seconds: u64,
}

impl ProcessInfo {
    /// Reads the figures now; `started_epoch_secs` is when the server started.
    pub fn read(started_epoch_secs: u64) -> ProcessInfo {
        ProcessInfo {
            cpu_seconds: cpu_seconds(),
            open_fds: open_fds(),
            max_fds: max_fds(),
            resident_memory_bytes: status_bytes("VmRSS:"),
            virtual_memory_bytes: status_bytes("VmSize:"),
            start_time_seconds: started_epoch_secs,
        }
    }

    /// Appends the families that have a value.
    pub fn render(&self, out: &mut String) {
        let rows: [(&str, &str, &str, Option<f64>); 6] = [
            (
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                "counter",
                self.cpu_seconds,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors.",
                "gauge",
                self.open_fds.map(|n| n as f64),
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors.",
                "gauge",
                self.max_fds.map(|n| n as f64),
            ),
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                "gauge",
                self.resident_memory_bytes.map(|n| n as f64),
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                "gauge",
                self.virtual_memory_bytes.map(|n| n as f64),
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                "gauge",
                Some(self.start_time_seconds as f64),
            ),
        ];
        for (name, help, kind, value) in rows {
            if let Some(v) = value {
                family(out, name, help, kind);
                sample(out, name, "", v);
            }
        }
    }
}

/// User + system CPU time from `/proc/self/stat`, assuming the usual 100 ticks a second
/// (`CLK_TCK` is 100 on every Linux architecture keeper builds for).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// A `kB` line of `/proc/self/status`, in bytes.
fn status_bytes(key: &str) -> Option<u64> {
    kb_line(&std::fs::read_to_string("/proc/self/status").ok()?, key)
}

/// A `kB` line of `/proc/meminfo`, in bytes.
fn meminfo_bytes(key: &str) -> Option<u64> {
    kb_line(&std::fs::read_to_string("/proc/meminfo").ok()?, key)
}

fn kb_line(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line[key.len()..].split_whitespace().next()?.parse().ok()?;
    Some(kb * 1024)
}

/// The name of the user the process runs as: `/etc/passwd`'s entry for the real uid of
/// `/proc/self/status` (services often run without `$USER`), else `$USER`.
fn user_name() -> String {
    let from_passwd = || -> Option<String> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let uid = status.lines().find_map(|l| l.strip_prefix("Uid:"))?.split_whitespace().next()?;
        let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
        passwd.lines().find_map(|l| {
            let mut fields = l.split(':');
            let name = fields.next()?;
            (fields.nth(1)? == uid).then(|| name.to_string())
        })
    };
    from_passwd().unwrap_or_else(|| env_or_na(&["USER", "LOGNAME"]))
}

fn env_or_na(keys: &[&str]) -> String {
    keys.iter().find_map(|k| std::env::var(k).ok()).unwrap_or_else(|| NA.to_string())
}

/// The OS name as the JVM spells it (`Linux`, `Mac OS X`).
fn os_name() -> String {
    match std::env::consts::OS {
        "linux" => "Linux".to_string(),
        "macos" => "Mac OS X".to_string(),
        "windows" => "Windows".to_string(),
        other => other.to_string(),
    }
}

/// The architecture as the JVM spells it (`amd64` for x86-64).
fn os_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "x86",
        other => other,
    }
}

fn os_version() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| NA.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kb_lines_parse() {
        let text = "Name:\tkeeper\nVmRSS:\t   2048 kB\n";
        assert_eq!(kb_line(text, "VmRSS:"), Some(2 * 1024 * 1024));
        assert_eq!(kb_line(text, "VmSize:"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_figures_are_read() {
        let info = ProcessInfo::read(1);
        assert!(info.open_fds.unwrap() > 0);
        assert!(info.max_fds.unwrap() >= info.open_fds.unwrap());
        assert!(info.resident_memory_bytes.unwrap() > 0);
        assert!(info.cpu_seconds.is_some());
        let mut out = String::new();
        info.render(&mut out);
        assert!(out.contains("# TYPE process_open_fds gauge\n"));
        assert!(out.contains("process_start_time_seconds 1.0\n"));
    }
}
