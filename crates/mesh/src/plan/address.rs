//! The addresses Knative reports for each kind (what `kubectl get` shows as URL), and
//! the names of the channels its controllers create for Sequences and Parallels.

use url::Url;

use crate::manifests::Kind;

/// Host of the broker ingress, as in a channel-based broker install.
pub const BROKER_INGRESS_HOST: &str = "broker-ingress.knative-eventing.svc.cluster.local";

/// The address of `kind` `name` in `namespace`; `None` for kinds that have none.
pub fn address(kind: Kind, namespace: &str, name: &str) -> Option<Url> {
    let text = match kind {
        Kind::KService | Kind::CoreService => format!("http://{name}.{namespace}.svc.cluster.local"),
        Kind::InMemoryChannel | Kind::Channel => format!("http://{}", channel_host(name, namespace)),
        Kind::Sequence => format!("http://{}", channel_host(&sequence_channel(name, 0), namespace)),
        Kind::Parallel => format!("http://{}", channel_host(&parallel_ingress(name), namespace)),
        Kind::Broker => format!("http://{BROKER_INGRESS_HOST}/{namespace}/{name}"),
        _ => return None,
    };
    Url::parse(&text).ok()
}

/// The URL of a channel host (`channel_host`).
pub fn channel_url(host: &str) -> Option<Url> {
    Url::parse(&format!("http://{host}")).ok()
}

/// `C-kn-channel`: the service name of channel `C`.
pub fn channel_host_name(channel: &str) -> String {
    format!("{channel}-kn-channel")
}

/// The channel of step `i` of Sequence `name`.
pub fn sequence_channel(name: &str, i: usize) -> String {
    format!("{name}-kn-sequence-{i}")
}

/// The ingress channel of Parallel `name`.
pub fn parallel_ingress(name: &str) -> String {
    format!("{name}-kn-parallel")
}

/// The channel of branch `i` of Parallel `name`.
pub fn parallel_branch(name: &str, i: usize) -> String {
    format!("{name}-kn-parallel-{i}")
}

/// Where `KIND/NAME` of `namespace` receives events: its in-cluster host and path
/// (`fnmesh send`'s and the live view's targets); the kinds it knows otherwise.
pub fn receiver(target: &str, namespace: &str) -> Result<(String, String), String> {
    let (kind, name) = target.split_once('/').ok_or_else(|| {
        format!("{target:?}: write KIND/NAME (sequence/, parallel/, broker/, channel/, ksvc/) or a URL")
    })?;
    let host = match kind {
        "sequence" => channel_host(&sequence_channel(name, 0), namespace),
        "parallel" => channel_host(&parallel_ingress(name), namespace),
        "channel" | "imc" | "inmemorychannel" => channel_host(name, namespace),
        "ksvc" | "service" => format!("{name}.{namespace}.svc.cluster.local"),
        "broker" => return Ok((BROKER_INGRESS_HOST.to_owned(), format!("/{namespace}/{name}"))),
        other => {
            return Err(format!(
                "{other:?} is not a kind fnmesh send knows: sequence, parallel, broker, channel, ksvc"
            ));
        }
    };
    Ok((host, "/".to_owned()))
}

/// The full host of channel `channel` in `namespace`.
pub fn channel_host(channel: &str, namespace: &str) -> String {
    format!("{}.{namespace}.svc.cluster.local", channel_host_name(channel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_the_ones_knative_reports() {
        let at = |group: &str, kind: &str| address(Kind::of(group, kind), "ns", "x").map(|u| u.to_string());
        assert_eq!(at("serving.knative.dev", "Service").unwrap(), "http://x.ns.svc.cluster.local/");
        assert_eq!(at("", "Service").unwrap(), "http://x.ns.svc.cluster.local/");
        assert_eq!(
            at("messaging.knative.dev", "InMemoryChannel").unwrap(),
            "http://x-kn-channel.ns.svc.cluster.local/"
        );
        assert_eq!(
            at("flows.knative.dev", "Sequence").unwrap(),
            "http://x-kn-sequence-0-kn-channel.ns.svc.cluster.local/"
        );
        assert_eq!(
            at("flows.knative.dev", "Parallel").unwrap(),
            "http://x-kn-parallel-kn-channel.ns.svc.cluster.local/"
        );
        assert_eq!(
            at("eventing.knative.dev", "Broker").unwrap(),
            "http://broker-ingress.knative-eventing.svc.cluster.local/ns/x"
        );
        assert_eq!(at("apps", "Deployment"), None);
    }
}
