//! Resolving symbolic references: our records by id, prerequisites by name through the ids
//! bootstrap learnt ([`Resolver`]).

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use uuid::Uuid;

use crate::model::{Kind, PrereqKind, Ref};

/// Turns a symbolic reference into the JSON Nautobot expects (usually the UUID string).
pub trait Resolve {
    /// The JSON value for `reference`, used by a record of `kind`; an error message when the
    /// referenced object does not exist.
    fn resolve(&self, reference: &Ref, kind: Kind) -> Result<Value, String>;
}

/// Names to ids of everything the records reference, plus tag ids to names for reading
/// objects back. Built by the Nautobot layer's bootstrap.
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    ids: HashMap<(PrereqKind, String), Uuid>,
    tag_names: HashMap<Uuid, String>,
    /// Prerequisites created (or, in a dry run, that would be created), as `kind "name"`.
    pub created: Vec<String>,
    /// Whether the custom field that marks ownership exists (a dry run on a fresh Nautobot).
    pub ownership_field_exists: bool,
    /// Whether the console custom links were ensured.
    pub console_links: bool,
    /// Prerequisites that exist but may not be referenced by records of a kind (a Location
    /// whose type does not allow clusters): the reference is left empty.
    refused: HashSet<(PrereqKind, String, Kind)>,
}

impl Resolver {
    /// The name of a tag id.
    pub fn tag_name(&self, id: &str) -> Option<&str> {
        id.parse()
            .ok()
            .and_then(|id| self.tag_names.get(&id))
            .map(String::as_str)
    }
    /// Whether a tag of this name exists.
    pub fn knows_tag(&self, name: &str) -> bool {
        self.tag_names.values().any(|n| n == name)
    }
    /// Records a prerequisite's id.
    pub fn insert(&mut self, kind: PrereqKind, name: &str, id: Uuid) {
        self.ids.insert((kind, name.to_string()), id);
    }
    /// A prerequisite's id.
    pub fn id(&self, kind: PrereqKind, name: &str) -> Option<Uuid> {
        self.ids.get(&(kind, name.to_string())).copied()
    }
    /// Says that records of `kind` may not reference this prerequisite: their reference is
    /// written empty.
    pub fn refuse(&mut self, prereq: PrereqKind, name: &str, kind: Kind) {
        self.refused.insert((prereq, name.to_string(), kind));
    }
    /// Records a tag's id and name.
    pub fn insert_tag(&mut self, id: Uuid, name: &str) {
        self.tag_names.insert(id, name.to_string());
    }
    /// The id of a status (for tests and reports).
    pub fn status_id(&self, name: &str) -> Option<Uuid> {
        self.ids
            .get(&(PrereqKind::Status, name.to_string()))
            .copied()
    }
}

impl Resolve for Resolver {
    fn resolve(&self, r: &Ref, kind: Kind) -> Result<Value, String> {
        match PrereqKind::of(r) {
            Some((k, name)) if self.refused.contains(&(k, name.to_string(), kind)) => {
                Ok(Value::Null)
            }
            None => match r {
                Ref::Record(id) => Ok(Value::String(id.to_string())),
                _ => unreachable!("only records have no prerequisite kind"),
            },
            Some((k, name)) => self
                .ids
                .get(&(k, name.to_string()))
                .map(|id| Value::String(id.to_string()))
                .ok_or_else(|| format!("{} {name:?} does not exist in Nautobot", k.label())),
        }
    }
}
