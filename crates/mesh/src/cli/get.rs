//! `fnmesh get`: what a running `fnmesh run` serves, as `kubectl get` shows it: each kind's
//! printer columns from its CRD, `-o wide|yaml|json|name`, and READY from the service itself.

use std::fmt::Write as _;

use super::args::GetOutput;
pub use super::columns::{Column, RESOURCES, Resource};
use crate::error::{Error, Result};
use crate::plan::ObjectRow;

/// What `fnmesh get` was asked.
#[derive(Debug, Clone)]
pub struct GetArgs {
    /// The kind (any spelling [`Resource::named`] takes); `None`: every kind.
    pub kind: Option<String>,
    /// One object's name.
    pub name: Option<String>,
    /// `-o`; `None`: the table.
    pub output: Option<GetOutput>,
    /// The namespace; `None`: every namespace (`-A`).
    pub namespace: Option<String>,
    /// The ingress port of the running mesh, on 127.0.0.1.
    pub port: u16,
}

/// The objects of a running mesh, as `kubectl get` shows them.
pub async fn get(args: &GetArgs) -> Result<String> {
    let url = format!("http://127.0.0.1:{}/.fnmesh/objects", args.port);
    let port = args.port;
    let body = reqwest::get(&url)
        .await
        .map_err(|e| Error::Remote(format!("cannot reach {url}: {e} (is `fnmesh run` running with --port {port}?)")))?
        .bytes()
        .await
        .map_err(|e| Error::Remote(format!("{url}: {e}")))?;
    let rows: Vec<ObjectRow> =
        serde_json::from_slice(&body).map_err(|e| Error::Remote(format!("{url}: not an fnmesh answer: {e}")))?;
    let resource = args.kind.as_deref().map(Resource::named).transpose()?;
    if args.name.is_some() && resource.is_none() {
        return Err(Error::Usage("write the kind before the name: fnmesh get KIND NAME".into()));
    }
    let mut rows: Vec<ObjectRow> = rows
        .into_iter()
        .filter(|r| resource.is_none_or(|k| r.kind == k.name))
        .filter(|r| args.namespace.as_ref().is_none_or(|n| r.namespace == *n))
        .filter(|r| args.name.as_ref().is_none_or(|n| r.name == *n))
        .collect();
    if let (Some(resource), Some(name)) = (resource, &args.name)
        && rows.is_empty()
    {
        let group = if resource.group.is_empty() { String::new() } else { format!(".{}", resource.group) };
        return Err(Error::Remote(format!(
            "Error from server (NotFound): {}{group} \"{name}\" not found",
            resource.plural
        )));
    }
    // Probed together: each waits at most its own timeout.
    let mut probes = tokio::task::JoinSet::new();
    for (i, row) in rows.iter().enumerate() {
        let row = row.clone();
        probes.spawn(async move { (i, probe(&row, port).await) });
    }
    while let Some(joined) = probes.join_next().await {
        if let Ok((i, Some(ready))) = joined {
            set_ready(&mut rows[i].object, &ready);
        }
    }
    render(&rows, args, chrono::Utc::now())
}

/// What a probe found: `Ready` status, reason, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// `True` or `False`.
    pub status: &'static str,
    /// Why not, in one word; empty when ready.
    pub reason: String,
    /// More, for `-o yaml`.
    pub message: String,
}

/// Whether a workload (ksvc, v1 Service) answers now, through the ingress as anything
/// else would reach it; `None` for the other kinds (served by the mesh itself). As on
/// a cluster: with a `readinessProbe.httpGet` in the manifest, a `2xx` or `3xx` on its
/// path (the kubelet's rule); without, Knative's default, a TCP probe, for which any
/// answer of the service's own counts (the ingress's `502` with its JSON error is no
/// answer from the service).
async fn probe(row: &ObjectRow, port: u16) -> Option<Readiness> {
    if !matches!(row.kind.as_str(), "ksvc" | "service") {
        return None;
    }
    let http_get = row
        .object
        .pointer("/spec/template/spec/containers/0/readinessProbe/httpGet/path")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    let path = http_get.clone().unwrap_or_else(|| "/healthz".to_owned());
    let path = if path.starts_with('/') { path } else { format!("/{path}") };
    let host = format!("{}.{}.svc.cluster.local", row.name, row.namespace);
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(2)).build().ok()?;
    let answer = client.get(format!("http://127.0.0.1:{port}{path}")).header(http::header::HOST, &host).send().await;
    Some(match answer {
        Err(e) => not_ready("NotResponding", format!("GET {path}: {e}")),
        Ok(response) => {
            let status = response.status();
            let body = response.bytes().await.unwrap_or_default();
            let from_ingress = status == http::StatusCode::BAD_GATEWAY
                && serde_json::from_slice::<serde_json::Value>(&body).is_ok_and(|v| v.get("error").is_some());
            if from_ingress {
                let error = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["error"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                not_ready("NotResponding", error)
            } else if http_get.is_some() && !(200..400).contains(&status.as_u16()) {
                not_ready("ProbeFailed", format!("GET {path}: {status}"))
            } else {
                Readiness { status: "True", reason: String::new(), message: String::new() }
            }
        }
    })
}

fn not_ready(reason: &str, message: String) -> Readiness {
    Readiness { status: "False", reason: reason.to_owned(), message }
}

/// `object`'s `Ready` condition as `ready` says.
pub fn set_ready(object: &mut serde_json::Value, ready: &Readiness) {
    let mut condition = serde_json::json!({"type": "Ready", "status": ready.status});
    if !ready.reason.is_empty() {
        condition["reason"] = ready.reason.clone().into();
        condition["message"] = ready.message.clone().into();
    }
    if let Some(object) = object.as_object_mut() {
        let status = object.entry("status").or_insert_with(|| serde_json::json!({}));
        status["conditions"] = serde_json::json!([condition]);
    }
}

/// `rows` as `args.output` asks, at time `now` (for ages).
pub fn render(rows: &[ObjectRow], args: &GetArgs, now: chrono::DateTime<chrono::Utc>) -> Result<String> {
    let single = args.name.is_some();
    match args.output {
        Some(GetOutput::Json | GetOutput::Yaml) => {
            let value = if single && rows.len() == 1 {
                rows[0].object.clone()
            } else {
                let items: Vec<serde_json::Value> = rows.iter().map(|r| r.object.clone()).collect();
                serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}})
            };
            if args.output == Some(GetOutput::Json) {
                serde_json::to_string_pretty(&value).map(|t| t + "\n").map_err(|e| Error::Output(e.to_string()))
            } else {
                crate::manifests::yaml::to_string(&value).map_err(Error::Output)
            }
        }
        Some(GetOutput::Name) => Ok(rows
            .iter()
            .map(|r| match resource_of(r) {
                Some(resource) => format!("{}/{}\n", resource.qualified(), r.name),
                None => format!("{}/{}\n", r.kind, r.name),
            })
            .collect()),
        None | Some(GetOutput::Wide) => {
            if rows.is_empty() {
                return Ok(match &args.namespace {
                    Some(namespace) => format!("No resources found in {namespace} namespace.\n"),
                    None => "No resources found\n".to_owned(),
                });
            }
            let wide = args.output == Some(GetOutput::Wide);
            let all_kinds = args.kind.is_none();
            let mut tables = Vec::new();
            for resource in RESOURCES {
                let of_kind: Vec<&ObjectRow> = rows.iter().filter(|r| r.kind == resource.name).collect();
                if !of_kind.is_empty() {
                    tables.push(table(resource, &of_kind, all_kinds, args.namespace.is_none(), wide, now));
                }
            }
            Ok(tables.join("\n"))
        }
    }
}

fn resource_of(row: &ObjectRow) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.name == row.kind)
}

/// One kind's table, laid out as kubectl's tab writer does (each column as wide as its
/// widest cell plus 3, at least 6; the last column not padded).
fn table(
    resource: &Resource,
    rows: &[&ObjectRow],
    qualified: bool,
    with_namespace: bool,
    wide: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let columns: Vec<&Column> = resource.columns.iter().filter(|c| wide || c.priority == 0).collect();
    let mut lines: Vec<Vec<String>> = Vec::new();
    let mut header: Vec<String> = Vec::new();
    if with_namespace {
        header.push("NAMESPACE".into());
    }
    header.push("NAME".into());
    header.extend(columns.iter().map(|c| c.name.to_ascii_uppercase()));
    lines.push(header);
    for row in rows {
        let mut line = Vec::new();
        if with_namespace {
            line.push(row.namespace.clone());
        }
        line.push(if qualified { format!("{}/{}", resource.qualified(), row.name) } else { row.name.clone() });
        for column in &columns {
            let value = if column.json_path.is_empty() {
                row.url.clone()
            } else {
                json_path(&row.object, column.json_path).unwrap_or_default()
            };
            line.push(if column.date { age(&value, now) } else { value });
        }
        lines.push(line);
    }
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|i| lines.iter().map(|l| l[i].len()).max().unwrap_or(0).saturating_add(3).max(6))
        .collect();
    let mut text = String::new();
    for line in lines {
        let last = line.len() - 1;
        for (i, cell) in line.iter().enumerate() {
            if i == last {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<width$}", width = widths[i]);
            }
        }
        text.push('\n');
    }
    text
}

/// The text at `path`, a JSONPath of the forms printer columns use: `.a.b` (a `\.`
/// inside a name is a dot) and `[?(@.key=="value")]` (the first item of an array
/// whose `key` is `value`, quotes `"` or `'`).
pub fn json_path(value: &serde_json::Value, path: &str) -> Option<String> {
    let mut current = value;
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("[?(@.") {
            let end = after.find(")]")?;
            let (test, tail) = (&after[..end], &after[end + 2..]);
            let (key, wanted) = test.split_once("==")?;
            let wanted = wanted.trim_matches(|c| c == '"' || c == '\'');
            current = current.as_array()?.iter().find(|item| item.get(key).and_then(|v| v.as_str()) == Some(wanted))?;
            rest = tail;
        } else if let Some(after) = rest.strip_prefix('.') {
            let mut name = String::new();
            let mut chars = after.char_indices().peekable();
            let mut consumed = after.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            name.push(escaped);
                        }
                    }
                    '.' | '[' => {
                        consumed = i;
                        break;
                    }
                    _ => name.push(c),
                }
            }
            current = current.get(&name)?;
            rest = &after[consumed..];
        } else {
            return None;
        }
    }
    match current {
        serde_json::Value::String(text) => Some(text.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// How long ago `timestamp` (RFC 3339) was, as kubectl shows a `date` column
/// (k8s.io/apimachinery `pkg/util/duration/duration.go`, `HumanDuration`).
fn age(timestamp: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    match chrono::DateTime::parse_from_rfc3339(timestamp) {
        Ok(then) => human_duration(now.signed_duration_since(then)),
        Err(_) => "<unknown>".to_owned(),
    }
}

/// k8s.io/apimachinery `HumanDuration`.
pub fn human_duration(d: chrono::TimeDelta) -> String {
    let seconds = d.num_seconds();
    if seconds < -1 {
        return "<invalid>".into();
    } else if seconds < 0 {
        return "0s".into();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 { format!("{}d", hours / 24) } else { format!("{}d{h}h", hours / 24) }
    } else if hours < 24 * 365 * 2 {
        format!("{}d", hours / 24)
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 { format!("{}y", hours / 24 / 365) } else { format!("{}y{dy}d", hours / 24 / 365) }
    } else {
        format!("{}y", hours / 24 / 365)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: &str, name: &str, url: &str, object: serde_json::Value) -> ObjectRow {
        ObjectRow { kind: kind.into(), namespace: "default".into(), name: name.into(), url: url.into(), object }
    }

    fn args(kind: Option<&str>, output: Option<GetOutput>) -> GetArgs {
        GetArgs { kind: kind.map(str::to_owned), name: None, output, namespace: Some("default".into()), port: 0 }
    }

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339("2026-01-01T00:05:00Z").unwrap().into()
    }

    #[test]
    fn tables_have_each_kinds_printer_columns_as_kubectl_lays_them_out() {
        let ksvc = row(
            "ksvc",
            "first",
            "http://first.default.svc.cluster.local",
            serde_json::json!({"status": {"url": "http://first.default.svc.cluster.local",
                "latestCreatedRevisionName": "first-00001", "latestReadyRevisionName": "first-00001",
                "conditions": [{"type": "Ready", "status": "True"}]}}),
        );
        // serving config/core/300-resources/service.yaml: URL, LatestCreated, LatestReady, Ready, Reason;
        // cli-runtime pkg/printers/tabwriter.go: min width 6, padding 3; an empty last cell.
        assert_eq!(
            render(&[ksvc], &args(Some("ksvc"), None), now()).unwrap(),
            "NAME    URL                                      LATESTCREATED   LATESTREADY   READY   REASON\n\
             first   http://first.default.svc.cluster.local   first-00001     first-00001   True    \n"
        );
        // eventing config/core/resources/trigger.yaml: Broker, Subscriber_URI, Age, Ready, Reason.
        let trigger = row(
            "trigger",
            "t",
            "",
            serde_json::json!({"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}, "spec": {"broker": "default"},
                "status": {"subscriberUri": "http://s.default.svc.cluster.local/",
                           "conditions": [{"type": "Ready", "status": "True"}]}}),
        );
        assert_eq!(
            render(std::slice::from_ref(&trigger), &args(Some("trigger"), None), now()).unwrap(),
            "NAME   BROKER    SUBSCRIBER_URI                        AGE   READY   REASON\n\
             t      default   http://s.default.svc.cluster.local/   5m    True    \n"
        );
        // Every kind: one table each, names as kubectl get all writes them.
        let all = render(std::slice::from_ref(&trigger), &args(None, None), now()).unwrap();
        assert!(all.starts_with("NAME                             BROKER"), "{all}");
        assert!(all.contains("\ntrigger.eventing.knative.dev/t   default"), "{all}");
        assert_eq!(
            render(std::slice::from_ref(&trigger), &args(None, Some(GetOutput::Name)), now()).unwrap(),
            "trigger.eventing.knative.dev/t\n"
        );
        let yaml = render(&[trigger], &args(Some("trigger"), Some(GetOutput::Yaml)), now()).unwrap();
        assert!(yaml.starts_with("apiVersion: v1\nkind: List\nitems:\n- metadata:"), "{yaml}");
        assert_eq!(
            render(&[], &args(Some("sequence"), None), now()).unwrap(),
            "No resources found in default namespace.\n"
        );
    }

    #[test]
    fn printer_column_paths_are_read_as_kubectl_reads_them() {
        let object = serde_json::json!({
            "metadata": {"annotations": {"eventing.knative.dev/broker.class": "MTChannelBasedBroker"}},
            "status": {"conditions": [{"type": "Other", "status": "False"}, {"type": "Ready", "status": "True", "reason": "R"}]},
        });
        assert_eq!(json_path(&object, ".status.conditions[?(@.type==\"Ready\")].status").as_deref(), Some("True"));
        assert_eq!(json_path(&object, ".status.conditions[?(@.type=='Ready')].reason").as_deref(), Some("R"));
        assert_eq!(
            json_path(&object, ".metadata.annotations.eventing\\.knative\\.dev/broker\\.class").as_deref(),
            Some("MTChannelBasedBroker")
        );
        assert_eq!(json_path(&object, ".status.address.url"), None);
    }

    #[test]
    fn ages_are_kubectls() {
        // k8s.io/apimachinery pkg/util/duration/duration_test.go, TestHumanDuration and its boundaries.
        let cases: &[(i64, &str)] = &[
            (1, "1s"),
            (70, "70s"),
            (190, "3m10s"),
            (70 * 60, "70m"),
            (47 * 3600, "47h"),
            (49 * 3600, "2d1h"),
            ((8 * 24 + 2) * 3600, "8d"),
            (367 * 24 * 3600, "367d"),
            ((365 * 2 * 24 + 25) * 3600, "2y1d"),
            ((365 * 8 * 24 + 2) * 3600, "8y"),
            (-2, "<invalid>"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (121, "2m1s"),
            (599, "9m59s"),
            (600, "10m"),
            (3 * 3600 - 1, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 60, "3h1m"),
            (8 * 3600 + 59 * 60, "8h"),
            (2 * 24 * 3600, "2d"),
            (8 * 24 * 3600 - 1, "7d23h"),
            (2 * 365 * 24 * 3600, "2y"),
        ];
        for (seconds, want) in cases {
            assert_eq!(human_duration(chrono::TimeDelta::seconds(*seconds)), *want, "{seconds} s");
        }
        assert_eq!(human_duration(chrono::TimeDelta::milliseconds(-1999)), "0s");
    }

    #[test]
    fn kinds_go_by_kubectls_names() {
        assert_eq!(Resource::named("ksvc").unwrap().name, "ksvc");
        assert_eq!(Resource::named("Sequences").unwrap().name, "sequence");
        assert_eq!(Resource::named("imc").unwrap().name, "inmemorychannel");
        assert_eq!(Resource::named("triggers.eventing.knative.dev").unwrap().name, "trigger");
        assert_eq!(Resource::named("svc").unwrap().name, "service");
        assert!(Resource::named("deployment").is_err());
    }
}
