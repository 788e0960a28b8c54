//! PingSource schedules, read as knative/eventing reads them: robfig/cron v3 with
//! `SecondOptional | Minute | Hour | Dom | Month | Dow | Descriptor`
//! (`pkg/apis/sources/v1/ping_validation.go` and `pkg/adapter/mtping/adapter.go`), so
//! `fnmesh run` accepts and refuses exactly the schedules a cluster does: 5 fields, or 6
//! with leading seconds; `*`, `?`, lists, ranges, steps and month and weekday names;
//! the descriptors `@yearly` .. `@hourly` and `@midnight`; a `CRON_TZ=`/`TZ=` prefix. No
//! `L`, `W`, `#`, no weekday 7, and `@every` is refused by the webhook.
//!
//! The parse is robfig's (`parser.go`), field by field; the next firing is computed by
//! croner from the parsed fields written out as plain lists, which keeps robfig's rule
//! for day-of-month and day-of-week (both restricted: either matches; one of them `*`
//! or `?`: both must).

use chrono::{DateTime, Utc};
use croner::Cron;

/// The schedule of a PingSource that names none (`pkg/apis/sources/v1/ping_defaults.go`).
pub const DEFAULT_SCHEDULE: &str = "* * * * *";

/// A parsed schedule: when it fires, in its time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// `None` when a field matches no value at all (`,` alone): it never fires, as
    /// robfig's `Next` then finds no time.
    cron: Option<Cron>,
    /// The zone the fields are read in.
    pub timezone: chrono_tz::Tz,
}

/// Why a schedule is refused, and which field upstream blames: robfig's error for a
/// bad location is reported at `timezone`, every other at `schedule`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleError {
    /// At `spec.schedule`.
    Schedule(String),
    /// At `spec.timezone`.
    Timezone(String),
}

/// One field's bounds and names (robfig's `spec.go`).
struct Bounds {
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const SECONDS: Bounds = Bounds { min: 0, max: 59, names: &[] };
const MINUTES: Bounds = Bounds { min: 0, max: 59, names: &[] };
const HOURS: Bounds = Bounds { min: 0, max: 23, names: &[] };
const DOM: Bounds = Bounds { min: 1, max: 31, names: &[] };
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[("sun", 0), ("mon", 1), ("tue", 2), ("wed", 3), ("thu", 4), ("fri", 5), ("sat", 6)],
};

/// One parsed field: the values it matches, and whether a `*` or `?` made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Field {
    bits: u64,
    star: bool,
}

/// Parses `schedule` (with `timezone`, as the webhook and the adapter prepend it:
/// `CRON_TZ=<timezone> <schedule>`) as a cluster does; an empty schedule is the default.
pub fn parse(schedule: &str, timezone: Option<&str>) -> Result<Schedule, ScheduleError> {
    let schedule = if schedule.is_empty() { DEFAULT_SCHEDULE } else { schedule };
    if schedule.contains("@every") {
        return Err(ScheduleError::Schedule("unsupported descriptor @every".into()));
    }
    let full = match timezone.filter(|tz| !tz.is_empty()) {
        Some(tz) => format!("CRON_TZ={tz} {schedule}"),
        None => schedule.to_owned(),
    };
    robfig(&full)
}

/// robfig's `Parser.Parse`.
fn robfig(spec: &str) -> Result<Schedule, ScheduleError> {
    let fail = |message: String| Err(ScheduleError::Schedule(message));
    let mut spec = spec;
    let mut timezone = chrono_tz::Tz::UTC;
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        let (Some(space), Some(eq)) = (spec.find(' '), spec.find('=')) else {
            return fail(format!("no schedule after the time zone: {spec}"));
        };
        let name = &spec[eq + 1..space];
        timezone = location(name).ok_or_else(|| {
            ScheduleError::Timezone(format!("provided bad location {name}: unknown time zone {name}"))
        })?;
        spec = spec[space..].trim();
    }
    if spec.starts_with('@') {
        let fields = match spec {
            "@yearly" | "@annually" => "0 0 0 1 1 *",
            "@monthly" => "0 0 0 1 * *",
            "@weekly" => "0 0 0 * * 0",
            "@daily" | "@midnight" => "0 0 0 * * *",
            "@hourly" => "0 0 * * * *",
            _ => return fail(format!("unrecognized descriptor: {spec}")),
        };
        return robfig_fields(fields, timezone);
    }
    robfig_fields(spec, timezone)
}

/// Go's `time.LoadLocation`: `""` and `UTC` are UTC, `Local` is the adapter pod's zone (UTC).
fn location(name: &str) -> Option<chrono_tz::Tz> {
    match name {
        "" | "UTC" | "Local" => Some(chrono_tz::Tz::UTC),
        name => name.parse().ok(),
    }
}

fn robfig_fields(spec: &str, timezone: chrono_tz::Tz) -> Result<Schedule, ScheduleError> {
    let mut fields: Vec<&str> = spec.split_whitespace().collect();
    if !(5..=6).contains(&fields.len()) {
        return Err(ScheduleError::Schedule(format!(
            "expected 5 to 6 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        )));
    }
    if fields.len() == 5 {
        fields.insert(0, "0");
    }
    let bounds = [SECONDS, MINUTES, HOURS, DOM, MONTHS, DOW];
    let mut parsed = Vec::with_capacity(6);
    for (text, bounds) in fields.iter().zip(&bounds) {
        parsed.push(field(text, bounds).map_err(ScheduleError::Schedule)?);
    }
    if parsed.iter().any(|f| f.bits == 0) {
        return Ok(Schedule { cron: None, timezone });
    }
    let pattern: Vec<String> = parsed.iter().map(|f| written(*f)).collect();
    let cron = Cron::new(&pattern.join(" "))
        .with_seconds_required()
        .parse()
        .map_err(|e| ScheduleError::Schedule(format!("cannot compute its times: {e}")))?;
    Ok(Schedule { cron: Some(cron), timezone })
}

/// A parsed field written for croner: `*` when robfig saw a star (which matters for
/// the day fields), else the list of its values.
fn written(field: Field) -> String {
    if field.star {
        return "*".into();
    }
    (0..64).filter(|i| field.bits & (1 << i) != 0).map(|i: u32| i.to_string()).collect::<Vec<_>>().join(",")
}

/// robfig's `getField`: a comma-separated list of ranges (empty pieces skipped).
fn field(text: &str, bounds: &Bounds) -> Result<Field, String> {
    let mut out = Field { bits: 0, star: false };
    for expr in text.split(',').filter(|e| !e.is_empty()) {
        let range = range(expr, bounds)?;
        out.bits |= range.bits;
        out.star |= range.star;
    }
    Ok(out)
}

/// robfig's `getRange`: `*` | `?` | number | number-number, each with an optional `/step`.
fn range(expr: &str, bounds: &Bounds) -> Result<Field, String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_and_high.len() == 1;
    let (start, mut end, mut star) = if matches!(low_and_high[0], "*" | "?") {
        (bounds.min, bounds.max, true)
    } else {
        let start = int_or_name(low_and_high[0], bounds)?;
        let end = match low_and_high.len() {
            1 => start,
            2 => int_or_name(low_and_high[1], bounds)?,
            _ => return Err(format!("too many hyphens: {expr}")),
        };
        (start, end, false)
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = int(range_and_step[1])?;
            // "N/step" means "N-max/step".
            if single {
                end = bounds.max;
            }
            if step > 1 {
                star = false;
            }
            step
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < bounds.min {
        return Err(format!("beginning of range ({start}) below minimum ({}): {expr}", bounds.min));
    }
    if end > bounds.max {
        return Err(format!("end of range ({end}) above maximum ({}): {expr}", bounds.max));
    }
    if start > end {
        return Err(format!("beginning of range ({start}) beyond end of range ({end}): {expr}"));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    let bits = (start..=end).step_by(step as usize).fold(0u64, |bits, i| bits | (1 << i));
    Ok(Field { bits, star })
}

/// robfig's `parseIntOrName`: a name of the field (any case), else a number.
fn int_or_name(expr: &str, bounds: &Bounds) -> Result<u32, String> {
    let lower = expr.to_ascii_lowercase();
    match bounds.names.iter().find(|(name, _)| *name == lower) {
        Some((_, value)) => Ok(*value),
        None => int(expr),
    }
}

/// robfig's `mustParseInt` (Go's `strconv.Atoi`, which takes a sign): a number, not negative.
fn int(expr: &str) -> Result<u32, String> {
    let number: i64 = expr.parse().map_err(|e: std::num::ParseIntError| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => "value out of range",
            _ => "invalid syntax",
        };
        format!("failed to parse int from {expr}: strconv.Atoi: parsing {expr:?}: {why}")
    })?;
    if number < 0 {
        return Err(format!("negative number ({number}) not allowed: {expr}"));
    }
    // Above every field's maximum: the range checks say so.
    Ok(u32::try_from(number).unwrap_or(u32::MAX))
}

impl Schedule {
    /// The next time after `now` the schedule fires; `None` when it never does.
    pub fn next_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&self.timezone);
        self.cron.as_ref()?.find_next_occurrence(&local, false).ok().map(|t| t.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn next(schedule: &str, now: DateTime<Utc>) -> DateTime<Utc> {
        parse(schedule, None).unwrap().next_after(now).unwrap()
    }

    fn refused(schedule: &str) -> String {
        match parse(schedule, None).unwrap_err() {
            ScheduleError::Schedule(message) | ScheduleError::Timezone(message) => message,
        }
    }

    /// robfig/cron v3 as upstream configures it (pkg/apis/sources/v1/ping_validation.go:
    /// `cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow |
    /// cron.Descriptor`); the expected values are robfig's (parser.go, spec.go).
    #[test]
    fn robfig_accepts_what_upstream_accepts() {
        let now = Utc.with_ymd_and_hms(2020, 9, 14, 14, 49, 30).unwrap(); // a Monday
        let at = |d, h, m, s| Utc.with_ymd_and_hms(2020, 9, d, h, m, s).unwrap();
        assert_eq!(next("* * * * *", now), at(14, 14, 50, 0));
        // Six fields: leading seconds.
        assert_eq!(next("*/10 * * * * *", now), at(14, 14, 49, 40));
        assert_eq!(next("15 0 * * * *", now), at(14, 15, 0, 15));
        assert_eq!(next("@midnight", now), at(15, 0, 0, 0));
        assert_eq!(next("@daily", now), at(15, 0, 0, 0));
        assert_eq!(next("@hourly", now), at(14, 15, 0, 0));
        assert_eq!(next("@weekly", now), at(20, 0, 0, 0));
        assert_eq!(next("@monthly", now), Utc.with_ymd_and_hms(2020, 10, 1, 0, 0, 0).unwrap());
        assert_eq!(next("@annually", now), Utc.with_ymd_and_hms(2021, 1, 1, 0, 0, 0).unwrap());
        // Names, `?`, "N/step" (N to the maximum), lists and ranges.
        assert_eq!(next("0 12 ? * WED", now), at(16, 12, 0, 0));
        assert_eq!(next("0 9 * SEP-OCT sun", now), at(20, 9, 0, 0));
        assert_eq!(next("50/5 14 * * *", now), at(14, 14, 50, 0));
        assert_eq!(next("0 0 1,15 * *", now), at(15, 0, 0, 0));
        // Both day fields restricted: either matches (the 20th is a Sunday).
        assert_eq!(next("0 0 20 * 2", now), at(15, 0, 0, 0));
        // One of them `*`: both must.
        assert_eq!(next("0 0 20 * *", now), at(20, 0, 0, 0));
        // Empty: the default, `* * * * *` (ping_defaults.go).
        assert_eq!(next("", now), at(14, 14, 50, 0));
        // A time zone, as `timezone` or as the prefix.
        let tokyo = parse("0 9 * * *", Some("Asia/Tokyo")).unwrap();
        assert_eq!(tokyo.next_after(now), Some(at(15, 0, 0, 0)));
        let prefixed = parse("CRON_TZ=Asia/Tokyo 0 9 * * *", None).unwrap();
        assert_eq!(prefixed.next_after(now), Some(at(15, 0, 0, 0)));
        // A field with no value at all is accepted and never fires.
        assert_eq!(parse("0 0 , * *", None).unwrap().next_after(now), None);
    }

    #[test]
    fn robfig_refuses_what_upstream_refuses() {
        assert_eq!(refused("@every 1m"), "unsupported descriptor @every");
        assert_eq!(refused("@reboot"), "unrecognized descriptor: @reboot");
        assert_eq!(refused("* * * *"), "expected 5 to 6 fields, found 4: [* * * *]");
        assert_eq!(refused("0 * * * * * *"), "expected 5 to 6 fields, found 7: [0 * * * * * *]");
        assert_eq!(refused("61 * * * *"), "end of range (61) above maximum (59): 61");
        assert_eq!(refused("0 0 0 * *"), "beginning of range (0) below minimum (1): 0");
        assert_eq!(refused("0 0 * * 7"), "end of range (7) above maximum (6): 7");
        assert_eq!(refused("0 0 L * *"), "failed to parse int from L: strconv.Atoi: parsing \"L\": invalid syntax");
        assert_eq!(
            refused("0 0 15W * *"),
            "failed to parse int from 15W: strconv.Atoi: parsing \"15W\": invalid syntax"
        );
        assert_eq!(
            refused("0 0 * * 1#2"),
            "failed to parse int from 1#2: strconv.Atoi: parsing \"1#2\": invalid syntax"
        );
        assert_eq!(refused("0 0 * * 5L"), "failed to parse int from 5L: strconv.Atoi: parsing \"5L\": invalid syntax");
        assert_eq!(refused("*/0 * * * *"), "step of range should be a positive number: */0");
        assert_eq!(refused("5-1 * * * *"), "beginning of range (5) beyond end of range (1): 5-1");
        assert_eq!(refused("1-2-3 * * * *"), "too many hyphens: 1-2-3");
        assert_eq!(refused("*/2/3 * * * *"), "too many slashes: */2/3");
        // A bad zone is blamed on `timezone`, wherever it was written.
        assert!(matches!(parse("* * * * *", Some("Mars/Base")), Err(ScheduleError::Timezone(_))));
        assert!(matches!(parse("TZ=Mars/Base * * * * *", None), Err(ScheduleError::Timezone(_))));
        // Both a `timezone` and a prefix: the prefix is then a field, as upstream.
        assert!(matches!(parse("CRON_TZ=UTC * * * * *", Some("UTC")), Err(ScheduleError::Schedule(_))));
    }
}
