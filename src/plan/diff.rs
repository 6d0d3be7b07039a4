//! The diff planner: desired records against what Nautobot holds, to a [`Plan`].
//!
//! Pure and synchronous. It compares only the fields, tags and custom fields the operator owns
//! (a field Nautobot does not return is not compared), so an unchanged cluster yields an empty
//! plan and people's edits to other fields survive. It never touches an object that does not
//! carry this cluster's ownership marker: a desired record whose id exists without the marker is
//! a conflict (or is adopted when the spec allows it). Objects that are owned but no longer
//! desired follow the deletion policy and the mass-deletion guard.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::policy::Policy;
use super::resolve::Resolve;
use crate::api::DeletionPolicy;
use crate::model::{CF_MISSING_SINCE, Field, Kind, Record, Ref};

/// Fields written after every create and ordinary update of a pass: they point to objects the
/// same pass may create (a primary IP must already be assigned to the VM's interface).
pub const LATE_FIELDS: [&str; 2] = ["primary_ip4", "primary_ip6"];

/// Who owns an object found in Nautobot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Owner {
    /// Marked with this cluster's name (or a link object between two of ours).
    Us,
    /// Marked with another cluster's name.
    OtherCluster(String),
    /// Not marked.
    Unowned,
}

/// An object as read from Nautobot, normalised like the desired records: related objects as
/// their id string, tags by name.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedObject {
    /// Nautobot id.
    pub id: Uuid,
    /// Kind.
    pub kind: Kind,
    /// Display name.
    pub display: String,
    /// Fields as returned (only the keys Nautobot returned).
    pub fields: Map<String, Value>,
    /// Tag names.
    pub tags: BTreeSet<String>,
    /// Custom fields.
    pub custom_fields: Map<String, Value>,
    /// Ownership.
    pub owner: Owner,
}

/// One write.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Op {
    /// Object id.
    pub id: Uuid,
    /// Kind.
    pub kind: Kind,
    /// Display name.
    pub name: String,
    /// Request body (for updates: `id` and the changed fields only).
    pub body: Map<String, Value>,
    /// Why (for updates: the changed field names).
    pub reason: String,
}

impl Op {
    fn new(r: &Record, body: Map<String, Value>, reason: impl Into<String>) -> Self {
        Op {
            id: r.id,
            kind: r.kind,
            name: r.name.clone(),
            body,
            reason: reason.into(),
        }
    }

    /// An update of `fields` (the body gets the id).
    fn update(r: &Record, mut fields: Map<String, Value>, reason: impl Into<String>) -> Self {
        fields.insert("id".into(), Value::String(r.id.to_string()));
        Op::new(r, fields, reason)
    }
}

/// A desired record that cannot be written because of someone else's object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    /// The record id.
    pub id: Uuid,
    /// Kind.
    pub kind: Kind,
    /// Display name.
    pub name: String,
    /// Explanation.
    pub message: String,
}

/// What one pass does.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    /// Creates, parents first.
    pub creates: Vec<Op>,
    /// Updates of owned fields, parents first.
    pub updates: Vec<Op>,
    /// Updates of [`LATE_FIELDS`], after all creates and updates.
    pub late_updates: Vec<Op>,
    /// Deletions, children first.
    pub deletes: Vec<Op>,
    /// Deletions of owned link objects whose two ends a create of this pass links again under
    /// the operator's own id, run before the creates: Nautobot allows one link per pair. The
    /// case: an in-place upgrade to Nautobot 3.x turns each device's `cluster` into a
    /// DeviceClusterAssignment with an id of its own. Not removals (the same link is made
    /// again), so neither the deletion policy nor the guard holds them.
    pub replaced: Vec<Op>,
    /// Removals (deletions and missing-marks) held back by the mass-deletion guard.
    pub held: Vec<Op>,
    /// Why removals are held.
    pub held_reason: Option<String>,
    /// Objects kept although no longer desired (grace period running, Retain policy, IPs of
    /// stopped VMs).
    pub kept: usize,
    /// Records left alone because someone else's object has their id.
    pub conflicts: Vec<Conflict>,
    /// Records that cannot be written (a prerequisite is missing).
    pub errors: Vec<Conflict>,
    /// Desired records already exactly right.
    pub unchanged: usize,
    /// The same, per kind.
    pub unchanged_by_kind: BTreeMap<Kind, usize>,
}

impl Plan {
    /// Whether the plan writes nothing.
    pub fn is_empty(&self) -> bool {
        self.creates.is_empty()
            && self.updates.is_empty()
            && self.late_updates.is_empty()
            && self.deletes.is_empty()
            && self.replaced.is_empty()
    }

    /// Number of writes.
    pub fn write_count(&self) -> usize {
        self.creates.len()
            + self.updates.len()
            + self.late_updates.len()
            + self.deletes.len()
            + self.replaced.len()
    }
}

impl Conflict {
    /// A conflict or error about the desired record `r`.
    fn of(r: &Record, message: String) -> Self {
        Conflict {
            id: r.id,
            kind: r.kind,
            name: r.name.clone(),
            message,
        }
    }
}

/// The JSON write form of a desired record: resolved fields, tags, custom fields.
fn resolve_record(r: &Record, resolver: &dyn Resolve) -> Result<Map<String, Value>, String> {
    resolve_fields(r, &r.fields, resolver)
}

fn resolve_fields(
    r: &Record,
    fields: &BTreeMap<&'static str, Field>,
    resolver: &dyn Resolve,
) -> Result<Map<String, Value>, String> {
    let mut body = Map::new();
    for (k, f) in fields {
        let v = match f {
            Field::Json(v) => v.clone(),
            Field::Ref(reference) => resolver.resolve(reference, r.kind)?,
        };
        body.insert((*k).to_string(), v);
    }
    Ok(body)
}

fn tags_json(tags: &BTreeSet<String>) -> Value {
    Value::Array(
        tags.iter()
            .map(|t| serde_json::json!({"name": t}))
            .collect(),
    )
}

/// Computes the plan. `ips_unknown` lists VMs and VM interfaces whose IP assignments must be
/// kept.
pub fn diff<R: Borrow<Record>>(
    desired: &BTreeMap<Uuid, R>,
    ips_unknown: &BTreeSet<Uuid>,
    observed: &BTreeMap<Uuid, ObservedObject>,
    policy: &Policy,
    resolver: &dyn Resolve,
) -> Plan {
    let mut plan = Plan::default();
    let owns_tag = |t: &str| {
        t == crate::model::OWNERSHIP_TAG
            || policy
                .owned_tag_prefixes
                .iter()
                .any(|p| t.starts_with(p.as_str()))
    };

    for r in desired.values().map(R::borrow) {
        let body = match resolve_record(r, resolver) {
            Ok(b) => b,
            Err(message) => {
                plan.errors.push(Conflict::of(r, message));
                continue;
            }
        };
        match observed.get(&r.id) {
            None => {
                let mut create = body.clone();
                match resolve_fields(r, &r.on_create, resolver) {
                    Ok(defaults) => {
                        for (k, v) in defaults {
                            create.entry(k).or_insert(v);
                        }
                    }
                    Err(message) => {
                        plan.errors.push(Conflict::of(r, message));
                        continue;
                    }
                }
                create.insert("id".into(), Value::String(r.id.to_string()));
                let mut late = Map::new();
                for f in LATE_FIELDS {
                    if let Some(v) = create.remove(f)
                        && !v.is_null()
                    {
                        late.insert(f.to_string(), v);
                    }
                }
                if r.kind.carries_marker() {
                    create.insert("tags".into(), tags_json(&r.tags));
                    create.insert(
                        "custom_fields".into(),
                        Value::Object(r.custom_fields.clone().into_iter().collect()),
                    );
                }
                plan.creates.push(Op::new(r, create, "new"));
                if !late.is_empty() {
                    plan.late_updates
                        .push(Op::update(r, late, LATE_FIELDS.join(",")));
                }
            }
            Some(obs) => {
                let adopting = match &obs.owner {
                    Owner::Us => false,
                    Owner::Unowned if policy.adopt_existing => true,
                    other => {
                        let whose = match other {
                            Owner::OtherCluster(c) => {
                                format!("it is marked as owned by cluster {c:?}")
                            }
                            _ => {
                                "it carries no ownership marker (set adoptExisting to take it over)"
                                    .into()
                            }
                        };
                        plan.conflicts.push(Conflict::of(
                            r,
                            format!(
                                "{} {} exists in Nautobot but {whose}; left alone",
                                r.kind, r.name
                            ),
                        ));
                        continue;
                    }
                };
                let mut changed: Vec<String> = Vec::new();
                let mut update = Map::new();
                let mut late = Map::new();
                for (k, v) in &body {
                    let Some(current) = obs.fields.get(k) else {
                        continue;
                    };
                    if !same_value(k, v, current) {
                        changed.push(k.clone());
                        if LATE_FIELDS.contains(&k.as_str()) {
                            late.insert(k.clone(), v.clone());
                        } else {
                            update.insert(k.clone(), v.clone());
                        }
                    }
                }
                if r.kind.carries_marker() {
                    let mut tags: BTreeSet<String> =
                        obs.tags.iter().filter(|t| !owns_tag(t)).cloned().collect();
                    tags.extend(r.tags.iter().cloned());
                    if tags != obs.tags {
                        changed.push("tags".into());
                        update.insert("tags".into(), tags_json(&tags));
                    }
                    let mut cf = Map::new();
                    let mut wanted: Vec<(&str, Value)> = r
                        .custom_fields
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.clone()))
                        .collect();
                    wanted.push((CF_MISSING_SINCE, Value::Null));
                    for (k, v) in wanted {
                        let current = obs.custom_fields.get(k).unwrap_or(&Value::Null);
                        if current != &v {
                            cf.insert(k.to_string(), v);
                        }
                    }
                    if !cf.is_empty() {
                        changed.push("custom_fields".into());
                        update.insert("custom_fields".into(), Value::Object(cf));
                    }
                }
                if changed.is_empty() {
                    plan.unchanged += 1;
                    *plan.unchanged_by_kind.entry(r.kind).or_default() += 1;
                    continue;
                }
                let reason = if adopting {
                    format!("adopt; {}", changed.join(","))
                } else {
                    changed.join(",")
                };
                if !update.is_empty() {
                    plan.updates.push(Op::update(r, update, reason.clone()));
                }
                if !late.is_empty() {
                    plan.late_updates.push(Op::update(r, late, reason));
                }
            }
        }
    }

    plan_removals(desired, ips_unknown, observed, policy, resolver, &mut plan);

    let order = |a: &Op, b: &Op| (a.kind, &a.name).cmp(&(b.kind, &b.name));
    plan.creates.sort_by(order);
    plan.updates.sort_by(order);
    plan.late_updates.sort_by(order);
    plan.deletes.sort_by(|a, b| order(b, a));
    plan.replaced.sort_by(|a, b| order(b, a));
    plan
}

/// A link object's two ends: its kind and the ids in its [`Kind::link_ends`] fields (a
/// create's body or an observed object's fields, both with ids as strings).
fn ends(kind: Kind, fields: &Map<String, Value>) -> Option<(Kind, Vec<(&'static str, &str)>)> {
    let named: Vec<(&'static str, &str)> = kind
        .link_ends()
        .iter()
        .filter_map(|f| Some((*f, fields.get(*f)?.as_str()?)))
        .collect();
    (named.len() >= 2).then_some((kind, named))
}

/// Owned objects no longer desired: kept, marked missing, or deleted (behind the guard).
fn plan_removals<R>(
    desired: &BTreeMap<Uuid, R>,
    ips_unknown: &BTreeSet<Uuid>,
    observed: &BTreeMap<Uuid, ObservedObject>,
    policy: &Policy,
    resolver: &dyn Resolve,
    plan: &mut Plan,
) {
    // IP assignments (and their addresses) of VMs and VM interfaces whose IPs are unknown
    // right now are kept.
    let mut keep: BTreeSet<Uuid> = BTreeSet::new();
    if !ips_unknown.is_empty() {
        let vm_of_iface: HashMap<Uuid, Uuid> = observed
            .values()
            .filter(|o| o.kind == Kind::VmInterface)
            .filter_map(|o| Some((o.id, id_field(o, "virtual_machine")?)))
            .collect();
        for o in observed
            .values()
            .filter(|o| o.kind == Kind::IpAddressToInterface)
        {
            let iface = id_field(o, "vm_interface");
            let vm = iface.and_then(|i| vm_of_iface.get(&i));
            if vm.is_some_and(|vm| ips_unknown.contains(vm))
                || iface.is_some_and(|i| ips_unknown.contains(&i))
            {
                keep.insert(o.id);
                keep.extend(id_field(o, "ip_address"));
            }
        }
    }

    let owned_total = policy.owned_total.unwrap_or_else(|| {
        observed
            .values()
            .filter(|o| o.owner == Owner::Us && o.kind.carries_marker())
            .count()
    });
    // the links this pass creates, by their ends
    let linked: BTreeSet<_> = plan
        .creates
        .iter()
        .filter_map(|c| ends(c.kind, &c.body))
        .collect();
    let mut deletes = Vec::new();
    let mut marks = Vec::new();
    let now = policy.now;
    for o in observed.values() {
        if o.owner != Owner::Us || desired.contains_key(&o.id) {
            continue;
        }
        if keep.contains(&o.id) {
            plan.kept += 1;
            continue;
        }
        let delete = |reason: &str| Op {
            id: o.id,
            kind: o.kind,
            name: o.display.clone(),
            body: Map::from_iter([("id".to_string(), Value::String(o.id.to_string()))]),
            reason: reason.into(),
        };
        if ends(o.kind, &o.fields).is_some_and(|e| linked.contains(&e)) {
            plan.replaced.push(delete(
                "the same link is made again under the operator's id",
            ));
            continue;
        }
        let delete = delete("gone from the cluster");
        if !o.kind.carries_marker() {
            match policy.deletion {
                DeletionPolicy::Retain => plan.kept += 1,
                _ => deletes.push(delete),
            }
            continue;
        }
        let since = o
            .custom_fields
            .get(CF_MISSING_SINCE)
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<jiff::Timestamp>().ok());
        let expired = since.is_some_and(|s| {
            now.duration_since(s).as_secs_f64() >= policy.grace_period.as_secs_f64()
        });
        match (policy.deletion, since) {
            (DeletionPolicy::Delete, _) => deletes.push(delete),
            (DeletionPolicy::MarkOffline, Some(_)) if expired => deletes.push(delete),
            // no grace period: nothing to wait for, so no mark that the next pass undoes
            (DeletionPolicy::MarkOffline, None) if policy.grace_period.is_zero() => {
                deletes.push(delete)
            }
            (_, Some(_)) => plan.kept += 1,
            (_, None) => {
                let mut body = Map::new();
                body.insert("id".into(), Value::String(o.id.to_string()));
                body.insert(
                    "custom_fields".into(),
                    serde_json::json!({ CF_MISSING_SINCE: now.to_string() }),
                );
                if matches!(o.kind, Kind::Device | Kind::VirtualMachine)
                    && let Ok(offline) = resolver.resolve(&Ref::Status("Offline".into()), o.kind)
                {
                    body.insert("status".into(), offline);
                }
                marks.push(Op {
                    id: o.id,
                    kind: o.kind,
                    name: o.display.clone(),
                    body,
                    reason: "gone from the cluster: marked missing".into(),
                });
            }
        }
    }

    // The guard counts every owned object leaving (deleted or marked missing): a filter that
    // suddenly excludes everything must not mark the whole inventory offline either.
    let counted = deletes
        .iter()
        .chain(&marks)
        .filter(|d| d.kind.carries_marker())
        .count();
    let limit = (policy.max_delete_fraction * owned_total as f64).floor() as usize;
    let forced = policy
        .hold_removals
        .as_ref()
        .filter(|_| counted > 0 && !policy.allow_mass_deletion);
    if let Some(reason) = forced {
        plan.held_reason = Some(reason.clone());
        plan.held = marks;
        plan.held.extend(deletes);
    } else if counted > policy.guard_min_objects as usize
        && counted > limit
        && !policy.allow_mass_deletion
    {
        plan.held_reason = Some(format!(
            "{counted} of {owned_total} owned objects would be deleted or marked missing, more than the guard allows ({:.0}% of owned objects, and more than {}); nothing is removed until a person allows it",
            policy.max_delete_fraction * 100.0,
            policy.guard_min_objects
        ));
        plan.held = marks;
        plan.held.extend(deletes);
    } else {
        plan.updates.extend(marks);
        plan.deletes = deletes;
    }
}

/// The id in a reference field of an observed object.
fn id_field(o: &ObservedObject, field: &str) -> Option<Uuid> {
    o.fields.get(field)?.as_str()?.parse().ok()
}

/// Semantic equality of a desired and an observed field value.
fn same_value(field: &str, desired: &Value, observed: &Value) -> bool {
    if desired == observed {
        return true;
    }
    match (desired, observed) {
        // Nautobot may normalise case (MAC addresses) or answer "" for an unset string
        (Value::String(a), Value::String(b)) if field == "mac_address" => a.eq_ignore_ascii_case(b),
        (Value::String(a), Value::Null) | (Value::Null, Value::String(a)) => a.is_empty(),
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        // port lists and the like: order is not meaningful
        (Value::Array(a), Value::Array(b)) if field == "ports" => {
            let mut a = a.clone();
            let mut b = b.clone();
            a.sort_by_key(Value::to_string);
            b.sort_by_key(Value::to_string);
            a == b
        }
        _ => false,
    }
}

#[cfg(test)]
pub(crate) mod tests;
