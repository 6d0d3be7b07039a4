//! Keeping a copy of Nautobot's state current from what an apply wrote, so that an
//! incremental pass diffs against it without reading Nautobot.

use std::collections::BTreeMap;

use serde_json::Value;
use uuid::Uuid;

use super::diff::{ObservedObject, Owner, Plan};
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
    let failed: std::collections::BTreeSet<(Uuid, &str)> =
        report.failures.iter().map(|f| (f.id, f.action)).collect();
    let tags_of = |v: &Value| -> std::collections::BTreeSet<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.get("name").and_then(Value::as_str).map(String::from))
            .collect()
    };
    for op in &plan.creates {
        if failed.contains(&(op.id, "create")) {
            continue;
        }
        let mut fields = op.body.clone();
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
    for op in &plan.deletes {
        if !failed.contains(&(op.id, "delete")) {
            observed.remove(&op.id);
        }
    }
    true
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
}
