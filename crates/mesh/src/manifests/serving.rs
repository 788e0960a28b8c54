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
pub struct Container {
    #[serde(default)]
    pub name: Option<String>,
    pub image: String,
    #[serde(default)]
    pub env: Vec<EnvVar>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EnvVar {
    pub name: String,
    #[serde(default)]
    pub value: Option<String>,
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
