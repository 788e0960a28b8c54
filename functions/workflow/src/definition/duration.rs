//! ISO 8601 durations (`PT3M`, `P1DT2H`, `PT0.5S`), as the spec writes every timeout,
//! delay and sleep.

use std::time::Duration;

/// The duration `text` denotes.
pub fn parse(text: &str) -> Result<Duration, String> {
    iso8601::duration(text.trim())
        .map(Duration::from)
        .map_err(|_| format!("{text:?} is not an ISO 8601 duration (such as PT30S)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_iso_durations() {
        assert_eq!(parse("PT3M"), Ok(Duration::from_secs(180)));
        assert_eq!(parse("PT0.5S"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("P1DT1S"), Ok(Duration::from_secs(86_401)));
        assert!(parse("3 minutes").is_err());
    }
}
