//! CPU time of a server process and its children (jq workers), from `/proc`: what a
//! function costs per event, whatever the load generator beside it costs.

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// Seconds of CPU (user + system) used so far by `pid` and its live children; `None`
/// where `/proc` is not readable (not Linux).
pub fn seconds(pid: u32) -> Option<f64> {
    let own = ticks(pid)?;
    let children: u64 = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&child| parent(child) == Some(pid))
        .filter_map(ticks)
        .sum();
    Some((own + children) as f64 / TICKS_PER_SECOND)
}

/// The fields of `/proc/<pid>/stat` after the command name (which may hold spaces).
fn fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// utime + stime: fields 14 and 15 of the file, 12 and 13 after the name.
fn ticks(pid: u32) -> Option<u64> {
    let fields = fields(pid)?;
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn parent(pid: u32) -> Option<u32> {
    fields(pid)?.get(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_cpu_time() {
        let spent = seconds(std::process::id()).unwrap();
        assert!(spent >= 0.0);
        assert_eq!(parent(std::process::id()), Some(std::os::unix::process::parent_id()));
    }
}
