//! One writer per cluster name in one Nautobot. Two NautobotSyncs that write under the same
//! `clusterName` into the same Nautobot own the same objects (ownership is the cluster name):
//! with different filters each would delete what the other creates, every pass. The oldest
//! writing NautobotSync (by creation time, then namespace/name) holds the name; a younger one
//! is refused with `DuplicateClusterName` until it changes its name or the holder goes. A
//! NautobotSync that does not write (`dryRun` or `suspend`) holds nothing and is never
//! refused, but its `onDelete: Delete` cleanup is skipped while a writer holds the name, so
//! that deleting a preview never wipes the live sync's objects.

use kube::runtime::reflector::ObjectRef;

use crate::api::NautobotSync;

/// What a NautobotSync claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The Nautobot URL, normalised (case, trailing slashes).
    pub url: String,
    /// `spec.clusterName`.
    pub cluster: String,
    /// `metadata.creationTimestamp`; `None` sorts last.
    pub created: Option<jiff::Timestamp>,
    /// It writes to Nautobot (neither `dryRun` nor `suspend`).
    pub writes: bool,
}

impl Claim {
    /// The claim of `obj`.
    pub fn of(obj: &NautobotSync) -> Self {
        Claim {
            url: obj
                .spec
                .nautobot
                .url
                .trim()
                .trim_end_matches('/')
                .to_ascii_lowercase(),
            cluster: obj.spec.cluster_name.clone(),
            created: obj.metadata.creation_timestamp.as_ref().map(|t| t.0),
            writes: !(obj.spec.dry_run || obj.spec.suspend),
        }
    }

    fn same_target(&self, other: &Claim) -> bool {
        self.url == other.url && self.cluster == other.cluster
    }
}

type Key = ObjectRef<NautobotSync>;

/// Earlier creation first; `None` last; then namespace/name.
fn order(a: &(Key, Claim)) -> (bool, Option<jiff::Timestamp>, String) {
    (a.1.created.is_none(), a.1.created, a.0.to_string())
}

/// The writing NautobotSync that `me` must yield to: the oldest other writer of the same
/// target, when it is older than `me`. `None` when `me` holds the name (or does not write).
pub fn holder(me: &(Key, Claim), others: &[(Key, Claim)]) -> Option<Key> {
    if !me.1.writes {
        return None;
    }
    writers_of_target(me, others)
        .filter(|o| order(o) < order(me))
        .min_by_key(|o| order(o))
        .map(|o| o.0.clone())
}

/// Other writers of the same target (to wake when `me` takes or leaves the name, and to
/// protect from `me`'s cleanup).
pub fn rivals(me: &(Key, Claim), others: &[(Key, Claim)]) -> Vec<Key> {
    writers_of_target(me, others).map(|o| o.0.clone()).collect()
}

/// The other NautobotSyncs that write under `me`'s cluster name into `me`'s Nautobot.
fn writers_of_target<'a>(
    me: &'a (Key, Claim),
    others: &'a [(Key, Claim)],
) -> impl Iterator<Item = &'a (Key, Claim)> {
    others
        .iter()
        .filter(move |o| o.0 != me.0 && o.1.writes && o.1.same_target(&me.1))
}

/// The claims of the NautobotSyncs in `objs` that are not being deleted.
pub fn live<'a>(objs: impl IntoIterator<Item = &'a NautobotSync>) -> Vec<(Key, Claim)> {
    objs.into_iter()
        .filter(|o| o.metadata.deletion_timestamp.is_none())
        .map(|o| (ObjectRef::from_obj(o), Claim::of(o)))
        .collect()
}

/// The message of a refused duplicate.
pub fn refused_message(holder: &Key, claim: &Claim) -> String {
    format!(
        "NautobotSync {} already syncs clusterName {:?} into {}; two writers under one cluster name \
         would undo each other's changes. Give this one another clusterName, or set dryRun or suspend on it",
        describe(holder),
        claim.cluster,
        claim.url
    )
}

/// A short `namespace/name` for logs and Events.
pub fn describe(key: &Key) -> String {
    format!(
        "{}/{}",
        key.namespace.as_deref().unwrap_or_default(),
        key.name
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ns: &str, name: &str) -> Key {
        ObjectRef::new(name).within(ns)
    }

    fn claim(url: &str, cluster: &str, created: Option<&str>, writes: bool) -> Claim {
        Claim {
            url: url.into(),
            cluster: cluster.into(),
            created: created.map(|t| t.parse().unwrap()),
            writes,
        }
    }

    #[test]
    fn the_oldest_writer_holds_the_name() {
        let a = (
            key("team-a", "lab"),
            claim("https://nb", "ocp", Some("2026-01-01T00:00:00Z"), true),
        );
        let b = (
            key("team-b", "lab"),
            claim("https://nb", "ocp", Some("2026-02-01T00:00:00Z"), true),
        );
        let all = vec![a.clone(), b.clone()];
        assert_eq!(holder(&a, &all), None);
        assert_eq!(holder(&b, &all), Some(a.0.clone()));
        assert_eq!(rivals(&a, &all), vec![b.0.clone()]);
        // another cluster name, another Nautobot, a preview: no conflict
        for other in [
            claim("https://nb", "ocp-2", Some("2026-01-01T00:00:00Z"), true),
            claim("https://nb2", "ocp", Some("2026-01-01T00:00:00Z"), true),
            claim("https://nb", "ocp", Some("2026-01-01T00:00:00Z"), false),
        ] {
            let o = (key("x", "y"), other);
            assert_eq!(holder(&b, &[o.clone(), b.clone()]), None);
        }
        // a preview never yields (it writes nothing) but sees the writer as a rival
        let preview = (
            key("team-c", "preview"),
            claim("https://nb", "ocp", Some("2026-03-01T00:00:00Z"), false),
        );
        assert_eq!(holder(&preview, &all), None);
        assert_eq!(rivals(&preview, &all).len(), 2);
        // same creation time: namespace/name decides, the same way on every replica
        let c = (
            key("team-a", "lab2"),
            claim("https://nb", "ocp", Some("2026-01-01T00:00:00Z"), true),
        );
        let all = vec![a.clone(), c.clone()];
        assert_eq!(holder(&c, &all), Some(a.0.clone()));
        assert_eq!(holder(&a, &all), None);
    }
}
