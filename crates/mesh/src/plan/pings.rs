//! PingSource: the schedule ([`super::schedule`]: robfig/cron as upstream configures
//! it, `timezone` or a `CRON_TZ=` prefix) and the event it sends, for v1beta1
//! (`jsonData`), v1beta2 and v1 (`contentType`, `data`, `dataBase64`), checked as the
//! webhook checks them (`pkg/apis/sources/v1/ping_validation.go`) and built as the
//! adapter builds them (`pkg/adapter/mtping/runner.go`). The adapter that fires it on
//! schedule is `dataplane::pings`.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use fnmesh_runtime::delivery::{Backoff, DeliveryPolicy, RetryOn};
use fnmesh_runtime::{Event, EventBuilder, EventBuilderV10};

use super::Planner;
use super::delivery::Target;
use super::schedule::{self, Schedule, ScheduleError};
use crate::manifests::model::PingSourceSpec;
use crate::manifests::{Document, FieldProblem};

/// A planned PingSource.
#[derive(Debug, Clone)]
pub struct PingPlan {
    /// The PingSource's namespace (in the event's `source`).
    pub namespace: String,
    /// The PingSource's name (in the event's `source`).
    pub name: String,
    /// When it fires, in its time zone (`timezone`, else the prefix's, else UTC).
    pub schedule: Schedule,
    /// The content type (`None`: no `datacontenttype`) and the bytes.
    pub data: Option<(Option<String>, Vec<u8>)>,
    /// `ceOverrides.extensions`, set on every event.
    pub extensions: BTreeMap<String, String>,
    /// Where the events go.
    pub sink: Target,
}

/// The content type that makes the webhook check that the data is a JSON object
/// (`cloudevents.ApplicationJSON`, compared as written).
const APPLICATION_JSON: &str = "application/json";

/// How the PingSource adapter sends (`pkg/adapter/mtping/runner.go`:
/// `ContextWithRetriesExponentialBackoff(ctx, 50ms, 5)`, which sdk-go counts from the
/// second attempt: 6 attempts, waiting 100, 200, 400, 800 and 1600 ms), on the
/// adapter's own set of retried statuses ([`RetryOn::Source`]).
pub fn policy() -> DeliveryPolicy {
    DeliveryPolicy {
        retry: 5,
        backoff: Some((Backoff::Exponential, Duration::from_millis(100))),
        retry_on: RetryOn::Source,
        ..DeliveryPolicy::default()
    }
}

/// The adapter's pause at each tick before it sends, "so not all ping fired
/// instantaneously" (`runner.go`: `rand.Intn(500)` ms): uniform in 0..=499 ms.
pub fn tick_delay() -> Duration {
    // A v4 UUID is 122 random bits; the modulo bias over 2^122 is nil.
    let random = uuid::Uuid::new_v4().as_u128();
    Duration::from_millis(u64::try_from(random % 500).unwrap_or_default())
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
    let schedule = match schedule::parse(&spec.schedule, spec.timezone.as_deref()) {
        Ok(schedule) => Some(schedule),
        Err(ScheduleError::Schedule(e)) => {
            let written = if spec.schedule.is_empty() { schedule::DEFAULT_SCHEDULE } else { &spec.schedule };
            problems.push(FieldProblem::new("spec.schedule", format!("{written:?} is not a cron schedule: {e}")));
            None
        }
        Err(ScheduleError::Timezone(e)) => {
            problems.push(FieldProblem::new("spec.timezone", format!("not an IANA time zone: {e}")));
            None
        }
    };
    // Empty strings are unset, as the webhook and the adapter read them.
    let content_type = spec.content_type.clone().filter(|c| !c.trim().is_empty());
    let json_object = |text: &[u8], path: &str, problems: &mut Vec<FieldProblem>| {
        if content_type.as_deref() == Some(APPLICATION_JSON) && !is_json_object(text) {
            problems.push(FieldProblem::new(path, "contentType application/json: must be a JSON object"));
        }
    };
    let data = if let Some(json) = &spec.json_data {
        Some((Some(APPLICATION_JSON.to_owned()), json.clone().into_bytes()))
    } else {
        let text = spec.data.as_deref().filter(|d| !d.is_empty());
        match (text, spec.data_base64.as_deref().filter(|d| !d.is_empty())) {
            (Some(_), Some(_)) => {
                problems.push(FieldProblem::new("spec.dataBase64", "set data or dataBase64, not both"));
                None
            }
            (Some(text), None) => {
                json_object(text.as_bytes(), "spec.data", &mut problems);
                Some((content_type.clone(), text.as_bytes().to_vec()))
            }
            (None, Some(encoded)) => match base64::engine::general_purpose::STANDARD.decode(encoded) {
                Ok(bytes) => {
                    json_object(&bytes, "spec.dataBase64", &mut problems);
                    Some((content_type.clone(), bytes))
                }
                Err(e) => {
                    problems.push(FieldProblem::new("spec.dataBase64", format!("not base64: {e}")));
                    None
                }
            },
            (None, None) => None,
        }
    };
    problems.extend(super::sources::ce_overrides_problems(spec.ce_overrides.as_ref()));
    match schedule {
        Some(schedule) if problems.is_empty() => Ok(sink.map(|sink| PingPlan {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            schedule,
            data,
            extensions: spec.ce_overrides.as_ref().map(|o| o.extensions.clone()).unwrap_or_default(),
            sink,
        })),
        _ => Err(problems),
    }
}

/// The webhook's `validateJSON`: Go's `json.Unmarshal` into a `map[string]interface{}`,
/// which takes an object (or `null`).
fn is_json_object(text: &[u8]) -> bool {
    matches!(serde_json::from_slice(text), Ok(serde_json::Value::Object(_) | serde_json::Value::Null))
}

impl PingPlan {
    /// The next time after `now` the schedule fires.
    pub fn next_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule.next_after(now)
    }

    /// The event sent at `time`: the time it is sent, after the tick's delay (the
    /// adapter's client sets it then: `ceclient.WithTimeNow()` in
    /// `pkg/adapter/v2/cloudevents.go`).
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
        match &self.data {
            // sdk-go's `SetData(contentType, data)`: no content type, no `datacontenttype`.
            Some((Some(content_type), bytes)) => {
                event.set_data(content_type.as_str(), bytes.clone());
            }
            Some((None, bytes)) => {
                event.set_data_unchecked(bytes.clone());
            }
            None => {}
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
        // pkg/apis/sources/v1/ping_defaults.go: no schedule is `* * * * *`.
        let default = plan(&spec("{sink: {uri: 'http://x'}}")).unwrap();
        assert_eq!(default.next_after(now), Some(Utc.with_ymd_and_hms(2020, 9, 14, 14, 50, 0).unwrap()));
        // Six fields (leading seconds) and `@midnight` (ping_validation.go's parser).
        let seconds = plan(&spec("{schedule: '30 */2 * * * *', sink: {uri: 'http://x'}}")).unwrap();
        assert_eq!(seconds.next_after(now), Some(Utc.with_ymd_and_hms(2020, 9, 14, 14, 50, 30).unwrap()));
        assert!(plan(&spec("{schedule: '@midnight', sink: {uri: 'http://x'}}")).is_ok());
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

    /// pkg/adapter/mtping/runner.go `makeEvent`: `dataBase64` (decoded) else `data`, set
    /// with `event.SetData(spec.ContentType, data)`, which leaves `datacontenttype` unset
    /// when `contentType` is empty: no content type is invented.
    #[test]
    fn data_without_a_content_type_has_no_datacontenttype() {
        let time = Utc.with_ymd_and_hms(2020, 9, 14, 14, 50, 0).unwrap();
        let text = plan(&spec("{schedule: '* * * * *', data: 'ping!', sink: {uri: 'http://x'}}")).unwrap();
        let event = text.event(time);
        assert_eq!(event.datacontenttype(), None);
        assert_eq!(event.data(), Some(&fnmesh_runtime::Data::Binary(b"ping!".to_vec())));
        let empty_type =
            plan(&spec("{schedule: '* * * * *', contentType: '', dataBase64: aGk=, sink: {uri: 'http://x'}}"));
        let event = empty_type.unwrap().event(time);
        assert_eq!(
            (event.datacontenttype(), event.data()),
            (None, Some(&fnmesh_runtime::Data::Binary(b"hi".to_vec())))
        );
        // `dataBase64` wins over an empty `data`; empty strings are unset (ping_validation.go).
        let both = plan(&spec("{schedule: '* * * * *', data: '', dataBase64: aGk=, sink: {uri: 'http://x'}}"));
        assert!(both.is_ok());
    }

    /// pkg/adapter/mtping/runner.go: `ContextWithRetriesExponentialBackoff(ctx, 50ms, 5)`;
    /// sdk-go (v2.16.1, protocol/http/protocol_retry.go) makes 1 + 5 attempts and waits
    /// `50ms * 2^k` before retry k: 100, 200, 400, 800, 1600 ms.
    #[test]
    fn the_adapter_sends_six_times_with_doubling_waits() {
        let policy = policy();
        assert_eq!(policy.attempts(), 6);
        let waits: Vec<u128> = (1..=5).map(|k| policy.backoff(k).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1600]);
        assert_eq!(policy.retry_on, RetryOn::Source);
        // runner.go: `time.Sleep(time.Duration(rand.Intn(500)) * time.Millisecond)`.
        assert!((0..100).map(|_| tick_delay()).all(|d| d < Duration::from_millis(500)));
    }

    /// pkg/apis/sources/v1/ping_validation.go: with `contentType: application/json`,
    /// `data` (or the decoded `dataBase64`) must unmarshal into a `map[string]interface{}`.
    #[test]
    fn json_data_must_be_an_object() {
        let paths = |yaml: &str| -> Vec<String> {
            plan(&spec(yaml)).err().unwrap_or_default().into_iter().map(|p| p.path).collect()
        };
        let json = "schedule: '* * * * *', contentType: application/json, sink: {uri: 'http://x'}";
        assert_eq!(paths(&format!("{{{json}, data: '[1, 2]'}}")), ["spec.data"]);
        assert_eq!(paths(&format!("{{{json}, data: 'hello'}}")), ["spec.data"]);
        assert_eq!(paths(&format!("{{{json}, dataBase64: '{}'}}", "WzFd")), ["spec.dataBase64"]);
        assert!(paths(&format!("{{{json}, data: '{{\"a\": 1}}'}}")).is_empty());
        // Go's json.Unmarshal takes `null` into a map without an error.
        assert!(paths(&format!("{{{json}, data: 'null'}}")).is_empty());
        // Another content type: anything goes.
        assert!(
            paths("{schedule: '* * * * *', contentType: text/plain, data: '[1]', sink: {uri: 'http://x'}}").is_empty()
        );
    }

    #[test]
    fn problems_name_the_field() {
        let paths =
            |yaml: &str| -> Vec<String> { plan(&spec(yaml)).unwrap_err().into_iter().map(|p| p.path).collect() };
        assert_eq!(paths("{schedule: 'every minute', sink: {uri: 'http://x'}}"), ["spec.schedule"]);
        // ping_validation.go `validateDescriptor`; robfig has no `L`, `W` or `#`.
        for refused in ["@every 1m", "0 0 L * *", "0 0 15W * *", "0 0 * * 1#2"] {
            let yaml = format!("{{schedule: '{refused}', sink: {{uri: 'http://x'}}}}");
            assert_eq!(paths(&yaml), ["spec.schedule"], "{refused}");
        }
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
