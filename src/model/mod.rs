//! The vocabulary every stage shares: Nautobot records in their write shape ([`Record`],
//! [`Kind`], [`Ref`], [`Field`]), the ownership markers, deterministic ids (`ids`) and names
//! that fit Nautobot's limits (`names`). Pure data, no I/O.

pub mod ids;
pub mod names;
pub mod prereq;
pub mod records;
pub mod version;

pub use ids::{ID_NAMESPACE, record_id};
pub use prereq::PrereqKind;
pub use records::*;
pub use version::{ApiVersion, Server};
