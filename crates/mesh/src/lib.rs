#![warn(missing_docs)]
//! `fnmesh`: runs Knative YAML on one machine. Four layers, each using only those above
//! it in this list:
//!
//! 1. [`manifests`]: every YAML document read once into a typed [`manifests::Document`]
//!    (its [`manifests::Kind`], metadata and spec, with the file and document it came
//!    from); unknown fields and type errors as [`manifests::Problems`] with field paths;
//!    CRD schemas.
//! 2. [`plan`]: what the Knative controllers would create, one module per kind.
//! 3. [`dataplane`]: the eventing emulator that runs a plan: the ingress, channels,
//!    brokers, delivery, ping sources, the services.
//! 4. [`cli`]: the commands (`run`, `new`, `validate`, `graph`, `kn`, `send`, `get`,
//!    `events`, `logs`, `test`).
//!
//! Beside them: [`error`] (the one error type) and [`output`] (the one output stream).
//!
//! Where to look:
//!
//! | question | module |
//! |---|---|
//! | where is retry backoff computed? | `fnmesh_runtime::delivery` (the one engine), fed by [`plan::delivery`] |
//! | which statuses are retried? | `fnmesh_runtime::delivery::RetryOn` |
//! | where is an event sent, its reply read, a dead letter made? | [`dataplane::courier`] |
//! | where is a Trigger's filter evaluated? | [`plan::filters`] (compiled and matched), called by [`dataplane::brokers`] |
//! | where is a Sequence expanded? | [`plan::sequence`]; a Parallel: [`plan::parallel`] |
//! | where do channels fan out? | [`dataplane::channels`] |
//! | where is the broker TTL guard? | [`dataplane::brokers`] |
//! | what address does a kind have? | [`plan::address`] |
//! | how does a ref become a URL? | [`plan::resolve`] |
//! | which function runs an image? | [`plan::images`] |
//! | how does a source get `K_SINK`? | [`plan::sources`] (ContainerSource, SinkBinding) |
//! | where do `valueFrom` values come from? | [`plan::env`] |
//! | how is a PingSource schedule read? | [`plan::schedule`]; its events: [`plan::pings`], sent by [`dataplane::pings`] |
//! | how does `fnmesh run` stop? | [`dataplane::work`] (drain) and [`cli::run`] |
//! | where is a manifest typo caught? | [`manifests::unknown`], in the one read of [`manifests::spec`] |
//! | how is a request routed by `Host`? | [`dataplane::ingress`] and [`dataplane::transport`] |
//! | how does `fnmesh test` run a case, replace a service? | [`cli::test::case`], [`cli::test::stand_ins`] (routed by `run::Options::stand_ins`) |
//! | how is a user's function built and started from its sources? | [`plan::local`] (the annotations), [`dataplane::launch`] (build, start, readiness) |
//! | what does `--watch` restart, and how do events wait meanwhile? | [`cli::watch`], [`cli::run`]'s reload, [`dataplane::transport::Gate`] |
//! | how does a `func.yaml` project run? | [`manifests::func`] |
//! | where is an event's journey recorded? | [`dataplane::journal`], on the routes of [`dataplane::topology`]; served by [`dataplane::live`], exported by [`dataplane::otlp`] |
//! | what does `fnmesh new` write? | [`cli::new`], from `crates/mesh/templates/new/` |

pub mod cli;
pub mod dataplane;
pub mod error;
pub mod manifests;
pub mod output;
pub mod plan;

pub use error::{Error, Result};
