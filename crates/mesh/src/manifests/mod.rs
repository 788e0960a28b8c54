//! The first layer: manifests read once into typed objects, and checked.
//!
//! * [`load`]: every YAML document of the given files and folders, as a [`Document`] with
//!   its [`Kind`], typed metadata and [`Spec`], and the place it came from;
//! * [`kind`]: the kinds fnmesh knows, by API group; [`model`] (eventing) and
//!   [`serving`] (workloads): the typed objects; [`spec`]: reading a spec with the path of
//!   whatever does not fit, and [`unknown`]: the fields a cluster would refuse;
//! * [`problems`]: each problem with its file, document and field path, reported together;
//! * [`schemas`]: manifests checked against CRD schemas (`fnmesh validate --schemas`);
//! * [`func`]: a Knative `func` project's `func.yaml` as the Service and Triggers that
//!   `func deploy` makes of it;
//! * [`yaml`]: the one module that touches the YAML crate.

pub mod func;
pub mod kind;
pub mod load;
pub mod model;
pub mod problems;
pub mod schemas;
pub mod serving;
pub mod spec;
pub mod unknown;
pub mod yaml;

pub use kind::{Kind, group_of};
pub use load::{Document, load};
pub use problems::{FieldProblem, Place, Problem, Problems};
pub use spec::Spec;
