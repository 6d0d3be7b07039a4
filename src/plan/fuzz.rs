//! Mutation fuzzing of the diff planner (issue #7): Nautobot's copy of the sample cluster as
//! people and time leave it (fields edited or given values of the wrong type, tags and custom
//! fields added or removed by hand, owned objects deleted, objects unmarked or marked by
//! another cluster, orphans of ours) against a cluster that changed too, under every deletion
//! policy. Each plan must:
//! - write only objects we own (or adopt, when told to): never one of someone else's;
//! - create only what Nautobot lacks (no duplicates);
//! - keep every tag it does not own, and never set a custom field it does not own;
//! - lose nothing: once applied, every desired record is in Nautobot or reported as a conflict;
//! - converge: once applied (as the worker's cache records it), the next diff writes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

use super::diff::*;
use super::observed::update_observed;
use super::policy::Policy;
use super::report::ApplyReport;
use crate::api::DeletionPolicy;
use crate::model::{CF_CLUSTER, CF_MISSING_SINCE, Kind, OWNERSHIP_TAG};
use crate::project::fuzz::{Rng, campaign, odd_value};
use crate::project::testing::{config, project, sample};
use serde_json::Map;

use super::diff::tests::{Fake, observed_from, policy as base_policy};

const LABEL_PREFIX: &str = "app.kubernetes.io/part-of=";

fn policy(rng: &mut Rng) -> Policy {
    Policy {
        deletion: [
            DeletionPolicy::Delete,
            DeletionPolicy::MarkOffline,
            DeletionPolicy::Retain,
        ][rng.below(3)],
        grace_period: Duration::from_secs(3600 * rng.below(2) as u64),
        allow_mass_deletion: rng.below(2) == 0,
        adopt_existing: rng.below(3) == 0,
        ..base_policy()
    }
}

/// One change a person (or time) makes to Nautobot's copy.
fn mutate_observed(observed: &mut BTreeMap<Uuid, ObservedObject>, rng: &mut Rng) {
    let ids: Vec<Uuid> = observed.keys().copied().collect();
    let id = ids[rng.below(ids.len())];
    let o = observed.get_mut(&id).unwrap();
    match rng.below(11) {
        0 | 1 => {
            let keys: Vec<String> = o.fields.keys().filter(|k| *k != "id").cloned().collect();
            if let Some(k) = keys.get(rng.below(keys.len())) {
                o.fields.insert(k.clone(), odd_value(rng));
            }
        }
        2 => {
            let keys: Vec<String> = o.fields.keys().filter(|k| *k != "id").cloned().collect();
            if let Some(k) = keys.get(rng.below(keys.len())) {
                o.fields.remove(k);
            }
        }
        3 => {
            o.tags.insert(format!("hand-made-{}", rng.below(4)));
        }
        4 => {
            let tags: Vec<String> = o.tags.iter().cloned().collect();
            if let Some(t) = tags.get(rng.below(tags.len())) {
                o.tags.remove(t);
            }
        }
        5 => {
            o.tags
                .insert(format!("{LABEL_PREFIX}stale-{}", rng.below(3)));
        }
        6 => {
            o.custom_fields
                .insert(format!("hand_field_{}", rng.below(3)), odd_value(rng));
        }
        7 => {
            o.owner = if rng.below(2) == 0 {
                Owner::Unowned
            } else {
                Owner::OtherCluster("ocp-other".into())
            };
        }
        8 => {
            observed.remove(&id);
        }
        9 => {
            // an orphan of ours: something this cluster made once and no longer has
            let mut orphan = o.clone();
            orphan.id = Uuid::from_u128(rng.next() as u128);
            orphan
                .fields
                .insert("id".into(), json!(orphan.id.to_string()));
            orphan.owner = Owner::Us;
            observed.insert(orphan.id, orphan);
        }
        _ => {
            o.custom_fields.insert(
                CF_MISSING_SINCE.into(),
                [
                    json!("2026-11-25T00:00:00Z"),
                    json!("2026-11-26T11:59:00Z"),
                    json!("garbage"),
                    json!(7),
                ][rng.below(4)]
                .clone(),
            );
        }
    }
}

fn tags_in(body: &Map<String, Value>) -> Option<BTreeSet<String>> {
    body.get("tags").map(|t| {
        t.as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["name"].as_str().map(String::from))
            .collect()
    })
}

fn check(plan: &Plan, observed: &BTreeMap<Uuid, ObservedObject>, policy: &Policy, case: &str) {
    for op in &plan.creates {
        assert!(
            !observed.contains_key(&op.id),
            "{case}: create of {} {} which Nautobot holds",
            op.kind,
            op.name
        );
    }
    let writes = plan
        .updates
        .iter()
        .chain(&plan.late_updates)
        .map(|o| (o, "update"))
        .chain(
            plan.replaced
                .iter()
                .chain(&plan.deletes)
                .map(|o| (o, "delete")),
        );
    let created: BTreeSet<Uuid> = plan.creates.iter().map(|o| o.id).collect();
    for (op, action) in writes {
        if created.contains(&op.id) && action == "update" {
            continue; // a late field (a primary IP) of an object this plan creates
        }
        let o = observed
            .get(&op.id)
            .unwrap_or_else(|| panic!("{case}: {action} of {} not in Nautobot", op.name));
        let adoptable = policy.adopt_existing && o.owner == Owner::Unowned && action == "update";
        assert!(
            o.owner == Owner::Us || adoptable,
            "{case}: {action} of {} {} owned by {:?}",
            op.kind,
            op.name,
            o.owner
        );
        if let Some(tags) = tags_in(&op.body) {
            for t in &o.tags {
                let ours = t == OWNERSHIP_TAG || t.starts_with(LABEL_PREFIX);
                assert!(
                    ours || tags.contains(t),
                    "{case}: {action} of {} drops the hand-made tag {t:?}",
                    op.name
                );
            }
        }
        if let Some(Value::Object(cf)) = op.body.get("custom_fields") {
            for (k, v) in cf {
                let ours = k == CF_CLUSTER || k.starts_with("k8s_") || k == "app_name";
                assert!(
                    ours || o.custom_fields.get(k) == Some(v),
                    "{case}: {action} of {} sets someone else's custom field {k} to {v}",
                    op.name
                );
            }
        }
    }
}

#[test]
fn plans_against_a_mutated_nautobot_touch_only_ours_keep_hand_edits_and_converge() {
    let cfg = config(json!({"labels": {
        "toTags": ["app.kubernetes.io/part-of"],
        "toCustomFields": [{"label": "app", "customField": "app_name"}]
    }}));
    let p = project(&cfg, &sample());
    let (mut rng, iterations) = campaign(0xD1B5_4A32_D192_ED03, 400);
    let (mut writes, mut conflicts) = (0, 0);
    for it in 0..iterations {
        let case = format!("iteration {it}");
        let policy = policy(&mut rng);
        let mut observed = observed_from(&p.records);
        for _ in 0..1 + rng.below(8) {
            mutate_observed(&mut observed, &mut rng);
        }
        let mut desired = p.records.clone();
        // the cluster changed too: an object or two gone, with all it projected
        for _ in 0..rng.below(3) {
            let sources: Vec<String> = desired
                .values()
                .filter(|r| r.kind != Kind::Cluster)
                .map(|r| r.source.clone())
                .collect();
            let gone = &sources[rng.below(sources.len())];
            desired.retain(|_, r| r.source != *gone);
        }
        let plan = diff(&desired, &p.ips_unknown, &observed, &policy, &Fake);
        check(&plan, &observed, &policy, &case);
        writes += plan.write_count();
        conflicts += plan.conflicts.len();
        assert!(update_observed(
            &mut observed,
            &plan,
            &ApplyReport::<()>::default()
        ));
        // nothing lost: every desired record is in Nautobot now, or blocked by someone else's
        let blocked: BTreeSet<Uuid> = plan.conflicts.iter().map(|c| c.id).collect();
        for r in desired.values() {
            assert!(
                observed.contains_key(&r.id) || blocked.contains(&r.id),
                "{case}: {} {} is neither written nor reported as a conflict",
                r.kind,
                r.name
            );
        }
        let again = diff(&desired, &p.ips_unknown, &observed, &policy, &Fake);
        assert!(
            again.is_empty(),
            "{case} ({:?}, grace {:?}, adopt {}): a second pass still writes: {:#?}",
            policy.deletion,
            policy.grace_period,
            policy.adopt_existing,
            again
                .creates
                .iter()
                .chain(&again.updates)
                .chain(&again.late_updates)
                .chain(&again.deletes)
                .chain(&again.replaced)
                .map(|o| format!("{} {}: {}", o.kind, o.name, o.reason))
                .collect::<Vec<_>>()
        );
    }
    assert!(
        writes > 0 && conflicts > 0,
        "{writes} writes, {conflicts} conflicts"
    );
}
