//! Stage 1, the cluster: everything the operator knows about the cluster, as the projection
//! reads it. [`ClusterIndex`] holds the watched objects in compact stored forms (`stored`),
//! read through lean wire types (`wire`) and lenient KubeVirt types (`kubevirt`), with repeated
//! strings shared (`intern`). It is fed one object at a time: by `plan` from a `List` file, by
//! the controller from watch events. Pure: no I/O, no clock.

pub mod cdi;
pub mod index;
pub mod ingress;
pub mod intern;
pub mod kinds;
pub mod kubevirt;
pub mod labels;
pub mod load;
pub mod openshift;
pub mod storage;
pub mod stored;
pub mod wire;

pub use index::{ClusterIndex, ClusterInfo};
pub use ingress::{IngressInfo, IngressPath, RouteInfo};
pub use kinds::{CORE_KINDS, KUBEVIRT_KINDS, Kind};
pub use labels::{Labels, NsName};
pub use load::{LoadError, LoadWarning};
pub use storage::{ClaimInfo, DataVolumeInfo};
pub use stored::*;
