//! The desired state kept up to date root by root.
//!
//! The controller re-projects only the roots a watch event touched. Several roots can produce
//! the same record (every node behind one /24 wants that prefix; an address reported by two
//! objects), so each record remembers which roots produce it: it stays desired while any root
//! does, and the version of the first root (in `Root` order) wins. `update_root` returns the
//! record ids whose desired state may have changed: exactly the ids an incremental diff must
//! look at.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use uuid::Uuid;

use crate::model::{Kind, Record};
use crate::project::{Projection, Root, RootProjection, Warning};

#[derive(Debug, Default, Clone)]
struct RootEntry {
    ids: Vec<Uuid>,
    ips_unknown: Vec<Uuid>,
    warnings: Vec<Warning>,
}

/// The roots producing one record, each with its version. Almost every record has exactly one
/// producer, so that case is kept inline: a one-entry `BTreeMap` would allocate a whole B-tree
/// leaf (about 2 KB per record, 80 MiB for the 40,000 records of a large cluster).
#[derive(Debug, Clone)]
enum Producers {
    One(Root, Record),
    Many(BTreeMap<Root, Record>),
}

impl Producers {
    /// The winning version: the first root's, in `Root` order.
    fn first(&self) -> Option<&Record> {
        match self {
            Producers::One(_, r) => Some(r),
            Producers::Many(m) => m.values().next(),
        }
    }

    fn insert(&mut self, root: Root, record: Record) {
        match self {
            Producers::One(r0, rec0) if *r0 == root => *rec0 = record,
            Producers::Many(m) => {
                m.insert(root, record);
            }
            Producers::One(..) => {
                let first =
                    std::mem::replace(self, Producers::Many(BTreeMap::from([(root, record)])));
                if let (Producers::One(r0, rec0), Producers::Many(m)) = (first, self) {
                    m.insert(r0, rec0);
                }
            }
        }
    }

    /// Removes `root`; returns whether no producer is left.
    fn remove(&mut self, root: &Root) -> bool {
        match self {
            Producers::One(r0, _) => r0 == root,
            Producers::Many(m) => {
                m.remove(root);
                m.is_empty()
            }
        }
    }
}

/// Desired records by root, with producers per record.
#[derive(Debug, Default, Clone)]
pub struct DesiredState {
    roots: HashMap<Root, RootEntry>,
    records: HashMap<Uuid, Producers>,
    ips_unknown: HashMap<Uuid, usize>,
}

impl DesiredState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces what `root` produces; returns the ids whose desired state may have changed.
    pub fn update_root(&mut self, root: Root, out: RootProjection) -> BTreeSet<Uuid> {
        let mut touched = BTreeSet::new();
        if let Some(old) = self.roots.remove(&root) {
            for id in old.ids {
                touched.insert(id);
                if let Some(producers) = self.records.get_mut(&id)
                    && producers.remove(&root)
                {
                    self.records.remove(&id);
                }
            }
            for id in old.ips_unknown {
                touched.insert(id);
                if let Some(n) = self.ips_unknown.get_mut(&id) {
                    *n -= 1;
                    if *n == 0 {
                        self.ips_unknown.remove(&id);
                    }
                }
            }
        }
        if out.records.is_empty() && out.ips_unknown.is_empty() && out.warnings.is_empty() {
            return touched;
        }
        let mut entry = RootEntry {
            ids: Vec::with_capacity(out.records.len()),
            ips_unknown: out.ips_unknown,
            warnings: out.warnings,
        };
        for r in out.records {
            touched.insert(r.id);
            entry.ids.push(r.id);
            match self.records.get_mut(&r.id) {
                Some(producers) => producers.insert(root.clone(), r),
                None => {
                    self.records.insert(r.id, Producers::One(root.clone(), r));
                }
            }
        }
        for id in &entry.ips_unknown {
            touched.insert(*id);
            *self.ips_unknown.entry(*id).or_default() += 1;
        }
        self.roots.insert(root, entry);
        touched
    }

    /// The desired record of an id.
    pub fn get(&self, id: &Uuid) -> Option<&Record> {
        self.records.get(id).and_then(Producers::first)
    }

    /// Number of desired records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether nothing is desired.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The roots currently producing something.
    pub fn roots(&self) -> impl Iterator<Item = &Root> {
        self.roots.keys()
    }

    /// The desired records among `ids` (an id no longer desired is absent) and which of them
    /// have unknown IPs: the input of an incremental diff.
    pub fn subset(&self, ids: &BTreeSet<Uuid>) -> (BTreeMap<Uuid, Record>, BTreeSet<Uuid>) {
        let records = ids
            .iter()
            .filter_map(|id| self.get(id).map(|r| (*id, r.clone())))
            .collect();
        let unknown = ids
            .iter()
            .filter(|id| self.ips_unknown.contains_key(id))
            .copied()
            .collect();
        (records, unknown)
    }

    /// The warnings of every root, and of every address two hosts share, sorted, without
    /// duplicates.
    pub fn warnings(&self) -> Vec<Warning> {
        let shared = self.records.values().filter_map(|p| match p {
            Producers::Many(m) => {
                let ip = m.values().next().filter(|r| r.kind == Kind::IpAddress)?;
                crate::project::shared_address(
                    ip,
                    m.iter().map(|(root, r)| (root, r.source.as_str())),
                )
            }
            Producers::One(..) => None,
        });
        let mut w: Vec<Warning> = self
            .roots
            .values()
            .flat_map(|e| e.warnings.iter().cloned())
            .chain(shared)
            .collect();
        w.sort();
        w.dedup();
        w
    }

    /// Every record, borrowed (for full passes: the diff and the bootstrap read them where
    /// they are; a copy would be 80 MiB at L).
    pub fn records(&self) -> BTreeMap<Uuid, &Record> {
        self.records
            .iter()
            .filter_map(|(id, prods)| Some((*id, prods.first()?)))
            .collect()
    }

    /// VMs whose IP addresses are unknown (their assignments are kept).
    pub fn ips_unknown(&self) -> BTreeSet<Uuid> {
        self.ips_unknown.keys().copied().collect()
    }

    /// Everything, as one projection (a copy).
    pub fn to_projection(&self) -> Projection {
        Projection {
            records: self
                .records
                .iter()
                .filter_map(|(id, prods)| Some((*id, prods.first()?.clone())))
                .collect(),
            warnings: self.warnings(),
            ips_unknown: self.ips_unknown.keys().copied().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::Projector;
    use crate::project::testing::{config, sample};
    use serde_json::json;

    #[test]
    fn addresses_two_hosts_share_are_warned_about_root_by_root_too() {
        let cfg = config(json!({"placement": {"isolatedNetworks": "Shared"}}));
        let idx = crate::project::testing::index(crate::project::testing::isolated_networks());
        let projector = Projector::new(&cfg, &idx);
        let mut state = DesiredState::new();
        for root in projector.roots() {
            state.update_root(root.clone(), projector.project_root(&root));
        }
        let full = projector.project_all();
        assert_eq!(state.warnings(), full.warnings);
        let shared = |s: &DesiredState| {
            s.warnings()
                .iter()
                .filter(|w| w.message.contains("also reported"))
                .count()
        };
        assert_eq!(shared(&state), 2);
        // one VM gone: nobody shares that address any more
        state.update_root(
            Root::VirtualMachine(("green".into(), "web".into())),
            Default::default(),
        );
        assert_eq!(shared(&state), 1);
    }

    #[test]
    fn built_root_by_root_it_equals_the_full_projection() {
        let cfg = config(json!({"sync": {"podIps": true}}));
        let idx = sample();
        let projector = Projector::new(&cfg, &idx);
        let mut state = DesiredState::new();
        for root in projector.roots() {
            state.update_root(root.clone(), projector.project_root(&root));
        }
        let full = projector.project_all();
        let inc = state.to_projection();
        assert_eq!(
            inc.records.keys().collect::<Vec<_>>(),
            full.records.keys().collect::<Vec<_>>()
        );
        assert_eq!(inc.ips_unknown, full.ips_unknown);
        for (id, r) in &full.records {
            assert_eq!(inc.records[id].fields, r.fields, "{}", r.name);
        }
    }

    #[test]
    fn a_shared_record_stays_while_any_root_produces_it() {
        let cfg = config(json!({}));
        let idx = sample();
        let projector = Projector::new(&cfg, &idx);
        let mut state = DesiredState::new();
        for root in projector.roots() {
            state.update_root(root.clone(), projector.project_root(&root));
        }
        let prefix =
            crate::model::record_id("ocp-lab", crate::model::Kind::Prefix, "ocp-lab/10.0.1.0/24");
        assert!(state.get(&prefix).is_some());
        // one node goes: the node /24 is still wanted by the others
        let touched = state.update_root(
            Root::Node("ocp-lab-master-0".into()),
            RootProjection::default(),
        );
        assert!(touched.contains(&prefix));
        assert!(state.get(&prefix).is_some());
        let (subset, _) = state.subset(&touched);
        assert!(subset.contains_key(&prefix), "still desired");
        let device =
            crate::model::record_id("ocp-lab", crate::model::Kind::Device, "ocp-lab-master-0");
        assert!(
            touched.contains(&device) && !subset.contains_key(&device),
            "the device is gone"
        );
        // all nodes go: the prefix goes too
        for n in [
            "ocp-lab-master-1",
            "ocp-lab-master-2",
            "ocp-lab-worker-0",
            "ocp-lab-worker-1",
            "ocp-lab-worker-2",
        ] {
            state.update_root(Root::Node(n.into()), RootProjection::default());
        }
        assert!(state.get(&prefix).is_none());
    }

    #[test]
    fn unknown_ips_are_counted_per_root() {
        let cfg = config(json!({}));
        let idx = sample();
        let projector = Projector::new(&cfg, &idx);
        let mut state = DesiredState::new();
        let root = Root::VirtualMachine(("data-platform".into(), "centos-build-01".into()));
        let out = projector.project_root(&root);
        let vm = out.ips_unknown[0];
        state.update_root(root.clone(), out);
        assert!(state.subset(&BTreeSet::from([vm])).1.contains(&vm));
        state.update_root(root, RootProjection::default());
        assert!(state.subset(&BTreeSet::from([vm])).1.is_empty());
        assert!(state.is_empty());
    }
}
