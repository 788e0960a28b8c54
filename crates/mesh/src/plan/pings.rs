//! PingSource: the schedule (5-field cron, `@hourly`-style descriptors, `timezone` or a
//! `CRON_TZ=` prefix) and the event it sends, for v1beta1 (`jsonData`), v1beta2 and v1
//! (`contentType`, `data`, `dataBase64`). The adapter that fires it on schedule is
//! `dataplane::pings`.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use croner::Cron;
use fnmesh_runtime::delivery::{Backoff, DeliveryPolicy, RetryOn};
use fnmesh_runtime::{Event, EventBuilder, EventBuilderV10};

use super::Planner;
use super::delivery::Target;
use crate::manifests::model::PingSourceSpec;
use crate::manifests::{Document, FieldProblem};

/// A planned PingSource.
#[derive(Debug, Clone)]
pub struct PingPlan {
    /// The PingSource's namespace (in the event's `source`).
    pub namespace: String,
    /// The PingSource's name (in the event's `source`).
    pub name: String,
    /// `spec.schedule`, without its `CRON_TZ=` (or `TZ=`) prefix.
    pub schedule: Cron,
    /// The zone the schedule is read in: `timezone`, else the prefix's, else UTC.
    pub timezone: chrono_tz::Tz,
    /// Content type and bytes.
    pub data: Option<(String, Vec<u8>)>,
    /// `ceOverrides.extensions`, set on every event.
    pub extensions: BTreeMap<String, String>,
    /// Where the events go.
    pub sink: Target,
}

/// How the PingSource adapter sends: a few attempts with growing waits, on the
/// adapter's own set of retried statuses.
pub fn policy() -> DeliveryPolicy {
    DeliveryPolicy {
        retry: 3,
        backoff: Some((Backoff::Exponential, Duration::from_millis(100))),
        retry_on: RetryOn::Source,
        ..DeliveryPolicy::default()
    }
}

impl Planner<'_> {
    pub(super) fn ping(&mut self, doc: &Document, spec: &PingSourceSpec) {
        let sink = self.destination(doc, "spec.sink", &spec.sink);
        match plan(&doc.namespace, &doc.name, spec, sink) {
            Ok(Some(ping)) => self.plan.pings.push(ping),
            Ok(None) => {}
            Err(problems) => self.problems.extend(&doc.place, problems),
        }
    }
}

/// Checks `spec` and plans it; `None` without a `sink` (its problem is reported where it
/// was resolved).
pub fn plan(
    namespace: &str,
    name: &str,
    spec: &PingSourceSpec,
    sink: Option<Target>,
) -> Result<Option<PingPlan>, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let (zone_prefix, schedule_text) =
        match spec.schedule.strip_prefix("CRON_TZ=").or(spec.schedule.strip_prefix("TZ=")) {
            Some(rest) => match rest.split_once(' ') {
                Some((zone, schedule)) => (Some(zone.to_owned()), schedule.trim().to_owned()),
                None => (None, spec.schedule.clone()),
            },
            None => (None, spec.schedule.clone()),
        };
    let schedule = match Cron::new(&schedule_text).parse() {
        Ok(cron) if schedule_text.split_whitespace().count() == 5 || schedule_text.starts_with('@') => Some(cron),
        Ok(_) => {
            problems.push(FieldProblem::new(
                "spec.schedule",
                format!("{schedule_text:?} must have 5 fields (minute hour day month weekday)"),
            ));
            None
        }
        Err(e) => {
            problems.push(FieldProblem::new("spec.schedule", format!("{schedule_text:?} is not a cron schedule: {e}")));
            None
        }
    };
    let zone_name = spec.timezone.clone().or(zone_prefix);
    let timezone = match zone_name.as_deref().map(str::parse::<chrono_tz::Tz>) {
        None => Some(chrono_tz::Tz::UTC),
        Some(Ok(tz)) => Some(tz),
        Some(Err(_)) => {
            problems.push(FieldProblem::new(
                "spec.timezone",
                format!("{:?} is not an IANA time zone", zone_name.unwrap_or_default()),
            ));
            None
        }
    };
    let data = if let Some(json) = &spec.json_data {
        Some(("application/json".to_owned(), json.clone().into_bytes()))
    } else {
        match (&spec.data, &spec.data_base64) {
            (Some(_), Some(_)) => {
                problems.push(FieldProblem::new("spec.dataBase64", "set data or dataBase64, not both"));
                None
            }
            (Some(data), None) => Some((content_type(spec), data.clone().into_bytes())),
            (None, Some(encoded)) => match base64::engine::general_purpose::STANDARD.decode(encoded) {
                Ok(bytes) => Some((content_type(spec), bytes)),
                Err(e) => {
                    problems.push(FieldProblem::new("spec.dataBase64", format!("not base64: {e}")));
                    None
                }
            },
            (None, None) => None,
        }
    };
    for name in spec.ce_overrides.iter().flat_map(|o| o.extensions.keys()) {
        if !fnmesh_runtime::binding::is_valid_extension_name(name) {
            problems.push(FieldProblem::new(
                format!("spec.ceOverrides.extensions.{name}"),
                "extension names are lowercase letters and digits (a-z, 0-9)",
            ));
        }
    }
    match (schedule, timezone) {
        (Some(schedule), Some(timezone)) if problems.is_empty() => Ok(sink.map(|sink| PingPlan {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            schedule,
            timezone,
            data,
            extensions: spec.ce_overrides.as_ref().map(|o| o.extensions.clone()).unwrap_or_default(),
            sink,
        })),
        _ => Err(problems),
    }
}

fn content_type(spec: &PingSourceSpec) -> String {
    spec.content_type.clone().unwrap_or_else(|| "text/plain".to_owned())
}

impl PingPlan {
    /// The next time after `now` the schedule fires.
    pub fn next_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&self.timezone);
        self.schedule.find_next_occurrence(&local, false).ok().map(|t| t.with_timezone(&Utc))
    }

    /// The event sent at `time`.
    pub fn event(&self, time: DateTime<Utc>) -> Event {
        let mut builder = EventBuilderV10::new()
            .id(uuid::Uuid::new_v4().to_string())
            .ty("dev.knative.sources.ping")
            .source(format!("/apis/v1/namespaces/{}/pingsources/{}", self.namespace, self.name))
            .time(time);
        for (name, value) in &self.extensions {
            builder = builder.extension(name, value.as_str());
        }
        let mut event = builder.build().unwrap_or_else(|_| unreachable!("every required attribute is set"));
        if let Some((content_type, bytes)) = &self.data {
            event.set_data(content_type.as_str(), bytes.clone());
        }
        event
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use fnmesh_runtime::AttributesReader;

    use super::*;

    fn spec(yaml: &str) -> PingSourceSpec {
        crate::manifests::yaml::from_str(yaml).unwrap()
    }

    /// PingSource `ping` in namespace `demo`, planned.
    fn plan(spec: &PingSourceSpec) -> Result<PingPlan, Vec<FieldProblem>> {
        let sink = Target { url: url::Url::parse("http://x").unwrap(), name: "x".into() };
        super::plan("demo", "ping", spec, Some(sink)).map(Option::unwrap)
    }

    #[test]
    fn schedules_and_time_zones() {
        let ping = plan(&spec("{schedule: '*/2 * * * *', sink: {uri: 'http://x'}}")).unwrap();
        let now = Utc.with_ymd_and_hms(2020, 9, 14, 14, 49, 30).unwrap();
        assert_eq!(ping.next_after(now), Some(Utc.with_ymd_and_hms(2020, 9, 14, 14, 50, 0).unwrap()));
        let tz = plan(&spec("{schedule: '0 9 * * *', timezone: Europe/Paris, sink: {uri: 'http://x'}}")).unwrap();
        assert_eq!(tz.next_after(now), Some(Utc.with_ymd_and_hms(2020, 9, 15, 7, 0, 0).unwrap()));
        let prefixed = plan(&spec("{schedule: 'CRON_TZ=Asia/Tokyo 0 9 * * *', sink: {uri: 'http://x'}}")).unwrap();
        assert_eq!(prefixed.next_after(now), Some(Utc.with_ymd_and_hms(2020, 9, 15, 0, 0, 0).unwrap()));
        assert!(plan(&spec("{schedule: '@hourly', sink: {uri: 'http://x'}}")).is_ok());
    }

    #[test]
    fn events_as_knative_sends_them() {
        let v1beta1 =
            plan(&spec(r#"{schedule: "* * * * *", jsonData: '{"message": "hi"}', sink: {uri: 'http://x'}}"#)).unwrap();
        let time = Utc.with_ymd_and_hms(2020, 9, 14, 14, 50, 0).unwrap();
        let event = v1beta1.event(time);
        assert_eq!(event.ty(), "dev.knative.sources.ping");
        assert_eq!(event.source().as_str(), "/apis/v1/namespaces/demo/pingsources/ping");
        assert_eq!(event.time(), Some(&time));
        assert_eq!(event.datacontenttype(), Some("application/json"));
        assert_eq!(uuid::Uuid::parse_str(event.id()).map(|u| u.get_version_num()), Ok(4));
        let v1 = plan(&spec("{schedule: '* * * * *', contentType: text/plain, dataBase64: aGk=, ceOverrides: {extensions: {flow: demo}}, sink: {uri: 'http://x'}}")).unwrap();
        let event = v1.event(time);
        assert_eq!(event.datacontenttype(), Some("text/plain"));
        assert_eq!(event.extension("flow").map(ToString::to_string), Some("demo".into()));
        let none = plan(&spec("{schedule: '* * * * *', sink: {uri: 'http://x'}}")).unwrap();
        assert_eq!(none.event(time).datacontenttype(), None);
    }

    #[test]
    fn problems_name_the_field() {
        let paths =
            |yaml: &str| -> Vec<String> { plan(&spec(yaml)).unwrap_err().into_iter().map(|p| p.path).collect() };
        assert_eq!(paths("{schedule: 'every minute', sink: {uri: 'http://x'}}"), ["spec.schedule"]);
        assert_eq!(paths("{schedule: '* * * * *', timezone: Mars/Base, sink: {uri: 'http://x'}}"), ["spec.timezone"]);
        assert_eq!(
            paths("{schedule: '* * * * *', data: a, dataBase64: YQ==, sink: {uri: 'http://x'}}"),
            ["spec.dataBase64"]
        );
        assert_eq!(
            paths("{schedule: '* * * * *', ceOverrides: {extensions: {Bad_Name: x}}, sink: {uri: 'http://x'}}"),
            ["spec.ceOverrides.extensions.Bad_Name"]
        );
    }
}
