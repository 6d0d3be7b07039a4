//! Stage 3, the plan: what must change in Nautobot. The desired state kept root by root
//! (`desired`), the field-level diff of desired against observed records under the deletion
//! and ownership policy (`diff`). Synchronous and pure: unit-tested and fuzzed with fixtures.

pub mod desired;
pub mod diff;

pub use desired::DesiredState;
pub use diff::*;
