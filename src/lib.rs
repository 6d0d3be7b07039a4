//! nautobot-sync-operator: keeps Nautobot exact about what runs on a Kubernetes/OpenShift
//! cluster.
//!
//! The crate is a pure core with thin I/O around it (see `docs/design.md`):
//! - [`api`]: the `NautobotSync` custom resource and condition helpers;
//! - [`config`]: a validated, resolved form of the spec;
//! - [`snapshot`] and [`kubevirt`]: the cluster objects the projection reads;
//! - [`project`]: the pure projection of a snapshot into desired Nautobot [`records`].

pub mod api;
pub mod cli;
pub mod config;
pub mod controller;
pub mod desired;
pub mod diff;
pub mod http;
pub mod ids;
pub mod intern;
pub mod json;
pub mod kubevirt;
pub mod leader;
pub mod memory;
pub mod metrics;
pub mod names;
pub mod nautobot;
pub mod plan_view;
pub mod project;
pub mod quantity;
pub mod records;
pub mod slim;
pub mod snapshot;
pub mod stored;
pub mod telemetry;
