//! What the soak reads of the server from `/proc`: resident memory and open
//! descriptors, each descriptor named by what it is.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::Sample;

/// The server's resident memory and open descriptors now.
pub(super) fn sample(pid: u32, at: Duration) -> Sample {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |field: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64);
    Sample {
        at_s: at.as_secs_f64(),
        rss_kib: kib("VmRSS:"),
        rss_anon_kib: kib("RssAnon:"),
        rss_file_kib: kib("RssFile:"),
        fds,
    }
}

/// The server's open descriptors by what they are: a TCP socket by its state
/// (`tcp listen`, `tcp established`, `tcp close_wait`, ...), another `socket`, a
/// `pipe`, an anonymous inode, or a file's path (under the soak's directory, `…/`).
pub(super) fn descriptors(pid: u32, work: &Path) -> BTreeMap<String, u32> {
    let mut kinds = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return kinds;
    };
    let tcp = tcp_states(pid);
    let work = work.to_string_lossy();
    for entry in dir.flatten() {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        let kind = match target.split_once(":[") {
            Some(("socket", inode)) => match tcp.get(inode.trim_end_matches(']')) {
                Some(state) => format!("tcp {state}"),
                None => "socket".to_owned(),
            },
            Some(("pipe", _)) => "pipe".to_owned(),
            _ => target.replacen(work.as_ref(), "…", 1),
        };
        *kinds.entry(kind).or_insert(0) += 1;
    }
    kinds
}

/// Socket inode → TCP state, from `/proc/<pid>/net/tcp` and `tcp6`.
fn tcp_states(pid: u32) -> BTreeMap<String, &'static str> {
    let mut states = BTreeMap::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(state), Some(inode)) = (fields.get(3), fields.get(9)) else {
                continue;
            };
            let state = match *state {
                "01" => "established",
                "06" => "time_wait",
                "08" => "close_wait",
                "0A" => "listen",
                _ => "other",
            };
            states.insert((*inode).to_owned(), state);
        }
    }
    states
}
