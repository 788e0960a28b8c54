//! `fnmesh`: runs Knative YAML on one machine. The modules, in the order a run uses them:
//!
//! * [`manifest`], [`yaml`], [`problems`]: every document of the given paths, and the
//!   problems found in them (file, document, field path), reported all at once;
//! * [`model`]: the Knative API objects, typed; [`images`]: which function runs an image;
//! * [`plan`]: what the Knative controllers would create (Sequence and Parallel channels
//!   and subscriptions, triggers per broker), with [`address`], [`delivery`], [`filters`]
//!   and [`ping`];
//! * [`workloads`]: services started in-process (or as commands); [`transport`]: HTTP
//!   to in-cluster addresses on loopback; [`deliver`]: retries and dead letters;
//!   [`mesh`]: channels and brokers; [`ingress`]: the one port; [`output`]: one stream;
//! * [`run`]: `fnmesh run`; [`client`]: `fnmesh send` and `fnmesh get`.

pub mod address;
pub mod client;
pub mod deliver;
pub mod delivery;
pub mod deploy;
pub mod filters;
pub mod graph;
pub mod images;
pub mod ingress;
pub mod manifest;
pub mod mesh;
pub mod model;
pub mod output;
pub mod ping;
pub mod plan;
pub mod problems;
pub mod run;
pub mod schemas;
pub mod transport;
pub mod unknown;
pub mod validate;
pub mod workloads;
pub mod yaml;
