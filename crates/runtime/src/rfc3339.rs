//! Timestamps written the way Go's CloudEvents SDK writes them.
//!
//! Go formats a CloudEvent `time` with `time.RFC3339Nano` in UTC: the fraction of a
//! second loses its trailing zeros, and disappears when it is zero
//! (`2020-03-02T20:52:00.0004957Z`, `2020-03-02T20:52:00Z`). We write `ce-time` and
//! event-display's `time:` line the same way, so replies and logs match the Go images.

use chrono::{DateTime, Datelike, Timelike, Utc};
use std::fmt::Write;

/// `t` as Go's `t.UTC().Format(time.RFC3339Nano)`.
pub fn format(t: &DateTime<Utc>) -> String {
    let mut out = String::with_capacity(30);
    write_date_time(&mut out, t, 'T');
    out.push('Z');
    out
}

/// `t` as Go's `time.Time.String()` for a UTC time:
/// `2020-09-14 14:50:00.000345656 +0000 UTC`.
pub fn format_go_string(t: &DateTime<Utc>) -> String {
    let mut out = String::with_capacity(40);
    write_date_time(&mut out, t, ' ');
    out.push_str(" +0000 UTC");
    out
}

fn write_date_time(out: &mut String, t: &DateTime<Utc>, separator: char) {
    // Digit by digit: `write!` with padded integers was a tenth of the appender's
    // instructions per event (two log lines and `ce-time` each).
    let year = t.year();
    if (0..=9999).contains(&year) {
        push_digits(out, year as u32, 4);
    } else {
        // Years past 9999 or before 0 (chrono allows them; Go writes them in full).
        let _ = write!(out, "{year:04}");
    }
    out.push('-');
    push_digits(out, t.month(), 2);
    out.push('-');
    push_digits(out, t.day(), 2);
    out.push(separator);
    push_digits(out, t.hour(), 2);
    out.push(':');
    push_digits(out, t.minute(), 2);
    out.push(':');
    push_digits(out, t.second(), 2);
    // chrono keeps a leap second as nanosecond >= 1e9; Go has no leap seconds.
    let mut nanos = t.nanosecond() % 1_000_000_000;
    if nanos != 0 {
        let mut width = 9;
        while nanos.is_multiple_of(10) {
            nanos /= 10;
            width -= 1;
        }
        out.push('.');
        push_digits(out, nanos, width);
    }
}

/// `n` in exactly `width` decimal digits, zero-padded (`n` has no more digits than that).
pub(crate) fn push_digits(out: &mut String, n: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = (n / 10u32.pow(place)) % 10;
        out.push(char::from(b'0' + digit as u8));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn trailing_zeros_are_dropped() {
        assert_eq!(format(&t("2020-03-02T20:52:00.0004957Z")), "2020-03-02T20:52:00.0004957Z");
        assert_eq!(format(&t("2020-03-02T20:52:00.000495700Z")), "2020-03-02T20:52:00.0004957Z");
        assert_eq!(format(&t("2020-03-02T20:52:00.000Z")), "2020-03-02T20:52:00Z");
        assert_eq!(format(&t("2020-03-02T20:52:00Z")), "2020-03-02T20:52:00Z");
        assert_eq!(format(&t("2020-03-02T20:52:00.123456789Z")), "2020-03-02T20:52:00.123456789Z");
        assert_eq!(format(&t("2020-03-02T20:52:00.1Z")), "2020-03-02T20:52:00.1Z");
        assert_eq!(format(&t("0001-01-01T00:00:00.000000001Z")), "0001-01-01T00:00:00.000000001Z");
        let far = DateTime::from_timestamp(253_402_300_800, 0).unwrap();
        assert_eq!(format(&far), "10000-01-01T00:00:00Z");
    }

    #[test]
    fn offsets_become_utc() {
        assert_eq!(format(&t("2018-04-26T14:48:09+02:00")), "2018-04-26T12:48:09Z");
    }

    #[test]
    fn go_string_form() {
        assert_eq!(format_go_string(&t("2020-09-14T14:50:00.000345656Z")), "2020-09-14 14:50:00.000345656 +0000 UTC");
        assert_eq!(format_go_string(&t("2020-09-14T14:50:00Z")), "2020-09-14 14:50:00 +0000 UTC");
    }
}
