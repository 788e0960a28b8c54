//! PingSource: the schedule (5-field cron, `@hourly`-style descriptors, `timezone` or a
//! `CRON_TZ=` prefix) and the event it sends, for v1beta1 (`jsonData`), v1beta2 and v1
//! (`contentType`, `data`, `dataBase64`).

use std::collections::BTreeMap;

use base64::Engine;
use chrono::{DateTime, Utc};
use croner::Cron;
use fnmesh_runtime::{Event, EventBuilder, EventBuilderV10};

use crate::delivery::Target;
use crate::manifest::Document;
use crate::model::PingSourceSpec;

/// A planned PingSource.
#[derive(Debug, Clone)]
pub struct PingPlan {
    pub namespace: String,
    pub name: String,
    pub schedule: Cron,
    pub timezone: chrono_tz::Tz,
    /// Content type and bytes.
    pub data: Option<(String, Vec<u8>)>,
    pub extensions: BTreeMap<String, String>,
    pub sink: Target,
}

/// Checks `spec` and plans it (the sink is set by the caller). Errors are
/// `(path, message)`.
pub fn plan(doc: &Document, spec: &PingSourceSpec) -> Result<PingPlan, Vec<(String, String)>> {
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
            problems.push((
                "spec.schedule".into(),
                format!("{schedule_text:?} must have 5 fields (minute hour day month weekday)"),
            ));
            None
        }
        Err(e) => {
            problems.push(("spec.schedule".into(), format!("{schedule_text:?} is not a cron schedule: {e}")));
            None
        }
    };
    let zone_name = spec.timezone.clone().or(zone_prefix);
    let timezone = match zone_name.as_deref().map(str::parse::<chrono_tz::Tz>) {
        None => Some(chrono_tz::Tz::UTC),
        Some(Ok(tz)) => Some(tz),
        Some(Err(_)) => {
            problems.push((
                "spec.timezone".into(),
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
                problems.push(("spec.dataBase64".into(), "set data or dataBase64, not both".into()));
                None
            }
            (Some(data), None) => Some((content_type(spec), data.clone().into_bytes())),
            (None, Some(encoded)) => match base64::engine::general_purpose::STANDARD.decode(encoded) {
                Ok(bytes) => Some((content_type(spec), bytes)),
                Err(e) => {
                    problems.push(("spec.dataBase64".into(), format!("not base64: {e}")));
                    None
                }
            },
            (None, None) => None,
        }
    };
    for name in spec.ce_overrides.iter().flat_map(|o| o.extensions.keys()) {
        if !fnmesh_runtime::binding::is_valid_extension_name(name) {
            problems.push((
                format!("spec.ceOverrides.extensions.{name}"),
                "extension names are a-z and 0-9, at most 20".into(),
            ));
        }
    }
    match (schedule, timezone) {
        (Some(schedule), Some(timezone)) if problems.is_empty() => Ok(PingPlan {
            namespace: doc.namespace.clone(),
            name: doc.name.clone(),
            schedule,
            timezone,
            data,
            extensions: spec.ce_overrides.as_ref().map(|o| o.extensions.clone()).unwrap_or_default(),
            sink: Target {
                url: url::Url::parse("http://unset.invalid").unwrap_or_else(|_| unreachable!()),
                name: String::new(),
            },
        }),
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
    use crate::problems::Place;

    fn doc() -> Document {
        Document {
            place: Place::new(std::path::Path::new("p.yaml"), 1),
            api_version: "sources.knative.dev/v1".into(),
            kind: "PingSource".into(),
            name: "ping".into(),
            namespace: "demo".into(),
            value: crate::yaml::Value::Null,
        }
    }

    fn spec(yaml: &str) -> PingSourceSpec {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn schedules_and_time_zones() {
        let ping = plan(&doc(), &spec("{schedule: '*/2 * * * *', sink: {uri: 'http://x'}}")).unwrap();
        let now = Utc.with_ymd_and_hms(2020, 9, 14, 14, 49, 30).unwrap();
        assert_eq!(ping.next_after(now), Some(Utc.with_ymd_and_hms(2020, 9, 14, 14, 50, 0).unwrap()));
        let tz =
            plan(&doc(), &spec("{schedule: '0 9 * * *', timezone: Europe/Paris, sink: {uri: 'http://x'}}")).unwrap();
        assert_eq!(tz.next_after(now), Some(Utc.with_ymd_and_hms(2020, 9, 15, 7, 0, 0).unwrap()));
        let prefixed =
            plan(&doc(), &spec("{schedule: 'CRON_TZ=Asia/Tokyo 0 9 * * *', sink: {uri: 'http://x'}}")).unwrap();
        assert_eq!(prefixed.next_after(now), Some(Utc.with_ymd_and_hms(2020, 9, 15, 0, 0, 0).unwrap()));
        assert!(plan(&doc(), &spec("{schedule: '@hourly', sink: {uri: 'http://x'}}")).is_ok());
    }

    #[test]
    fn events_as_knative_sends_them() {
        let v1beta1 =
            plan(&doc(), &spec(r#"{schedule: "* * * * *", jsonData: '{"message": "hi"}', sink: {uri: 'http://x'}}"#))
                .unwrap();
        let time = Utc.with_ymd_and_hms(2020, 9, 14, 14, 50, 0).unwrap();
        let event = v1beta1.event(time);
        assert_eq!(event.ty(), "dev.knative.sources.ping");
        assert_eq!(event.source().as_str(), "/apis/v1/namespaces/demo/pingsources/ping");
        assert_eq!(event.time(), Some(&time));
        assert_eq!(event.datacontenttype(), Some("application/json"));
        assert_eq!(uuid::Uuid::parse_str(event.id()).map(|u| u.get_version_num()), Ok(4));
        let v1 = plan(&doc(), &spec("{schedule: '* * * * *', contentType: text/plain, dataBase64: aGk=, ceOverrides: {extensions: {flow: demo}}, sink: {uri: 'http://x'}}")).unwrap();
        let event = v1.event(time);
        assert_eq!(event.datacontenttype(), Some("text/plain"));
        assert_eq!(event.extension("flow").map(ToString::to_string), Some("demo".into()));
        let none = plan(&doc(), &spec("{schedule: '* * * * *', sink: {uri: 'http://x'}}")).unwrap();
        assert_eq!(none.event(time).datacontenttype(), None);
    }

    #[test]
    fn problems_name_the_field() {
        let paths = |yaml: &str| -> Vec<String> {
            plan(&doc(), &spec(yaml)).unwrap_err().into_iter().map(|(p, _)| p).collect()
        };
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
