//! `kube-stand-in`: an in-memory fake Kubernetes API server over real HTTP/1.1, for testing code that uses an
//! unmodified `kube` 5 client, its reflectors and its controllers.
//!
//! No real kube-apiserver can be installed on the machines this project builds on, and the existing fakes either
//! answer watches wrongly or lag behind kube's major versions. The stand-in serves what kube's client and
//! kube-runtime actually exercise: classic discovery, list with paging and selectors, watch with
//! resourceVersion, bookmarks, streaming lists and in-stream 410s, create/replace/patch/delete with
//! optimistic concurrency, status subresources, finalizers, and `Table` output for kubectl. Objects are plain
//! `serde_json::Value`s, so any kind (KubeVirt, OpenShift, the operator's own CRDs) can be served.
//!
//! ```no_run
//! # async fn demo() {
//! let stand_in = kube_stand_in::StandIn::start().await;
//! stand_in.register_crd("kubevirt.io", "v1", "VirtualMachine", "virtualmachines", true, &["vm"]);
//! let client = stand_in.client();
//! # }
//! ```
//!
//! `examples/serve.rs` runs one for manual use with kubectl (`cargo run --example serve -- KUBECONFIG [LIST.json]`).
//!
//! Known simplifications: one served version per group and plural; server-side apply and strategic merge are
//! JSON merge patches (lists are replaced whole); no managedFields, admission, defaulting, schema validation
//! or owner-reference garbage collection; a deleted Namespace disappears at once (its objects are deleted);
//! continue tokens page over the current objects rather than a snapshot.

#![warn(missing_docs)]

mod discovery;
mod error;
mod events;
mod faults;
mod object;
mod patch;
mod query;
mod registry;
mod selectors;
mod server;
mod stand_in;
mod store;
mod table;
mod time;
mod watch;

pub use error::ApiError;
pub use faults::RecordedRequest;
pub use registry::{PrinterColumn, ResourceType};
pub use stand_in::{Options, StandIn};
