//! What an apply did, as status, events and metrics read it: per kind how many objects were
//! created, updated, deleted or refused, and each refused object with Nautobot's reason.

use std::collections::BTreeMap;

use serde::Serialize;
use uuid::Uuid;

use super::diff::Op;
use crate::model::Kind;

/// What happened to one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KindReport {
    /// Objects created.
    pub created: usize,
    /// Objects updated.
    pub updated: usize,
    /// Objects deleted.
    pub deleted: usize,
    /// Objects that failed.
    pub failed: usize,
}

/// One object that could not be written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// Object id.
    pub id: Uuid,
    /// Kind.
    pub kind: Kind,
    /// Display name.
    pub name: String,
    /// `create`, `update` or `delete`.
    pub action: &'static str,
    /// Nautobot's message.
    pub message: String,
    /// Whether it failed because another object (not ours) already has its name: a conflict
    /// to resolve in Nautobot, not an error of ours.
    pub conflict: bool,
}

/// The outcome of applying a plan.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport<E> {
    /// Per kind.
    pub kinds: BTreeMap<Kind, KindReport>,
    /// Objects that failed, with Nautobot's reason.
    pub failures: Vec<Failure>,
    /// Why the pass stopped early, if it did.
    #[serde(skip)]
    pub aborted: Option<E>,
}

impl<E> Default for ApplyReport<E> {
    fn default() -> Self {
        ApplyReport {
            kinds: BTreeMap::new(),
            failures: Vec::new(),
            aborted: None,
        }
    }
}

impl<E> ApplyReport<E> {
    /// Total writes that succeeded.
    pub fn written(&self) -> usize {
        self.kinds
            .values()
            .map(|k| k.created + k.updated + k.deleted)
            .sum()
    }
    /// Counts `n` objects of `kind` written by `action`.
    pub fn ok(&mut self, kind: Kind, action: Action, n: usize) {
        let k = self.kinds.entry(kind).or_default();
        match action {
            Action::Create => k.created += n,
            Action::Update => k.updated += n,
            Action::Delete => k.deleted += n,
        }
    }
    /// Records an object Nautobot refused (`conflict`: its name is taken by an object that is
    /// not ours).
    pub fn fail(&mut self, op: &Op, action: Action, message: String, conflict: bool) {
        self.kinds.entry(op.kind).or_default().failed += 1;
        self.failures.push(Failure {
            id: op.id,
            kind: op.kind,
            name: op.name.clone(),
            action: action.as_str(),
            message,
            conflict,
        });
    }
}

/// A write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// POST.
    Create,
    /// PATCH.
    Update,
    /// DELETE.
    Delete,
}

impl Action {
    /// `create`, `update` or `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}
