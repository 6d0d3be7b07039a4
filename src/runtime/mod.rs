//! What every long-running process needs, independent of Kubernetes kinds and Nautobot
//! records: the Lease (`leader`), metrics (`metrics`), the health and metrics endpoints
//! (`http`), logging (`telemetry`) and giving freed heap back (`memory`).

pub mod http;
pub mod kube_metrics;
pub mod leader;
pub mod memory;
pub mod metrics;
pub mod process;
pub mod telemetry;
