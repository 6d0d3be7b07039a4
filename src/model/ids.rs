//! Deterministic record ids.
//!
//! Nautobot accepts a client-chosen `id` on create, so every record's id is a UUIDv5 of the
//! cluster name, the record kind and the Kubernetes identity of its source. The same cluster
//! object therefore always maps to the same Nautobot id: a restart, a retried create or two
//! replicas racing can never make a duplicate (the second create is refused as "already
//! exists"), and two clusters never share an id.
//!
//! The Kubernetes identity is the object's namespace/name, not its UID: names are immutable
//! in Kubernetes, and a VM or namespace deleted and recreated under the same name must map to
//! the same Nautobot object (Nautobot's uniqueness rules are by name, so a new id would collide
//! with the old record while it is kept offline). The UID is recorded in the `k8s_uid` field.

use uuid::Uuid;

use crate::model::Kind;

/// The UUIDv5 namespace of nautobot-sync-operator ids. Never change it.
pub const ID_NAMESPACE: Uuid = uuid::uuid!("6f0f4a3e-5b1c-4f7e-9a51-2d3c8e0b7a10");

/// The id of a record of `kind`, for `cluster`, identified by `key` (e.g. `ns/name`, or
/// `ns/name/iface`).
pub fn record_id(cluster: &str, kind: Kind, key: &str) -> Uuid {
    let mut name = String::with_capacity(cluster.len() + key.len() + 24);
    name.push_str(cluster);
    name.push('\n');
    name.push_str(kind.id_tag());
    name.push('\n');
    name.push_str(key);
    Uuid::new_v5(&ID_NAMESPACE, name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        // Pinned: changing this breaks every installation (duplicates on upgrade).
        assert_eq!(
            record_id("ocp1", Kind::VirtualMachine, "ns/vm").to_string(),
            Uuid::new_v5(&ID_NAMESPACE, b"ocp1\nvirtual-machine\nns/vm").to_string()
        );
        assert_eq!(
            record_id("a", Kind::Tenant, "x"),
            record_id("a", Kind::Tenant, "x")
        );
        assert_ne!(
            record_id("a", Kind::Tenant, "x"),
            record_id("b", Kind::Tenant, "x")
        );
        assert_ne!(
            record_id("a", Kind::Tenant, "x"),
            record_id("a", Kind::Device, "x")
        );
        // no ambiguity from separators inside parts
        assert_ne!(
            record_id("a\nb", Kind::Tenant, "c"),
            record_id("a", Kind::Tenant, "b\nc")
        );
        assert_eq!(record_id("ocp1", Kind::Cluster, "").get_version_num(), 5);
    }
}
