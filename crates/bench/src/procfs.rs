//! What a server process (with its children, such as jq workers) costs, read from
//! `/proc`: CPU seconds, resident memory now and at its peak.

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// `pid` and its live children.
fn family(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    if let Ok(entries) = std::fs::read_dir("/proc") {
        all.extend(
            entries
                .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .filter(|&child| parent(child) == Some(pid)),
        );
    }
    all
}

/// Seconds of CPU (user + system) used so far by `pid` and its live children; `None`
/// where `/proc` is not readable (not Linux).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let own = ticks(pid)?;
    let children: u64 = family(pid).into_iter().skip(1).filter_map(ticks).sum();
    Some((own + children) as f64 / TICKS_PER_SECOND)
}

/// Resident memory (`VmRSS`), or its peak (`VmHWM`), of `pid` and its children, in bytes.
pub fn memory(pid: u32, peak: bool) -> Option<u64> {
    let field = if peak { "VmHWM:" } else { "VmRSS:" };
    let total = family(pid)
        .into_iter()
        .filter_map(|p| {
            let status = std::fs::read_to_string(format!("/proc/{p}/status")).ok()?;
            let line = status.lines().find(|l| l.starts_with(field))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .sum::<u64>();
    (total > 0).then_some(total * 1024)
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
    fn this_process_has_a_cost() {
        let me = std::process::id();
        assert!(cpu_seconds(me).unwrap() >= 0.0);
        assert!(memory(me, false).unwrap() > 0);
        // The peak, read after, is at least the resident size read before (other tests
        // allocate in this process meanwhile, so the other order races).
        let now = memory(me, false).unwrap();
        assert!(memory(me, true).unwrap() >= now);
        assert_eq!(parent(me), Some(std::os::unix::process::parent_id()));
    }
}
