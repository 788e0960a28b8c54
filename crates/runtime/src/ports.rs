//! Loopback ports for servers run as processes of this machine (by `fnmesh run`, and by
//! tests that start a function or a mesh).
//!
//! The runner cannot hand a process its listening socket: the process binds `PORT` itself,
//! a moment after the runner chose it. A port taken with `bind(:0)` comes from the kernel's
//! ephemeral range, which every other `bind(:0)` and every outgoing connection on the
//! machine draws from too; in that moment, one of them can take it (a test suite running
//! meshes in parallel did). So the port is drawn at random from below that range, where
//! only programs asking for a port by number go, and is free when chosen.

use std::net::{Ipv4Addr, TcpListener};
use std::ops::Range;

/// Where ports are drawn from when the kernel's range cannot be read (Linux's default
/// ephemeral range starts at 32768).
const FALLBACK: Range<u16> = 20000..32768;
/// The lowest port drawn: the ports below are the well-known and common development ones.
const LOWEST: u16 = 20000;
/// How many draws before falling back to a port the kernel chooses.
const DRAWS: usize = 64;

/// A free loopback port for a process to listen on.
pub fn for_process() -> std::io::Result<u16> {
    let range = below_ephemeral(std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok().as_deref());
    for _ in 0..DRAWS {
        let port = fastrand::u16(range.clone());
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    // Below the range everything is taken: the kernel's choice it is.
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// The ports from [`LOWEST`] up to the ephemeral range that `proc` (the text of
/// `ip_local_port_range`, `"32768\t60999"`) names.
fn below_ephemeral(proc: Option<&str>) -> Range<u16> {
    let low = proc.and_then(|text| text.split_whitespace().next()).and_then(|low| low.parse::<u16>().ok());
    match low {
        // At least 1024 ports to draw from; otherwise the default's.
        Some(low) if low >= LOWEST + 1024 => LOWEST..low,
        Some(low) if low > 2048 => 1024..low,
        _ => FALLBACK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_drawn_below_the_ephemeral_range() {
        assert_eq!(below_ephemeral(Some("32768\t60999\n")), 20000..32768);
        assert_eq!(below_ephemeral(Some("49152 65535")), 20000..49152);
        // A range that starts low leaves the ports from 1024 up.
        assert_eq!(below_ephemeral(Some("10000 65535")), 1024..10000);
        // Unreadable or unusable: the default's.
        assert_eq!(below_ephemeral(None), FALLBACK);
        assert_eq!(below_ephemeral(Some("1024 65535")), FALLBACK);
        assert_eq!(below_ephemeral(Some("nonsense")), FALLBACK);
    }

    #[test]
    fn a_chosen_port_is_free_and_below_the_range() {
        let port = for_process().unwrap();
        let range = below_ephemeral(std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok().as_deref());
        // The kernel's choice only when 64 draws found nothing free, which a test machine
        // does not see.
        assert!(range.contains(&port), "{port} not in {range:?}");
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
    }
}
