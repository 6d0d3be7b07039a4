//! Storage: PersistentVolumeClaims and the CDI DataVolumes that fill them, in the compact forms
//! the index keeps. CDI names the claim after its DataVolume (same namespace, a controller
//! ownerReference to it: containerized-data-importer
//! `pkg/controller/datavolume/controller-base.go`), so the two meet under one key.

use k8s_openapi::api::core::v1::PersistentVolumeClaim;

use super::cdi::DataVolume;
use super::stored::{HasMeta, Meta, boxed_all, non_empty};

/// A PersistentVolumeClaim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimInfo {
    /// Metadata.
    pub meta: Meta,
    /// `spec.resources.requests.storage`.
    pub requested: Option<Box<str>>,
    /// `status.capacity.storage` (what the bound volume holds).
    pub capacity: Option<Box<str>>,
    /// `spec.storageClassName`.
    pub storage_class: Option<Box<str>>,
    /// `status.accessModes` once bound, else `spec.accessModes`.
    pub access_modes: Box<[Box<str>]>,
    /// `spec.volumeMode`.
    pub volume_mode: Option<Box<str>>,
    /// `spec.volumeName`: the PersistentVolume it is bound to.
    pub volume_name: Option<Box<str>>,
    /// `status.phase`: `Pending`, `Bound`, `Lost`.
    pub phase: Option<Box<str>>,
}

impl From<PersistentVolumeClaim> for ClaimInfo {
    fn from(c: PersistentVolumeClaim) -> Self {
        let spec = c.spec.unwrap_or_default();
        let status = c.status.unwrap_or_default();
        let bound_modes = boxed_all(status.access_modes.unwrap_or_default());
        ClaimInfo {
            meta: Meta::from_meta(c.metadata, |_| true),
            requested: spec
                .resources
                .and_then(|r| r.requests)
                .and_then(|r| r.get("storage").map(|q| q.0.clone().into_boxed_str())),
            capacity: status
                .capacity
                .and_then(|c| c.get("storage").map(|q| q.0.clone().into_boxed_str())),
            storage_class: non_empty(spec.storage_class_name),
            access_modes: if bound_modes.is_empty() {
                boxed_all(spec.access_modes.unwrap_or_default())
            } else {
                bound_modes
            },
            volume_mode: non_empty(spec.volume_mode),
            volume_name: non_empty(spec.volume_name),
            phase: non_empty(status.phase),
        }
    }
}

/// A CDI DataVolume.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataVolumeInfo {
    /// Metadata.
    pub meta: Meta,
    /// Where the data comes from: `http`, `registry`, `blank`, `upload`, ..., `pvc <ns>/<name>`,
    /// `snapshot <ns>/<name>`, `DataSource <ns>/<name>`; never a URL (it may carry a token).
    pub source: Option<Box<str>>,
    /// The requested size (`spec.storage` or `spec.pvc`); empty when CDI detects it (a clone).
    pub requested: Option<Box<str>>,
    /// The requested storage class.
    pub storage_class: Option<Box<str>>,
    /// The requested access modes.
    pub access_modes: Box<[Box<str>]>,
    /// `status.phase`.
    pub phase: Option<Box<str>>,
}

impl From<DataVolume> for DataVolumeInfo {
    fn from(d: DataVolume) -> Self {
        let ns = d.metadata.namespace.clone().unwrap_or_default();
        let spec = d.spec;
        let named = |kind: &str, v: &serde_json::Value| {
            let name = v.get("name").and_then(serde_json::Value::as_str)?;
            let ns = v
                .get("namespace")
                .and_then(serde_json::Value::as_str)
                .unwrap_or(&ns);
            Some(format!("{kind} {ns}/{name}"))
        };
        let source = spec
            .source_ref
            .as_ref()
            .map(|r| {
                format!(
                    "{} {}/{}",
                    if r.kind.is_empty() {
                        "DataSource"
                    } else {
                        &r.kind
                    },
                    r.namespace.as_deref().unwrap_or(&ns),
                    r.name
                )
            })
            .or_else(|| {
                let (kind, v) = spec.source.iter().next()?;
                match kind.as_str() {
                    "pvc" | "snapshot" => named(kind, v),
                    _ => Some(kind.clone()),
                }
            });
        let claim = spec.storage.or(spec.pvc).unwrap_or_default();
        DataVolumeInfo {
            meta: Meta::from(d.metadata),
            source: source.map(String::into_boxed_str),
            requested: claim
                .resources
                .and_then(|r| r.requests.get("storage").map(Box::from)),
            storage_class: non_empty(claim.storage_class_name),
            access_modes: boxed_all(claim.access_modes),
            phase: non_empty(d.status.and_then(|s| s.phase)),
        }
    }
}

impl HasMeta for ClaimInfo {
    fn meta(&self) -> &Meta {
        &self.meta
    }
}
impl HasMeta for DataVolumeInfo {
    fn meta(&self) -> &Meta {
        &self.meta
    }
}
