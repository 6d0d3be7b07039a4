//! nautobot-sync-operator: keeps Nautobot exact about what runs on a Kubernetes/OpenShift
//! cluster.
//!
//! The modules follow the data path, each stage using only the ones before it
//! (`tests/architecture.rs` checks it):
//!
//! ```text
//!  cluster ──► project ──► plan ──► nautobot ──► controller ──► cli
//!  snapshot    records     diff     apply, pass   watches,       plan, apply,
//!                                                 worker, status run
//! ```

pub mod api;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod controller;
pub mod model;
pub mod nautobot;
pub mod plan;
pub mod project;
pub mod runtime;
