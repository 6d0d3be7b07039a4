use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

use super::*;
use crate::model::{CF_CLUSTER, OWNERSHIP_TAG};
use crate::plan::policy::Policy;
use crate::project::testing::{config, project, sample};

/// Resolves every reference to a readable fake id; `Location` "missing" does not exist.
pub(crate) struct Fake;
impl Resolve for Fake {
    fn resolve(&self, r: &Ref, _kind: Kind) -> Result<Value, String> {
        match r {
            Ref::Record(id) => Ok(json!(id.to_string())),
            Ref::Location(l) if l == "missing" => Err(format!("location {l:?} does not exist")),
            other => Ok(json!(other.to_string())),
        }
    }
}

pub(crate) fn policy() -> Policy {
    Policy {
        cluster: "ocp-lab".into(),
        deletion: DeletionPolicy::Delete,
        grace_period: Duration::from_secs(3600),
        max_delete_fraction: 0.25,
        guard_min_objects: 5,
        allow_mass_deletion: false,
        adopt_existing: false,
        owned_tag_prefixes: vec!["app.kubernetes.io/part-of=".into()],
        now: "2026-11-26T12:00:00Z".parse().unwrap(),
        owned_total: None,
        hold_removals: None,
    }
}

/// What Nautobot would hold after applying `desired` exactly.
pub(crate) fn observed_from(desired: &BTreeMap<Uuid, Record>) -> BTreeMap<Uuid, ObservedObject> {
    desired
        .values()
        .map(|r| {
            let mut fields = resolve_record(r, &Fake).unwrap();
            fields.insert("id".into(), json!(r.id.to_string()));
            let mut cf: Map<String, Value> = r.custom_fields.clone().into_iter().collect();
            cf.insert(CF_MISSING_SINCE.into(), Value::Null);
            cf.insert("someone_elses_field".into(), json!("x"));
            (
                r.id,
                ObservedObject {
                    id: r.id,
                    kind: r.kind,
                    display: r.name.clone(),
                    fields,
                    tags: r.tags.clone(),
                    custom_fields: cf,
                    owner: Owner::Us,
                },
            )
        })
        .collect()
}

pub(crate) fn sample_projection() -> crate::project::Projection {
    project(
        &config(json!({"labels": {"toTags": ["app.kubernetes.io/part-of"]}})),
        &sample(),
    )
}

pub(crate) fn vm_id(p: &crate::project::Projection, name: &str) -> Uuid {
    p.records
        .values()
        .find(|r| r.kind == Kind::VirtualMachine && r.name == name)
        .unwrap()
        .id
}

#[test]
fn an_empty_nautobot_gets_every_record_parents_first() {
    let p = sample_projection();
    let plan = diff(
        &p.records,
        &p.ips_unknown,
        &BTreeMap::new(),
        &policy(),
        &Fake,
    );
    assert_eq!(plan.creates.len(), p.records.len());
    assert!(plan.updates.is_empty() && plan.deletes.is_empty());
    let kinds: Vec<Kind> = plan.creates.iter().map(|o| o.kind).collect();
    assert!(
        kinds.windows(2).all(|w| w[0] <= w[1]),
        "creates are ordered by kind"
    );
    for op in &plan.creates {
        assert_eq!(op.body["id"], json!(op.id.to_string()));
        for late in LATE_FIELDS {
            assert!(
                !op.body.contains_key(late),
                "{late} is written after the creates"
            );
        }
        if op.kind.carries_marker() {
            assert!(
                op.body["tags"]
                    .as_array()
                    .unwrap()
                    .contains(&json!({"name": OWNERSHIP_TAG}))
            );
            assert_eq!(op.body["custom_fields"][CF_CLUSTER], json!("ocp-lab"));
        }
    }
    // primary IPs of running VMs and nodes come in late updates
    let late: Vec<&str> = plan.late_updates.iter().map(|o| o.name.as_str()).collect();
    assert!(late.contains(&"shop-prod/fedora-db-01"), "{late:?}");
    assert!(
        !late.contains(&"data-platform/centos-build-01"),
        "stopped VM: primary IP unknown"
    );
}

#[test]
fn nautobot_already_right_gives_an_empty_plan() {
    let p = sample_projection();
    let observed = observed_from(&p.records);
    let plan = diff(&p.records, &p.ips_unknown, &observed, &policy(), &Fake);
    assert!(plan.is_empty(), "{plan:#?}");
    assert_eq!(plan.unchanged, p.records.len());
    assert!(plan.conflicts.is_empty() && plan.errors.is_empty());
}

#[test]
fn one_change_updates_only_that_field() {
    let p = sample_projection();
    let mut observed = observed_from(&p.records);
    let id = vm_id(&p, "shop-prod/fedora-db-01");
    observed
        .get_mut(&id)
        .unwrap()
        .fields
        .insert("vcpus".into(), json!(1));
    let plan = diff(&p.records, &p.ips_unknown, &observed, &policy(), &Fake);
    assert_eq!(plan.write_count(), 1);
    let op = &plan.updates[0];
    assert_eq!(op.id, id);
    assert_eq!(op.body.len(), 2, "id and vcpus only: {:?}", op.body);
    assert_eq!(op.body["vcpus"], json!(2));
}

#[test]
fn tags_and_custom_fields_added_by_hand_survive() {
    let p = sample_projection();
    let mut observed = observed_from(&p.records);
    let id = vm_id(&p, "shop-prod/fedora-db-01");
    {
        let o = observed.get_mut(&id).unwrap();
        o.tags.insert("backup-daily".into());
        o.custom_fields.insert("owner_team".into(), json!("dba"));
        o.fields.insert("comments".into(), json!("hand-written"));
    }
    let plan = diff(&p.records, &p.ips_unknown, &observed, &policy(), &Fake);
    assert!(
        plan.is_empty(),
        "hand edits to unowned parts are not drift: {plan:#?}"
    );

    // a label change replaces our label tag but keeps the hand-made one
    observed
        .get_mut(&id)
        .unwrap()
        .tags
        .insert("app.kubernetes.io/part-of=old-app".into());
    observed
        .get_mut(&id)
        .unwrap()
        .fields
        .insert("memory".into(), json!(1));
    let plan = diff(&p.records, &p.ips_unknown, &observed, &policy(), &Fake);
    let op = plan.updates.iter().find(|o| o.id == id).unwrap();
    let tags: BTreeSet<String> = op.body["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert!(tags.contains("backup-daily"));
    assert!(tags.contains("app.kubernetes.io/part-of=shop"));
    assert!(!tags.contains("app.kubernetes.io/part-of=old-app"));
    assert!(
        !op.body.contains_key("custom_fields"),
        "owner_team untouched"
    );
}

#[test]
fn objects_that_are_not_ours_are_never_modified() {
    let p = sample_projection();
    let mut observed = observed_from(&p.records);
    let id = vm_id(&p, "shop-prod/fedora-db-01");
    {
        let o = observed.get_mut(&id).unwrap();
        o.owner = Owner::Unowned;
        o.fields.insert("vcpus".into(), json!(64));
    }
    let other = vm_id(&p, "shop-prod/rhel9-app-01");
    observed.get_mut(&other).unwrap().owner = Owner::OtherCluster("ocp-2".into());
    let plan = diff(&p.records, &p.ips_unknown, &observed, &policy(), &Fake);
    assert!(plan.is_empty());
    assert_eq!(plan.conflicts.len(), 2);
    assert!(plan.conflicts.iter().any(|c| c.message.contains("ocp-2")));

    let mut adopt = policy();
    adopt.adopt_existing = true;
    let plan = diff(&p.records, &p.ips_unknown, &observed, &adopt, &Fake);
    let op = plan.updates.iter().find(|o| o.id == id).expect("adopted");
    assert!(op.reason.starts_with("adopt"));
    assert_eq!(
        plan.conflicts.len(),
        1,
        "another cluster's object is never adopted"
    );
}

#[test]
fn an_unresolvable_prerequisite_is_an_error_not_a_write() {
    let mut p = sample_projection();
    for r in p.records.values_mut().filter(|r| r.kind == Kind::Device) {
        r.fields
            .insert("location", Ref::Location("missing".into()).into());
    }
    let plan = diff(
        &p.records,
        &p.ips_unknown,
        &BTreeMap::new(),
        &policy(),
        &Fake,
    );
    assert_eq!(plan.errors.len(), 6);
    assert!(plan.errors[0].message.contains("does not exist"));
    assert!(plan.creates.iter().all(|o| o.kind != Kind::Device));
}

/// Observed state with one VM (and its children) no longer desired.
fn with_one_vm_gone(
    policy_: &Policy,
    vm: &str,
) -> (
    crate::project::Projection,
    BTreeMap<Uuid, ObservedObject>,
    Plan,
) {
    let p = sample_projection();
    let observed = observed_from(&p.records);
    let mut desired = p.records.clone();
    desired.retain(|_, r| !r.source.starts_with(&format!("VirtualMachine {vm}")));
    let plan = diff(&desired, &BTreeSet::new(), &observed, policy_, &Fake);
    (p, observed, plan)
}

#[test]
fn deletion_policies() {
    // Delete: the VM and everything under it, children first
    let (_, _, plan) = with_one_vm_gone(&policy(), "shop-prod/fedora-db-01");
    let kinds: Vec<Kind> = plan.deletes.iter().map(|o| o.kind).collect();
    assert!(kinds.contains(&Kind::VirtualMachine) && kinds.contains(&Kind::IpAddress));
    assert!(
        kinds.windows(2).all(|w| w[0] >= w[1]),
        "children first: {kinds:?}"
    );
    assert!(plan.creates.is_empty());

    // MarkOffline: marked with the time and Offline, nothing deleted
    let mut mark = policy();
    mark.deletion = DeletionPolicy::MarkOffline;
    let (p, mut observed, plan) = with_one_vm_gone(&mark, "shop-prod/fedora-db-01");
    let id = vm_id(&p, "shop-prod/fedora-db-01");
    let links: Vec<Kind> = plan.deletes.iter().map(|o| o.kind).collect();
    assert!(
        links.iter().all(|k| !k.carries_marker()),
        "only link objects go at once: {links:?}"
    );
    let m = plan.updates.iter().find(|o| o.id == id).unwrap();
    assert_eq!(
        m.body["custom_fields"][CF_MISSING_SINCE],
        json!("2026-11-26T12:00:00Z")
    );
    assert_eq!(m.body["status"], json!("status:Offline"));

    // within the grace period: kept; after it: deleted
    observed
        .get_mut(&id)
        .unwrap()
        .custom_fields
        .insert(CF_MISSING_SINCE.into(), json!("2026-11-26T11:30:00Z"));
    let mut desired = p.records.clone();
    desired.retain(|_, r| {
        !r.source
            .starts_with("VirtualMachine shop-prod/fedora-db-01")
    });
    let plan = diff(&desired, &BTreeSet::new(), &observed, &mark, &Fake);
    assert!(!plan.deletes.iter().any(|o| o.id == id));
    assert!(!plan.updates.iter().any(|o| o.id == id), "already marked");
    mark.now = "2026-11-26T12:31:00Z".parse().unwrap();
    let plan = diff(&desired, &BTreeSet::new(), &observed, &mark, &Fake);
    assert!(plan.deletes.iter().any(|o| o.id == id));

    // MarkOffline with no grace period: deleted at once, not marked first
    let mut at_once = policy();
    at_once.deletion = DeletionPolicy::MarkOffline;
    at_once.grace_period = Duration::ZERO;
    let (p, _, plan) = with_one_vm_gone(&at_once, "shop-prod/fedora-db-01");
    let id = vm_id(&p, "shop-prod/fedora-db-01");
    assert!(plan.deletes.iter().any(|o| o.id == id));
    assert!(!plan.updates.iter().any(|o| o.id == id));

    // Retain: never deleted
    let mut retain = policy();
    retain.deletion = DeletionPolicy::Retain;
    retain.now = "2030-01-01T00:00:00Z".parse().unwrap();
    let plan = diff(&desired, &BTreeSet::new(), &observed, &retain, &Fake);
    assert!(plan.deletes.is_empty());
}

#[test]
fn an_object_that_comes_back_is_unmarked() {
    let p = sample_projection();
    let mut observed = observed_from(&p.records);
    let id = vm_id(&p, "shop-prod/fedora-db-01");
    observed
        .get_mut(&id)
        .unwrap()
        .custom_fields
        .insert(CF_MISSING_SINCE.into(), json!("2026-11-26T11:30:00Z"));
    let plan = diff(&p.records, &p.ips_unknown, &observed, &policy(), &Fake);
    assert_eq!(plan.write_count(), 1);
    assert_eq!(
        plan.updates[0].body["custom_fields"],
        json!({CF_MISSING_SINCE: null})
    );
}

#[test]
fn the_guard_holds_mass_removals_until_allowed() {
    let p = sample_projection();
    let observed = observed_from(&p.records);
    let only_cluster: BTreeMap<Uuid, Record> = p
        .records
        .iter()
        .filter(|(_, r)| r.kind == Kind::Cluster)
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    let plan = diff(&only_cluster, &BTreeSet::new(), &observed, &policy(), &Fake);
    assert!(plan.deletes.is_empty() && plan.updates.is_empty());
    assert!(plan.held.len() > 50);
    assert!(
        plan.held_reason
            .as_deref()
            .unwrap()
            .contains("nothing is removed")
    );

    let mut mark = policy();
    mark.deletion = DeletionPolicy::MarkOffline;
    let plan = diff(&only_cluster, &BTreeSet::new(), &observed, &mark, &Fake);
    assert!(plan.updates.is_empty(), "mass marking offline is held too");
    assert!(!plan.held.is_empty());

    let mut allow = policy();
    allow.allow_mass_deletion = true;
    let plan = diff(&only_cluster, &BTreeSet::new(), &observed, &allow, &Fake);
    assert_eq!(plan.deletes.len(), p.records.len() - 1);
    assert!(plan.held.is_empty());
}

#[test]
fn a_forced_hold_keeps_even_one_removal_until_allowed() {
    let p = sample_projection();
    let observed = observed_from(&p.records);
    // one VM goes (far below the guard's fraction), but KubeVirt is not served: held
    let id = vm_id(&p, "shop-prod/fedora-db-01");
    let mut desired = p.records.clone();
    desired.retain(|_, r| {
        !r.source
            .starts_with("VirtualMachine shop-prod/fedora-db-01")
    });
    assert!(desired.len() < p.records.len() && !desired.contains_key(&id));
    let mut hold = policy();
    hold.hold_removals = Some("the KubeVirt API is not served".into());
    let plan = diff(&desired, &BTreeSet::new(), &observed, &hold, &Fake);
    assert!(plan.deletes.is_empty(), "{:?}", plan.deletes);
    assert!(plan.held.iter().any(|o| o.id == id));
    assert_eq!(
        plan.held_reason.as_deref(),
        Some("the KubeVirt API is not served")
    );
    // nothing to remove: nothing held, no reason shown
    let plan = diff(&p.records, &BTreeSet::new(), &observed, &hold, &Fake);
    assert!(plan.held.is_empty() && plan.held_reason.is_none());
    // a person allows it
    hold.allow_mass_deletion = true;
    let plan = diff(&desired, &BTreeSet::new(), &observed, &hold, &Fake);
    assert!(plan.deletes.iter().any(|o| o.id == id) && plan.held.is_empty());
}

#[test]
fn a_stopped_vm_keeps_its_ip_addresses() {
    let p = sample_projection();
    let observed = observed_from(&p.records);
    // fedora-db-01 stops: its projection no longer has IPs, and it is listed as ips_unknown
    let id = vm_id(&p, "shop-prod/fedora-db-01");
    let mut desired = p.records.clone();
    desired.retain(|_, r| {
        !(r.source
            .starts_with("VirtualMachine shop-prod/fedora-db-01")
            && matches!(r.kind, Kind::IpAddress | Kind::IpAddressToInterface))
    });
    let mut unknown = p.ips_unknown.clone();
    unknown.insert(id);
    let plan = diff(&desired, &unknown, &observed, &policy(), &Fake);
    assert!(plan.deletes.is_empty(), "{:#?}", plan.deletes);
    assert_eq!(plan.kept, 2, "the address and its assignment");
}

#[test]
fn every_vm_is_created_and_an_unmapped_status_is_never_overwritten() {
    let mut p = sample_projection();
    let id = vm_id(&p, "shop-prod/fedora-db-01");
    // as the projection leaves a printableStatus this version does not know
    p.records.get_mut(&id).unwrap().fields.remove("status");
    let plan = diff(
        &p.records,
        &p.ips_unknown,
        &BTreeMap::new(),
        &policy(),
        &Fake,
    );
    let create = plan.creates.iter().find(|o| o.id == id).unwrap();
    assert_eq!(create.body["status"], json!("status:Unknown"), "{create:?}");
    // a mapped status is created as it is
    let other = vm_id(&p, "data-platform/centos-build-01");
    let create = plan.creates.iter().find(|o| o.id == other).unwrap();
    assert_eq!(create.body["status"], json!("status:Offline"));

    // once it exists, the status it has is kept
    let mut observed = observed_from(&p.records);
    observed
        .get_mut(&id)
        .unwrap()
        .fields
        .insert("status".into(), json!("status:Active"));
    let plan = diff(&p.records, &p.ips_unknown, &observed, &policy(), &Fake);
    assert!(plan.is_empty(), "{plan:#?}");
}

#[test]
fn an_interface_whose_addresses_are_unknown_keeps_them_and_no_other() {
    let p = sample_projection();
    let observed = observed_from(&p.records);
    // fedora-db-01's guest agent goes away: its addresses leave the projection, and only its
    // interface is listed as unknown
    let gone = |r: &Record| {
        r.source
            .starts_with("VirtualMachine shop-prod/fedora-db-01")
            && matches!(r.kind, Kind::IpAddress | Kind::IpAddressToInterface)
    };
    let iface = p
        .records
        .values()
        .find(|r| r.kind == Kind::VmInterface && r.name.starts_with("shop-prod/fedora-db-01 "))
        .unwrap()
        .id;
    let mut desired = p.records.clone();
    desired.retain(|_, r| !gone(r));
    let mut unknown = p.ips_unknown.clone();
    unknown.insert(iface);
    let plan = diff(&desired, &unknown, &observed, &policy(), &Fake);
    assert!(plan.deletes.is_empty(), "{:#?}", plan.deletes);
    assert_eq!(plan.kept, 2, "the address and its assignment");
    // without the mark they would go
    let plan = diff(&desired, &p.ips_unknown, &observed, &policy(), &Fake);
    assert_eq!(plan.deletes.len(), 2);
}

/// After an in-place upgrade from Nautobot 2.4, Nautobot's migration has linked each node's
/// Device to the Cluster with a DeviceClusterAssignment of its own id: the operator deletes
/// each first and links the same pair again under its id, under every deletion policy, and
/// deletes nothing else.
#[test]
fn links_nautobot_made_for_our_pairs_are_replaced_before_the_creates() {
    let p = sample_projection();
    let mut observed = observed_from(&p.records);
    let ours: Vec<Uuid> = observed
        .values()
        .filter(|o| o.kind == Kind::DeviceClusterAssignment)
        .map(|o| o.id)
        .collect();
    assert!(ours.len() >= 2, "the sample has nodes");
    let mut migrated = BTreeSet::new();
    for (n, id) in ours.iter().enumerate() {
        let mut o = observed.remove(id).unwrap();
        o.id = Uuid::from_u128(0xabc0 + n as u128);
        o.fields.insert("id".into(), json!(o.id.to_string()));
        migrated.insert(o.id);
        observed.insert(o.id, o);
    }
    // and one owned link of a pair this cluster no longer makes
    let mut gone = observed[&migrated.first().copied().unwrap()].clone();
    gone.id = Uuid::from_u128(0xdead);
    gone.fields
        .insert("cluster".into(), json!(Uuid::from_u128(7).to_string()));
    observed.insert(gone.id, gone);
    for deletion in [
        DeletionPolicy::Delete,
        DeletionPolicy::MarkOffline,
        DeletionPolicy::Retain,
    ] {
        let pol = Policy {
            deletion,
            ..policy()
        };
        let plan = diff(&p.records, &p.ips_unknown, &observed, &pol, &Fake);
        let replaced: BTreeSet<Uuid> = plan.replaced.iter().map(|o| o.id).collect();
        assert_eq!(replaced, migrated, "{deletion:?}");
        let created: BTreeSet<Uuid> = plan.creates.iter().map(|o| o.id).collect();
        assert_eq!(created, ours.iter().copied().collect(), "{deletion:?}");
        assert!(
            plan.updates.is_empty() && plan.held.is_empty(),
            "{deletion:?}"
        );
        // the other link follows the deletion policy
        let deleted: Vec<Uuid> = plan.deletes.iter().map(|o| o.id).collect();
        match deletion {
            DeletionPolicy::Retain => assert!(deleted.is_empty()),
            _ => assert_eq!(deleted, [Uuid::from_u128(0xdead)], "{deletion:?}"),
        }
        assert_eq!(plan.write_count(), 2 * migrated.len() + deleted.len());
    }
}
