//! Test helpers shared by fnmesh crates.
//!
//! * [`CeRequest`]: CloudEvent HTTP requests in binary or structured mode, and broken ones;
//!   [`CeRequest::from_http_file`] reads one kept as an `.http` fixture;
//! * [`call`]: sends a request through a router with `tower::ServiceExt::oneshot`;
//! * [`Process`]: a function binary running on a free loopback port, with its output captured;
//! * [`broken_requests`]: the table of malformed requests every function must refuse cleanly.
//!
//! Helpers panic on failure: they are for tests only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)]

mod http_file;
mod process;
mod python;
mod request;

pub use process::{Process, free_port};
pub use python::python_send;
pub use request::{Answer, BrokenRequest, CeRequest, broken_requests, call};
pub use reqwest;
