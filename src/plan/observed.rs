//! Keeping a copy of Nautobot's state current from what an apply wrote, so that an
//! incremental pass diffs against it without reading Nautobot.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};
use uuid::Uuid;

use super::diff::{ObservedObject, Op, Owner, Plan};
use super::report::ApplyReport;

/// Brings a copy of Nautobot's state up to date with what an apply wrote, so the next
/// incremental diff needs no read. Ops that failed leave the copy as it was. Returns `false`
/// when the pass was aborted (what was written is then unknown: re-read Nautobot).
pub fn update_observed<E>(
    observed: &mut BTreeMap<Uuid, ObservedObject>,
    plan: &Plan,
    report: &ApplyReport<E>,
) -> bool {
    if report.aborted.is_some() {
        return false;
    }
    let failed = failed_ops(report);
    for op in &plan.creates {
        if !failed.contains(&(op.id, "create")) {
            insert_created(observed, op, op.body.clone());
        }
    }
    fold_updates_and_deletes(observed, plan, &failed);
    true
}

/// [`update_observed`], moving the bodies of the creates into the copy instead of cloning
/// them: the plan's creates keep their ids, kinds and names, with empty bodies. An initial sync
/// then never holds its write bodies twice (at L they are some 130 MiB; docs/benchmarks.md).
pub fn absorb_into_observed<E>(
    observed: &mut BTreeMap<Uuid, ObservedObject>,
    plan: &mut Plan,
    report: &ApplyReport<E>,
) -> bool {
    if report.aborted.is_some() {
        return false;
    }
    let failed = failed_ops(report);
    for op in &mut plan.creates {
        if !failed.contains(&(op.id, "create")) {
            let body = std::mem::take(&mut op.body);
            insert_created(observed, op, body);
        }
    }
    fold_updates_and_deletes(observed, plan, &failed);
    true
}

fn failed_ops<E>(report: &ApplyReport<E>) -> BTreeSet<(Uuid, &str)> {
    report.failures.iter().map(|f| (f.id, f.action)).collect()
}

fn tags_of(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("name").and_then(Value::as_str).map(String::from))
        .collect()
}

/// The object a create wrote, from its body.
fn insert_created(
    observed: &mut BTreeMap<Uuid, ObservedObject>,
    op: &Op,
    mut fields: Map<String, Value>,
) {
    let tags = fields
        .remove("tags")
        .map(|t| tags_of(&t))
        .unwrap_or_default();
    let custom_fields = match fields.remove("custom_fields") {
        Some(Value::Object(m)) => m,
        _ => Default::default(),
    };
    observed.insert(
        op.id,
        ObservedObject {
            id: op.id,
            kind: op.kind,
            display: op.name.clone(),
            fields,
            tags,
            custom_fields,
            owner: Owner::Us,
        },
    );
}

fn fold_updates_and_deletes(
    observed: &mut BTreeMap<Uuid, ObservedObject>,
    plan: &Plan,
    failed: &BTreeSet<(Uuid, &str)>,
) {
    for op in plan.updates.iter().chain(&plan.late_updates) {
        if failed.contains(&(op.id, "update")) {
            continue;
        }
        let Some(o) = observed.get_mut(&op.id) else {
            continue;
        };
        for (k, v) in &op.body {
            match k.as_str() {
                "tags" => o.tags = tags_of(v),
                "custom_fields" => {
                    for (ck, cv) in v.as_object().into_iter().flatten() {
                        o.custom_fields.insert(ck.clone(), cv.clone());
                    }
                }
                _ => {
                    o.fields.insert(k.clone(), v.clone());
                }
            }
        }
        if o.owner == Owner::Unowned {
            o.owner = Owner::Us; // adopted
        }
    }
    for op in plan.replaced.iter().chain(&plan.deletes) {
        if !failed.contains(&(op.id, "delete")) {
            observed.remove(&op.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plan::diff::diff;
    use crate::plan::diff::tests::{Fake, policy, sample_projection, vm_id};

    #[test]
    fn the_cache_updated_from_an_apply_diffs_clean() {
        let p = sample_projection();
        let mut cache = BTreeMap::new();
        let plan = diff(&p.records, &p.ips_unknown, &cache, &policy(), &Fake);
        assert!(update_observed(
            &mut cache,
            &plan,
            &ApplyReport::<()>::default()
        ));
        let again = diff(&p.records, &p.ips_unknown, &cache, &policy(), &Fake);
        assert!(again.is_empty(), "{again:#?}");

        // an update and a delete, applied to the cache, also leave nothing to do
        let mut desired = p.records.clone();
        let id = vm_id(&p, "shop-prod/fedora-db-01");
        desired
            .get_mut(&id)
            .unwrap()
            .fields
            .insert("vcpus", json!(6).into());
        desired.retain(|_, r| {
            !r.source
                .starts_with("VirtualMachine data-platform/centos-build-01")
        });
        let plan = diff(&desired, &p.ips_unknown, &cache, &policy(), &Fake);
        assert!(!plan.updates.is_empty() && !plan.deletes.is_empty());
        update_observed(&mut cache, &plan, &ApplyReport::<()>::default());
        assert!(diff(&desired, &p.ips_unknown, &cache, &policy(), &Fake).is_empty());
        assert_eq!(cache[&id].fields["vcpus"], json!(6));
    }

    #[test]
    fn absorbing_the_creates_gives_the_same_copy_without_cloning_their_bodies() {
        let p = sample_projection();
        let initial_plan = || {
            diff(
                &p.records,
                &p.ips_unknown,
                &BTreeMap::new(),
                &policy(),
                &Fake,
            )
        };
        let mut plan = initial_plan();
        let mut cloned = BTreeMap::new();
        assert!(update_observed(
            &mut cloned,
            &plan,
            &ApplyReport::<()>::default()
        ));
        let mut failed = ApplyReport::<()>::default();
        let gone = plan.creates[3].clone();
        failed.failures.push(crate::plan::Failure {
            id: gone.id,
            kind: gone.kind,
            name: gone.name.clone(),
            action: "create",
            message: "refused".into(),
            conflict: false,
        });
        cloned.remove(&gone.id);
        let mut absorbed = BTreeMap::new();
        assert!(absorb_into_observed(&mut absorbed, &mut plan, &failed));
        assert_eq!(absorbed, cloned);
        // the bodies moved: only the failed create keeps its own (the plan still counts them all)
        let bodies: Vec<_> = plan
            .creates
            .iter()
            .filter(|op| !op.body.is_empty())
            .collect();
        assert_eq!(bodies.len(), 1);
        assert_eq!(bodies[0].id, gone.id);
        // an aborted apply absorbs nothing: the copy is stale
        let aborted = ApplyReport::<()> {
            aborted: Some(()),
            ..Default::default()
        };
        let mut plan = initial_plan();
        let mut copy = BTreeMap::new();
        assert!(!absorb_into_observed(&mut copy, &mut plan, &aborted));
        assert!(copy.is_empty() && plan.creates.iter().all(|op| !op.body.is_empty()));
    }
}
