//! The workload objects fnmesh starts, typed with what it reads: a Knative Service's
//! pod template, an `apps/v1` Deployment and the `v1` Service that selects its pods, and
//! the metadata (annotations, labels) of any object.

#![allow(missing_docs)] // the fields are the upstream API's, named as upstream: their docs are the CRDs'

use std::collections::BTreeMap;

use serde::Deserialize;

use super::yaml::Value;

/// Metadata fields fnmesh reads.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct Metadata {
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// serving.knative.dev/v1 Service: fnmesh runs `template`; `traffic` is Serving's.
#[derive(Debug, Clone, Deserialize)]
pub struct KServiceSpec {
    pub template: PodTemplate,
    #[serde(default)]
    pub traffic: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PodTemplate {
    #[serde(default)]
    pub metadata: Metadata,
    pub spec: PodSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    pub containers: Vec<Container>,
    /// Requests a replica takes at once (Knative Serving); 0 or absent: no limit.
    #[serde(default)]
    pub container_concurrency: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    #[serde(default)]
    pub name: Option<String>,
    pub image: String,
    #[serde(default)]
    pub env: Vec<EnvVar>,
    #[serde(default)]
    pub env_from: Vec<EnvFromSource>,
    /// Read by `fnmesh run` to know when a local process is ready.
    #[serde(default)]
    pub readiness_probe: Option<Probe>,
}

/// A container's probe, as far as fnmesh reads it: an `httpGet` path (the rest of it,
/// `tcpSocket`, the periods and thresholds, is Serving's).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    #[serde(default)]
    pub http_get: Option<HttpGetAction>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct HttpGetAction {
    #[serde(default)]
    pub path: Option<String>,
}

/// `env[]`: a `value`, or a `valueFrom` read when the pod starts.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    pub name: String,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub value_from: Option<EnvVarSource>,
}

/// `valueFrom`: one key of a Secret or a ConfigMap; `fieldRef` and `resourceFieldRef`
/// (the pod's own fields and resources) are kept as written.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct EnvVarSource {
    #[serde(default)]
    pub secret_key_ref: Option<KeySelector>,
    #[serde(default)]
    pub config_map_key_ref: Option<KeySelector>,
    #[serde(default)]
    pub field_ref: Option<Value>,
    #[serde(default)]
    pub resource_field_ref: Option<Value>,
}

/// `secretKeyRef` / `configMapKeyRef`.
#[derive(Debug, Clone, Deserialize)]
pub struct KeySelector {
    #[serde(default)]
    pub name: String,
    pub key: String,
    /// The variable is left out when the object or its key is missing.
    #[serde(default)]
    pub optional: Option<bool>,
}

/// `envFrom[]`: every key of a ConfigMap or a Secret, with an optional prefix.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct EnvFromSource {
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub config_map_ref: Option<LocalObjectReference>,
    #[serde(default)]
    pub secret_ref: Option<LocalObjectReference>,
}

/// `configMapRef` / `secretRef` of `envFrom`.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct LocalObjectReference {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub optional: Option<bool>,
}

/// apps/v1 Deployment.
#[derive(Debug, Clone, Deserialize)]
pub struct DeploymentSpec {
    pub template: PodTemplate,
}

/// v1 Service: which pods it selects.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct CoreServiceSpec {
    #[serde(default)]
    pub selector: BTreeMap<String, String>,
}
