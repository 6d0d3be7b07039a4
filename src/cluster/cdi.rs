//! Minimal CDI `cdi.kubevirt.io/v1beta1` DataVolume type: only the fields the projection reads
//! (kubevirt/containerized-data-importer
//! `staging/src/kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1/types.go`).
//! Source URLs and secret references are not fields here: an import URL may carry a token in
//! its query string, so only the kind of source is kept.

use std::collections::BTreeMap;

use kube::CustomResource;
use serde::{Deserialize, Serialize};

use super::kubevirt::null_as_default;

/// `cdi.kubevirt.io/v1beta1` DataVolume spec (subset).
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "cdi.kubevirt.io",
    version = "v1beta1",
    kind = "DataVolume",
    plural = "datavolumes",
    namespaced,
    status = "DataVolumeStatus",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase", default)]
pub struct DataVolumeSpec {
    /// Where the data comes from: one key of `http`, `s3`, `gcs`, `registry`, `pvc`,
    /// `upload`, `blank`, `imageio`, `vddk`, `snapshot`.
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub source: BTreeMap<String, serde_json::Value>,
    /// Or a DataSource (`kind: DataSource`, namespace, name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<SourceRef>,
    /// The claim as a plain PVC spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pvc: Option<ClaimSpec>,
    /// The claim with gaps CDI fills from the StorageProfile (size detected when cloning).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<ClaimSpec>,
}

/// `spec.sourceRef`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct SourceRef {
    /// `DataSource`.
    pub kind: String,
    /// Defaults to the DataVolume's namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

/// The parts of `spec.pvc` / `spec.storage` read.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ClaimSpec {
    /// `ReadWriteOnce`, `ReadWriteMany`, ...
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub access_modes: Vec<String>,
    /// `resources.requests.storage`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<super::kubevirt::ResourceRequirements>,
    /// Storage class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// `Filesystem` or `Block`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_mode: Option<String>,
}

/// `status`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct DataVolumeStatus {
    /// `Pending`, `ImportInProgress`, `CloneInProgress`, `WaitForFirstConsumer`, `Succeeded`,
    /// `Failed`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// The claim's name (the DataVolume's own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim_name: Option<String>,
}
