//! The object store: objects by kind, one global resourceVersion counter, the retained change history that watches
//! replay from, and the broadcast that live watches follow.
//!
//! Every write runs under one lock (held by the caller), so the counter, the history and the broadcast agree on
//! the order of changes. A write that changes nothing keeps its resourceVersion and emits nothing, so controllers
//! do not loop on their own no-op updates.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::broadcast;

use crate::error::ApiError;
use crate::object::{
    finalizers, meta_mut, meta_str, name_of, namespace_of, new_uid, random_suffix, spec_part,
};
use crate::patch::PatchKind;
use crate::registry::{Registry, ResourceKey, ResourceType, is_crd_key};
use crate::selectors::Selection;
use crate::time::now_rfc3339;

/// The kind of a change, as named in watch events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChangeType {
    Added,
    Modified,
    Deleted,
}

/// One committed change: the object after it (for a deletion, its last state) and, for updates, before it.
#[derive(Debug)]
pub(crate) struct Change {
    pub(crate) rv: u64,
    pub(crate) key: ResourceKey,
    pub(crate) change: ChangeType,
    pub(crate) object: Value,
    pub(crate) previous: Option<Value>,
}

/// What live watch streams receive.
#[derive(Clone, Debug)]
pub(crate) enum Signal {
    /// A committed change.
    Change(Arc<Change>),
    /// End the streams watching this kind (`None`: every stream).
    Close(Option<ResourceKey>),
}

/// Which part of an existing object a write may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    /// The main resource: `status` is kept when the kind has a status subresource.
    Main,
    /// The `status` subresource: only `status` changes.
    Status,
    /// A test helper's direct write: everything but name, namespace and resourceVersion.
    Whole,
}

/// Where a create comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// An API request: uid, timestamps and generation are the server's, and `status` is dropped for kinds
    /// with a status subresource.
    Api,
    /// A test helper: a given uid, creationTimestamp, generation and status are kept.
    Direct,
}

/// Capacity of the live-change broadcast; a watch that falls this far behind gets a 410.
const BROADCAST_CAPACITY: usize = 8192;

type Objects = BTreeMap<(String, String), Value>;

/// Kinds, objects, the resourceVersion counter and the change history.
pub(crate) struct Store {
    pub(crate) registry: Registry,
    objects: BTreeMap<ResourceKey, Objects>,
    rv: u64,
    history: VecDeque<Arc<Change>>,
    history_limit: usize,
    oldest_rv: u64,
    tx: broadcast::Sender<Signal>,
}

impl Store {
    pub(crate) fn new(registry: Registry, history_limit: usize) -> Self {
        Self {
            registry,
            objects: BTreeMap::new(),
            rv: 1,
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            oldest_rv: 1,
            tx: broadcast::channel(BROADCAST_CAPACITY).0,
        }
    }

    /// The latest resourceVersion.
    pub(crate) fn resource_version(&self) -> u64 {
        self.rv
    }

    /// The oldest resourceVersion a watch may resume from; older ones get 410 Expired.
    pub(crate) fn oldest_resource_version(&self) -> u64 {
        self.oldest_rv
    }

    /// Live changes after now (call under the same lock as the snapshot that goes with it).
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Signal> {
        self.tx.subscribe()
    }

    /// Ends the live watches of one kind, or all of them.
    pub(crate) fn close_watches(&self, key: Option<ResourceKey>) {
        // No receiver is not an error: there is simply nothing to end.
        let _ = self.tx.send(Signal::Close(key));
    }

    /// Forgets the history: watches resuming from any resourceVersion before now get 410 Expired.
    ///
    /// The counter moves on by one so that a fresh list returns a resourceVersion that is still valid.
    pub(crate) fn compact(&mut self) {
        self.rv += 1;
        self.history.clear();
        self.oldest_rv = self.rv;
    }

    /// Retained changes after `rv`, or `None` when some of them were forgotten.
    pub(crate) fn history_since(&self, rv: u64) -> Option<impl Iterator<Item = &Arc<Change>>> {
        (rv >= self.oldest_rv).then(|| self.history.iter().filter(move |c| c.rv > rv))
    }

    /// One object.
    pub(crate) fn get(&self, rt: &ResourceType, ns: Option<&str>, name: &str) -> Option<&Value> {
        self.objects
            .get(&rt.key())?
            .get(&(ns.unwrap_or_default().to_string(), name.to_string()))
    }

    /// The selected objects of a kind, ordered by namespace then name.
    pub(crate) fn list<'a>(
        &'a self,
        rt: &ResourceType,
        sel: &'a Selection,
    ) -> impl Iterator<Item = &'a Value> {
        self.objects
            .get(&rt.key())
            .into_iter()
            .flat_map(BTreeMap::values)
            .filter(move |obj| sel.matches(obj))
    }

    /// Adds or replaces a kind.
    pub(crate) fn register(&mut self, rt: ResourceType) {
        self.registry.insert(rt);
    }

    /// Removes a kind: its objects are deleted (with DELETED events) and its watches end.
    pub(crate) fn unregister(&mut self, key: &ResourceKey) -> bool {
        if self.registry.remove(key).is_none() {
            return false;
        }
        for (_, mut obj) in self.objects.remove(key).unwrap_or_default() {
            let rv = self.next_rv();
            meta_mut(&mut obj).insert("resourceVersion".into(), rv.to_string().into());
            self.record(key.clone(), ChangeType::Deleted, obj, None);
        }
        self.close_watches(Some(key.clone()));
        true
    }

    /// Creates an object; `namespace` is the request path's namespace, if any.
    pub(crate) fn create(
        &mut self,
        rt: &ResourceType,
        namespace: Option<&str>,
        mut obj: Value,
        origin: Origin,
    ) -> Result<Value, ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the request body must be a JSON object",
            ));
        }
        obj["apiVersion"] = rt.api_version().into();
        obj["kind"] = rt.kind.clone().into();
        if origin == Origin::Api && rt.status_subresource {
            obj.as_object_mut().map(|o| o.remove("status"));
        }
        let name = match (meta_str(&obj, "name"), meta_str(&obj, "generateName")) {
            (Some(name), _) if !name.is_empty() => name.to_string(),
            (_, Some(prefix)) if !prefix.is_empty() => format!("{prefix}{}", random_suffix()),
            _ => {
                return Err(ApiError::invalid(
                    "metadata.name: Required value: name or generateName is required",
                ));
            }
        };
        let ns = match (
            rt.namespaced,
            namespace,
            meta_str(&obj, "namespace").filter(|n| !n.is_empty()),
        ) {
            (false, _, _) => None,
            (true, Some(path), Some(body)) if path != body => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            (true, Some(ns), _) | (true, None, Some(ns)) => Some(ns.to_string()),
            (true, None, None) => Some("default".to_string()),
        };
        if origin == Origin::Api
            && meta_str(&obj, "resourceVersion").is_some_and(|rv| !rv.is_empty())
        {
            return Err(ApiError::invalid(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        if self.get(rt, ns.as_deref(), &name).is_some() {
            return Err(ApiError::already_exists(&rt.resource_name(), &name));
        }
        let rv = self.next_rv();
        let meta = meta_mut(&mut obj);
        meta.insert("name".into(), name.clone().into());
        match &ns {
            Some(ns) => meta.insert("namespace".into(), ns.clone().into()),
            None => meta.remove("namespace"),
        };
        if origin == Origin::Api {
            for field in [
                "uid",
                "creationTimestamp",
                "generation",
                "deletionTimestamp",
            ] {
                meta.remove(field);
            }
        }
        meta.entry("uid").or_insert_with(|| new_uid().into());
        meta.entry("creationTimestamp")
            .or_insert_with(|| now_rfc3339().into());
        meta.entry("generation").or_insert_with(|| 1.into());
        meta.insert("resourceVersion".into(), rv.to_string().into());
        self.objects
            .entry(rt.key())
            .or_default()
            .insert((ns.unwrap_or_default(), name), obj.clone());
        self.record(rt.key(), ChangeType::Added, obj.clone(), None);
        Ok(obj)
    }

    /// Replaces an object (PUT), with an optimistic-concurrency check on `metadata.resourceVersion`.
    pub(crate) fn update(
        &mut self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        body: Value,
        part: Part,
    ) -> Result<Value, ApiError> {
        let old = self.existing(rt, ns, name)?;
        if !body.is_object() {
            return Err(ApiError::bad_request(
                "the request body must be a JSON object",
            ));
        }
        if meta_str(&body, "name").is_some_and(|n| n != name) {
            return Err(ApiError::bad_request(
                "the name of the object does not match the name on the URL",
            ));
        }
        check_resource_version(rt, &old, &body)?;
        self.replace(rt, old, body, part)
    }

    /// Patches an object; an apply patch on a missing object creates it. Returns the object and whether it was
    /// created.
    pub(crate) fn patch(
        &mut self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        kind: PatchKind,
        patch: &Value,
        part: Part,
    ) -> Result<(Value, bool), ApiError> {
        let Some(old) = self.get(rt, ns, name).cloned() else {
            if kind == PatchKind::Apply && part == Part::Main {
                let mut body = patch.clone();
                if body.is_object() {
                    meta_mut(&mut body).insert("name".into(), name.into());
                }
                return self
                    .create(rt, ns, body, Origin::Api)
                    .map(|obj| (obj, true));
            }
            return Err(ApiError::not_found(&rt.resource_name(), name));
        };
        let mut candidate = old.clone();
        kind.apply(&mut candidate, patch)?;
        check_resource_version(rt, &old, &candidate)?;
        self.replace(rt, old, candidate, part)
            .map(|obj| (obj, false))
    }

    /// Deletes an object: with finalizers it only gets a deletionTimestamp and stays until they are removed.
    pub(crate) fn delete(
        &mut self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        options: &Value,
    ) -> Result<Value, ApiError> {
        let old = self.existing(rt, ns, name)?;
        for (field, pointer) in [
            ("uid", "/preconditions/uid"),
            ("resourceVersion", "/preconditions/resourceVersion"),
        ] {
            if let Some(want) = options.pointer(pointer).and_then(Value::as_str)
                && meta_str(&old, field) != Some(want)
            {
                return Err(ApiError::conflict(&rt.resource_name(), name));
            }
        }
        if finalizers(&old).is_empty() {
            return Ok(self.remove(rt, old));
        }
        if meta_str(&old, "deletionTimestamp").is_some() {
            return Ok(old);
        }
        let mut marked = old.clone();
        let meta = meta_mut(&mut marked);
        meta.insert("deletionTimestamp".into(), now_rfc3339().into());
        meta.insert("deletionGracePeriodSeconds".into(), 0.into());
        Ok(self.commit(rt, marked, old))
    }

    /// A test helper's create-or-replace by the object's own apiVersion, kind, namespace and name.
    pub(crate) fn apply_whole(&mut self, obj: Value) -> Result<Value, ApiError> {
        let text = |field: &str| obj.get(field).and_then(Value::as_str).unwrap_or_default();
        let rt = self
            .registry
            .by_kind(text("apiVersion"), text("kind"))
            .cloned()
            .ok_or_else(|| {
                ApiError::not_found("kind", &format!("{} {}", text("apiVersion"), text("kind")))
            })?;
        let ns = rt.namespaced.then(|| match namespace_of(&obj) {
            "" => "default".to_string(),
            ns => ns.to_string(),
        });
        match self.get(&rt, ns.as_deref(), name_of(&obj)).cloned() {
            Some(old) => self.replace(&rt, old, obj, Part::Whole),
            None => self.create(&rt, ns.as_deref(), obj, Origin::Direct),
        }
    }

    fn existing(&self, rt: &ResourceType, ns: Option<&str>, name: &str) -> Result<Value, ApiError> {
        self.get(rt, ns, name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(&rt.resource_name(), name))
    }

    /// Writes `candidate` over `old`, keeping what `part` may not change and the server-owned metadata.
    fn replace(
        &mut self,
        rt: &ResourceType,
        old: Value,
        candidate: Value,
        part: Part,
    ) -> Result<Value, ApiError> {
        let mut new = if part == Part::Status {
            let mut new = old.clone();
            set_field(&mut new, "status", candidate.get("status"));
            new
        } else {
            candidate
        };
        new["apiVersion"] = rt.api_version().into();
        new["kind"] = rt.kind.clone().into();
        if part == Part::Main && rt.status_subresource {
            set_field(&mut new, "status", old.get("status"));
        }
        let old_meta = old.get("metadata").cloned().unwrap_or_default();
        let meta = meta_mut(&mut new);
        let mut kept = vec!["name", "namespace", "resourceVersion", "generation"];
        if part != Part::Whole {
            kept.extend([
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ]);
        }
        for field in kept {
            set_field_in(meta, field, old_meta.get(field));
        }
        for field in ["uid", "creationTimestamp"] {
            if !meta.contains_key(field)
                && let Some(value) = old_meta.get(field)
            {
                meta.insert(field.into(), value.clone());
            }
        }
        if part == Part::Main && meta_str(&old, "deletionTimestamp").is_some() {
            let before = finalizers(&old);
            if finalizers(&new).iter().any(|f| !before.contains(f)) {
                return Err(ApiError::invalid(
                    "Forbidden: no new finalizers can be added if the object is being deleted",
                ));
            }
        }
        if spec_part(&new) != spec_part(&old) {
            let generation = old_meta
                .get("generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            meta_mut(&mut new).insert("generation".into(), (generation + 1).into());
        }
        if new == old {
            return Ok(old);
        }
        if meta_str(&new, "deletionTimestamp").is_some() && finalizers(&new).is_empty() {
            return Ok(self.remove(rt, new));
        }
        Ok(self.commit(rt, new, old))
    }

    /// Stores a changed object under a new resourceVersion and emits MODIFIED.
    fn commit(&mut self, rt: &ResourceType, mut new: Value, old: Value) -> Value {
        let rv = self.next_rv();
        meta_mut(&mut new).insert("resourceVersion".into(), rv.to_string().into());
        let key = (namespace_of(&new).to_string(), name_of(&new).to_string());
        self.objects
            .entry(rt.key())
            .or_default()
            .insert(key, new.clone());
        self.record(rt.key(), ChangeType::Modified, new.clone(), Some(old));
        new
    }

    /// Removes an object under a new resourceVersion and emits DELETED, with the side effects of deleting a
    /// Namespace (its objects are deleted) or a CustomResourceDefinition (its kind is unregistered).
    fn remove(&mut self, rt: &ResourceType, mut obj: Value) -> Value {
        let rv = self.next_rv();
        meta_mut(&mut obj).insert("resourceVersion".into(), rv.to_string().into());
        let (ns, name) = (namespace_of(&obj).to_string(), name_of(&obj).to_string());
        if let Some(objects) = self.objects.get_mut(&rt.key()) {
            objects.remove(&(ns, name.clone()));
        }
        self.record(rt.key(), ChangeType::Deleted, obj.clone(), None);
        if rt.group.is_empty() && rt.plural == "namespaces" {
            let kinds: Vec<ResourceType> = self
                .registry
                .all()
                .filter(|t| t.namespaced)
                .cloned()
                .collect();
            for kind in kinds {
                let names: Vec<String> =
                    self.objects
                        .get(&kind.key())
                        .map_or_else(Vec::new, |objects| {
                            objects
                                .keys()
                                .filter(|(n, _)| *n == name)
                                .map(|(_, o)| o.clone())
                                .collect()
                        });
                for object in names {
                    // Already gone or finalizers pending: either way nothing more to do here.
                    let _ = self.delete(&kind, Some(&name), &object, &Value::Null);
                }
            }
        }
        if is_crd_key(&rt.key())
            && let Some(defined) = ResourceType::from_crd(&obj)
        {
            self.unregister(&defined.key());
        }
        obj
    }

    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    /// Appends a change to the history, trims it, broadcasts it, and registers kinds from CRD objects.
    fn record(
        &mut self,
        key: ResourceKey,
        change: ChangeType,
        object: Value,
        previous: Option<Value>,
    ) {
        if is_crd_key(&key)
            && change != ChangeType::Deleted
            && let Some(defined) = ResourceType::from_crd(&object)
        {
            self.registry.insert(defined);
        }
        if crate::events::is_events_k8s_io(&key) {
            // the core v1 view of the same Event (kubectl describe lists those); list-only
            let at = (
                namespace_of(&object).to_string(),
                name_of(&object).to_string(),
            );
            let core = self.objects.entry(crate::events::core_key()).or_default();
            if change == ChangeType::Deleted {
                core.remove(&at);
            } else {
                core.insert(at, crate::events::core_view(&object));
            }
        }
        let change = Arc::new(Change {
            rv: self.rv,
            key,
            change,
            object,
            previous,
        });
        self.history.push_back(Arc::clone(&change));
        while self.history.len() > self.history_limit {
            if let Some(dropped) = self.history.pop_front() {
                self.oldest_rv = dropped.rv;
            }
        }
        // No live watch is not an error.
        let _ = self.tx.send(Signal::Change(change));
    }
}

/// 409 when `candidate` names a resourceVersion other than the stored one.
fn check_resource_version(
    rt: &ResourceType,
    old: &Value,
    candidate: &Value,
) -> Result<(), ApiError> {
    match meta_str(candidate, "resourceVersion") {
        Some(rv) if !rv.is_empty() && Some(rv) != meta_str(old, "resourceVersion") => {
            Err(ApiError::conflict(&rt.resource_name(), name_of(old)))
        }
        _ => Ok(()),
    }
}

/// Sets a top-level field to a copy of `value`, or removes it when `value` is `None`.
fn set_field(obj: &mut Value, field: &str, value: Option<&Value>) {
    if let Some(map) = obj.as_object_mut() {
        set_field_in(map, field, value);
    }
}

fn set_field_in(map: &mut serde_json::Map<String, Value>, field: &str, value: Option<&Value>) {
    match value {
        Some(value) => map.insert(field.to_string(), value.clone()),
        None => map.remove(field),
    };
}
