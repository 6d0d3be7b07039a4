//! Storage: a PersistentVolumeClaim, with the CDI DataVolume that fills it, is one CloudService
//! of type "Kubernetes PersistentVolumeClaim" named `<cluster>/<namespace>/persistentvolumeclaim/<name>`.
//!
//! Nautobot has no model for a volume or a virtual disk (a VirtualMachine has one `disk`
//! total); the CloudService under the cluster's CloudAccount holds it with its facts in
//! `extra_config`: size, storage class, access modes, bound volume, phase, the DataVolume's
//! source and state, and the VMs that use it. CDI names the claim after the DataVolume, so a
//! DataVolume whose claim does not exist yet (waiting for its first consumer, or still being
//! created) is the same record, from the DataVolume's request.

use serde_json::json;

use crate::model::names;

use super::{Projector, RootProjection, source_of};

/// Resource type of PersistentVolumeClaim CloudServices.
pub const CLAIM_TYPE: &str = "Kubernetes PersistentVolumeClaim";

/// A DataVolume's phase as it is worth recording: where it ended (`Succeeded`, `Failed`) or is
/// waiting (`WaitForFirstConsumer`, `PendingPopulation`, `Paused`, `UploadReady`), and
/// `InProgress` for the dozen steps of an import or clone in between (each would otherwise
/// be a Nautobot change while the data is copied).
pub fn datavolume_state(phase: Option<&str>) -> &'static str {
    match phase.unwrap_or("") {
        "Succeeded" => "Succeeded",
        "Failed" => "Failed",
        "WaitForFirstConsumer" => "WaitForFirstConsumer",
        "PendingPopulation" => "PendingPopulation",
        "Paused" => "Paused",
        "UploadReady" => "UploadReady",
        "Unknown" => "Unknown",
        "" | "Pending" => "Pending",
        _ => "InProgress",
    }
}

impl Projector<'_> {
    pub(super) fn project_volume(&self, ns: &str, name: &str, out: &mut RootProjection) {
        let claim = self.index.claim(ns, name);
        let dv = self.index.datavolume(ns, name);
        let meta = match (claim, dv) {
            (Some(c), _) => &c.meta,
            (None, Some(d)) => &d.meta,
            (None, None) => return,
        };
        if !self.namespace_in_scope(ns) {
            return;
        }
        let source = source_of("PersistentVolumeClaim", meta);
        let used_by = self.claim_users(ns, name);
        let requested = claim
            .and_then(|c| c.requested.as_deref())
            .or_else(|| dv.and_then(|d| d.requested.as_deref()));
        let capacity = claim.and_then(|c| c.capacity.as_deref());
        let storage_class = claim
            .and_then(|c| c.storage_class.as_deref())
            .or_else(|| dv.and_then(|d| d.storage_class.as_deref()));
        let access_modes = claim
            .map(|c| &c.access_modes)
            .filter(|m| !m.is_empty())
            .or_else(|| dv.map(|d| &d.access_modes));
        let mut extra = json!({
            "kind": "PersistentVolumeClaim",
            "namespace": ns,
            "name": name,
            "requested": requested,
            "capacity": capacity,
            "storageClassName": storage_class,
            "accessModes": access_modes,
            "volumeMode": claim.and_then(|c| c.volume_mode.as_deref()).unwrap_or("Filesystem"),
            "volumeName": claim.and_then(|c| c.volume_name.as_deref()),
            "phase": claim.and_then(|c| c.phase.as_deref()).unwrap_or("Pending"),
            "usedBy": used_by,
        });
        if let Some(d) = dv {
            extra["dataVolume"] = json!({
                "source": d.source,
                "state": datavolume_state(d.phase.as_deref()),
            });
        }
        let mut description = format!("PersistentVolumeClaim {ns}/{name}");
        if let Some(size) = capacity.or(requested) {
            description.push_str(&format!(", {size}"));
        }
        if let Some(sc) = storage_class {
            description.push_str(&format!(", {sc}"));
        }
        if !used_by.is_empty() {
            description.push_str(&format!(", used by {}", used_by.join(", ")));
        }
        out.records.push(
            self.cloud_service("PersistentVolumeClaim", meta, CLAIM_TYPE, &source)
                .with("extra_config", extra)
                .with(
                    "description",
                    names::truncate(&description, names::DESCRIPTION_MAX),
                ),
        );
    }

    /// The VMs (and standalone VMIs) whose volumes use a claim, as `VirtualMachine ns/name`.
    fn claim_users(&self, ns: &str, claim: &str) -> Vec<String> {
        let mut users: Vec<String> = self
            .index
            .vms_using_claim(ns, claim)
            .map(|vm| format!("VirtualMachine {ns}/{}", vm.meta.name))
            .collect();
        users.extend(
            self.index
                .standalone_vmis_in(ns)
                .filter(|v| v.spec.claims().any(|c| c == claim))
                .map(|v| format!("VirtualMachineInstance {ns}/{}", v.meta.name)),
        );
        users
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{config, get, index, ns, project};
    use crate::model::{Kind, Ref};

    /// A stopped VM whose root disk is a DataVolume template cloning a DataSource with no size
    /// (CDI detects it), the DataVolume KubeVirt made from the template, and the claim CDI
    /// made for it, named after it and owned by it (containerized-data-importer
    /// `pkg/controller/datavolume/controller-base.go`), bound at 30Gi.
    fn stopped_vm_with_a_cloned_disk() -> Vec<serde_json::Value> {
        vec![
            ns("vms"),
            json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
                "metadata": {"name": "rhel9-web", "namespace": "vms", "uid": "vm-uid"},
                "spec": {"runStrategy": "Halted",
                    "dataVolumeTemplates": [{"metadata": {"name": "rhel9-web-rootdisk"},
                        "spec": {"sourceRef": {"kind": "DataSource", "name": "rhel9", "namespace": "openshift-virtualization-os-images"},
                                 "storage": {"resources": {}}}}],
                    "template": {"spec": {"domain": {"cpu": {"cores": 2}, "memory": {"guest": "4Gi"},
                                                     "devices": {"disks": [{"name": "rootdisk", "disk": {"bus": "virtio"}}]}},
                                          "volumes": [{"name": "rootdisk", "dataVolume": {"name": "rhel9-web-rootdisk"}},
                                                      {"name": "data", "persistentVolumeClaim": {"claimName": "web-data"}},
                                                      {"name": "cloudinit", "cloudInitNoCloud": {"userData": "#cloud-config\npassword: s3cr3t"}}]}}},
                "status": {"printableStatus": "Stopped"}}),
            json!({"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume",
                "metadata": {"name": "rhel9-web-rootdisk", "namespace": "vms", "uid": "dv-uid",
                             "ownerReferences": [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "name": "rhel9-web", "uid": "vm-uid", "controller": true}]},
                "spec": {"sourceRef": {"kind": "DataSource", "name": "rhel9", "namespace": "openshift-virtualization-os-images"},
                         "storage": {"resources": {}}},
                "status": {"phase": "Succeeded", "progress": "100.0%", "claimName": "rhel9-web-rootdisk"}}),
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": "rhel9-web-rootdisk", "namespace": "vms", "uid": "pvc-uid",
                             "labels": {"app": "containerized-data-importer"},
                             "annotations": {"cdi.kubevirt.io/createdForDataVolume": "dv-uid", "cdi.kubevirt.io/storage.contentType": "kubevirt"},
                             "ownerReferences": [{"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume", "name": "rhel9-web-rootdisk",
                                                  "uid": "dv-uid", "controller": true, "blockOwnerDeletion": true}]},
                "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "30Gi"}},
                         "storageClassName": "ocs-storagecluster-ceph-rbd-virtualization", "volumeMode": "Block",
                         "volumeName": "pvc-3f2a9c1e-7b7d-4d2e-9a47-5d0f9b1a2c3d"},
                "status": {"phase": "Bound", "accessModes": ["ReadWriteMany"], "capacity": {"storage": "30Gi"}}}),
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": "web-data", "namespace": "vms", "uid": "pvc2-uid"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}},
                         "storageClassName": "gp3-csi"},
                "status": {"phase": "Pending"}}),
        ]
    }

    #[test]
    fn a_claim_and_its_data_volume_are_one_cloud_service_listing_its_vm() {
        let cfg = config(json!({}));
        let p = project(&cfg, &index(stopped_vm_with_a_cloned_disk()));
        let root = get(
            &p,
            &cfg,
            Kind::CloudService,
            "PersistentVolumeClaim/vms/rhel9-web-rootdisk",
        );
        assert_eq!(
            root.json("name"),
            Some(&json!(
                "ocp-lab/vms/persistentvolumeclaim/rhel9-web-rootdisk"
            ))
        );
        assert_eq!(
            root.reference("cloud_resource_type"),
            Some(&Ref::CloudResourceType(
                "Kubernetes PersistentVolumeClaim".into()
            ))
        );
        assert_eq!(
            root.json("extra_config").unwrap(),
            &json!({"kind": "PersistentVolumeClaim", "namespace": "vms", "name": "rhel9-web-rootdisk",
                    "requested": "30Gi", "capacity": "30Gi",
                    "storageClassName": "ocs-storagecluster-ceph-rbd-virtualization",
                    "accessModes": ["ReadWriteMany"], "volumeMode": "Block",
                    "volumeName": "pvc-3f2a9c1e-7b7d-4d2e-9a47-5d0f9b1a2c3d", "phase": "Bound",
                    "usedBy": ["VirtualMachine vms/rhel9-web"],
                    "dataVolume": {"source": "DataSource openshift-virtualization-os-images/rhel9", "state": "Succeeded"}})
        );
        assert_eq!(
            root.json("description"),
            Some(&json!(
                "PersistentVolumeClaim vms/rhel9-web-rootdisk, 30Gi, ocs-storagecluster-ceph-rbd-virtualization, used by VirtualMachine vms/rhel9-web"
            ))
        );
        let data = get(
            &p,
            &cfg,
            Kind::CloudService,
            "PersistentVolumeClaim/vms/web-data",
        );
        let extra = data.json("extra_config").unwrap();
        assert_eq!(
            (&extra["phase"], &extra["capacity"]),
            (&json!("Pending"), &json!(null))
        );
        assert!(extra.get("dataVolume").is_none());
        assert!(!serde_json::to_string(&p).unwrap().contains("s3cr3t"));
        // the stopped VM's disks are sized by their claims: 30 (bound) + 10 (requested)
        let vm = get(&p, &cfg, Kind::VirtualMachine, "vms/rhel9-web");
        assert_eq!(vm.json("disk"), Some(&json!(40)));
    }

    /// While CDI imports or clones, its DataVolume goes through a dozen phases; they are one
    /// state (`InProgress`), so copying the data is not a stream of Nautobot changes. A
    /// DataVolume whose claim does not exist yet is the claim-to-be.
    #[test]
    fn an_import_in_progress_is_one_state_and_a_data_volume_without_claim_counts() {
        let cfg = config(json!({}));
        let mut items = stopped_vm_with_a_cloned_disk();
        items
            .retain(|i| i["metadata"]["name"] != "rhel9-web-rootdisk" || i["kind"] == "DataVolume");
        let state = |phase: &str| {
            let mut items = items.clone();
            for i in &mut items {
                if i["kind"] == "DataVolume" {
                    i["status"]["phase"] = json!(phase);
                    i["spec"] = json!({"source": {"http": {"url": "https://images.example.com/rhel9.qcow2?token=s3cr3t"}},
                                       "storage": {"resources": {"requests": {"storage": "20Gi"}}, "storageClassName": "gp3-csi"}});
                }
            }
            let p = project(&cfg, &index(items));
            let r = get(
                &p,
                &cfg,
                Kind::CloudService,
                "PersistentVolumeClaim/vms/rhel9-web-rootdisk",
            )
            .clone();
            assert!(!serde_json::to_string(&p).unwrap().contains("s3cr3t"));
            (
                r,
                get(&p, &cfg, Kind::VirtualMachine, "vms/rhel9-web")
                    .json("disk")
                    .cloned(),
            )
        };
        let (scheduled, disk) = state("ImportScheduled");
        let (progress, _) = state("ImportInProgress");
        assert_eq!(scheduled, progress);
        let extra = scheduled.json("extra_config").unwrap();
        assert_eq!(
            extra["dataVolume"],
            json!({"source": "http", "state": "InProgress"})
        );
        assert_eq!(
            (&extra["requested"], &extra["phase"]),
            (&json!("20Gi"), &json!("Pending"))
        );
        // the template declares no size; the claim-to-be's request does: 20 + 10
        assert_eq!(disk, Some(json!(30)));
        let (done, _) = state("Succeeded");
        assert_eq!(
            done.json("extra_config").unwrap()["dataVolume"]["state"],
            json!("Succeeded")
        );
    }
}
