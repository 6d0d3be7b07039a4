//! Which Kubernetes cluster a Nautobot Cluster belongs to. The Nautobot Cluster records the
//! identity of the cluster that synced it (custom field `k8s_uid`: OpenShift's
//! `ClusterVersion.spec.clusterID`, else the kube-system namespace UID). A different cluster
//! arriving under the same `clusterName` (a copied NautobotSync, two clusters both called
//! `ocp-prod`) would otherwise rewrite and delete the first one's records as its own: it is
//! refused before anything of the cluster's is written, unless the spec says this cluster
//! replaces that one (`spec.replacesClusterId`, for a rebuilt cluster).

use std::borrow::Borrow;
use std::collections::BTreeMap;

use serde_json::Value;
use uuid::Uuid;

use super::diff::ObservedObject;
use crate::model::{CF_UID, Kind, Record};

/// Another cluster's Nautobot Cluster.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Nautobot Cluster {name:?} belongs to another Kubernetes cluster (k8s_uid {theirs}; this cluster is {ours}): nothing is written. If this cluster replaces that one (a rebuild), set spec.replacesClusterId: {theirs:?}; otherwise give this cluster its own spec.clusterName"
)]
pub struct IdentityMismatch {
    /// The Nautobot Cluster's name.
    pub name: String,
    /// The identity it records.
    pub theirs: String,
    /// This cluster's.
    pub ours: String,
}

/// Checks the desired Cluster record against the one Nautobot holds. Passes when either
/// identity is unknown (nothing to compare), when they agree, when Nautobot holds `alias` (this
/// cluster's other identity: the kube-system namespace UID, which an earlier pass recorded
/// before OpenShift's cluster ID was read), or when `replaces` names the one Nautobot holds
/// (the next write records ours).
pub fn check<R: Borrow<Record>>(
    desired: &BTreeMap<Uuid, R>,
    observed: &BTreeMap<Uuid, ObservedObject>,
    replaces: Option<&str>,
    alias: Option<&str>,
) -> Result<(), IdentityMismatch> {
    let uid = |cf: Option<&Value>| {
        cf.and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    for r in desired.values().map(R::borrow) {
        if r.kind != Kind::Cluster {
            continue;
        }
        let (Some(ours), Some(theirs)) = (
            uid(r.custom_fields.get(CF_UID)),
            observed
                .get(&r.id)
                .and_then(|o| uid(o.custom_fields.get(CF_UID))),
        ) else {
            continue;
        };
        let known = [replaces, alias].into_iter().flatten().map(str::trim);
        if ours != theirs && !known.clone().any(|k| k == theirs) {
            return Err(IdentityMismatch {
                name: r.name.clone(),
                theirs,
                ours,
            });
        }
    }
    Ok(())
}

/// Checks this cluster's identity `ours` against the Nautobot Cluster of `cluster_name`, when
/// no desired record carries it (a cleanup removes everything, the Cluster too).
pub fn check_cluster(
    cluster_name: &str,
    ours: &str,
    observed: &BTreeMap<Uuid, ObservedObject>,
    replaces: Option<&str>,
) -> Result<(), IdentityMismatch> {
    let id = crate::model::record_id(cluster_name, Kind::Cluster, "");
    let mut probe = Record::new(id, Kind::Cluster, cluster_name, "");
    probe
        .custom_fields
        .insert(CF_UID.into(), Value::String(ours.to_string()));
    check(&BTreeMap::from([(id, probe)]), observed, replaces, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::diff::tests::{observed_from, sample_projection};
    use serde_json::json;

    fn cluster_id(p: &crate::project::Projection) -> Uuid {
        p.records
            .values()
            .find(|r| r.kind == Kind::Cluster)
            .unwrap()
            .id
    }

    #[test]
    fn another_cluster_under_the_same_name_is_refused_unless_it_replaces_it() {
        let p = sample_projection();
        let ours = p.records[&cluster_id(&p)].custom_fields[CF_UID]
            .as_str()
            .unwrap()
            .to_string();
        // first sync, and every sync of the same cluster
        assert_eq!(check(&p.records, &BTreeMap::new(), None, None), Ok(()));
        let mut observed = observed_from(&p.records);
        assert_eq!(check(&p.records, &observed, None, None), Ok(()));

        // the Nautobot Cluster was synced by another cluster
        let cluster = observed.get_mut(&cluster_id(&p)).unwrap();
        cluster
            .custom_fields
            .insert(CF_UID.into(), json!("0000-other-cluster"));
        let e = check(&p.records, &observed, None, None).unwrap_err();
        assert_eq!(e.theirs, "0000-other-cluster");
        assert_eq!(e.ours, ours);
        assert!(e.to_string().contains("spec.replacesClusterId"), "{e}");
        assert!(check(&p.records, &observed, Some("some-third-cluster"), None).is_err());
        // a person says this cluster replaces it
        assert_eq!(
            check(&p.records, &observed, Some("0000-other-cluster"), None),
            Ok(())
        );
        // the kube-system UID an earlier pass recorded before OpenShift's cluster ID was read
        assert_eq!(
            check(&p.records, &observed, None, Some("0000-other-cluster")),
            Ok(())
        );

        // a Cluster that records no identity (made by hand and adopted, or by an old version)
        let cluster = observed.get_mut(&cluster_id(&p)).unwrap();
        cluster.custom_fields.insert(CF_UID.into(), Value::Null);
        assert_eq!(check(&p.records, &observed, None, None), Ok(()));
    }
}
