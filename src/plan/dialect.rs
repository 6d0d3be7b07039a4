//! The desired records in the shape of the Nautobot they are written to. The projection speaks
//! Nautobot 3.x; where 2.4 stores the same fact differently, the records are rewritten here,
//! before the diff, so the diff, the apply and the copy of Nautobot's state see one shape.
//!
//! - A node's Cluster: 3.x links devices and clusters through DeviceClusterAssignment objects
//!   (`dcim/device-cluster-assignments/`); 2.4 has one `cluster` field on the Device
//!   (`nautobot/dcim/models/devices.py` at v2.4.44, writable through the REST API). On 2.4 the
//!   assignment record becomes the device's `cluster` field and is not synced itself.

use std::borrow::{Borrow, Cow};
use std::collections::BTreeMap;

use uuid::Uuid;

use crate::api::{NautobotServer, NotSynced};
use crate::model::{ApiVersion, Field, Kind, Record, Ref, Server};

/// `desired` as Nautobot `version` stores it; `None` when it needs no change (3.x, or nothing
/// to rewrite), so the caller keeps its own map and nothing is copied.
pub fn adapt<R: Borrow<Record>>(
    desired: &BTreeMap<Uuid, R>,
    version: ApiVersion,
) -> Option<BTreeMap<Uuid, Cow<'_, Record>>> {
    if version.has_device_cluster_assignments() {
        return None;
    }
    // device -> cluster, from the assignments
    let clusters: BTreeMap<Uuid, Field> = desired
        .values()
        .map(R::borrow)
        .filter(|r| r.kind == Kind::DeviceClusterAssignment)
        .filter_map(|r| {
            let Field::Ref(Ref::Record(device)) = r.fields.get("device")? else {
                return None;
            };
            Some((*device, r.fields.get("cluster")?.clone()))
        })
        .collect();
    if clusters.is_empty() {
        return None;
    }
    Some(
        desired
            .iter()
            .filter(|(_, r)| (*r).borrow().kind != Kind::DeviceClusterAssignment)
            .map(|(id, r)| {
                let r = r.borrow();
                let rec = match clusters.get(id) {
                    Some(cluster) if r.kind == Kind::Device => {
                        let mut device = r.clone();
                        device.fields.insert("cluster", cluster.clone());
                        Cow::Owned(device)
                    }
                    _ => Cow::Borrowed(r),
                };
                (*id, rec)
            })
            .collect(),
    )
}

/// Records the projection makes that Nautobot `version` does not store as such, and why:
/// what the NautobotSync status and `plan` list as not synced there. Every kind the operator
/// syncs exists in 2.4 and 3.x; on 2.4 only the DeviceClusterAssignments are not records,
/// their link being the device's `cluster` field ([`adapt`]).
pub fn not_synced(version: ApiVersion) -> Vec<(Kind, &'static str)> {
    let mut out = Vec::new();
    if !version.has_device_cluster_assignments() {
        out.push((
            Kind::DeviceClusterAssignment,
            "Nautobot 2.x has no device-cluster assignments (added in 3.0): a node's Cluster \
             is written to its Device's cluster field instead",
        ));
    }
    out
}

/// What the NautobotSync status and `plan -o json` say of the Nautobot synced to: which one,
/// and what it does not store.
pub fn server_status(server: &Server) -> NautobotServer {
    NautobotServer {
        version: server.release.clone(),
        api_version: server.api.to_string(),
        not_synced: not_synced(server.api)
            .into_iter()
            .map(|(kind, reason)| NotSynced {
                kind: kind.content_type().to_string(),
                reason: reason.to_string(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::testing::{config, project, sample};

    fn desired() -> BTreeMap<Uuid, Record> {
        project(&config(serde_json::json!({})), &sample())
            .records
            .into_iter()
            .collect()
    }

    #[test]
    fn nautobot_3_keeps_the_assignments() {
        let d = desired();
        assert!(
            d.values().any(|r| r.kind == Kind::DeviceClusterAssignment),
            "the sample has nodes in the cluster"
        );
        assert!(adapt(&d, ApiVersion::V3_2).is_none());
        assert!(not_synced(ApiVersion::V3_2).is_empty());
        assert!(not_synced(ApiVersion { major: 3, minor: 0 }).is_empty());
    }

    #[test]
    fn nautobot_2_4_lists_the_assignments_as_not_synced_and_says_why() {
        let listed = not_synced(ApiVersion::V2_4);
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].0, Kind::DeviceClusterAssignment);
        assert!(
            listed[0].1.contains("Device's cluster field"),
            "{}",
            listed[0].1
        );
    }

    #[test]
    fn nautobot_2_4_puts_the_cluster_on_the_device() {
        let d = desired();
        let a = adapt(&d, ApiVersion::V2_4).expect("rewritten");
        let assignments: Vec<&Record> = d
            .values()
            .filter(|r| r.kind == Kind::DeviceClusterAssignment)
            .collect();
        assert!(a.values().all(|r| r.kind != Kind::DeviceClusterAssignment));
        assert_eq!(a.len(), d.len() - assignments.len());
        for link in assignments {
            let Field::Ref(Ref::Record(device)) = link.fields["device"] else {
                panic!("an assignment names its device")
            };
            let cluster = &a[&device].fields["cluster"];
            assert_eq!(cluster, &link.fields["cluster"]);
            assert!(matches!(cluster, Field::Ref(Ref::Record(_))));
        }
        // everything else is the same record, borrowed
        for (id, r) in &a {
            if r.kind != Kind::Device {
                assert!(matches!(r, Cow::Borrowed(_)), "{id}");
                assert_eq!(r.as_ref(), &d[id]);
            }
        }
    }
}
