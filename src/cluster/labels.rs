//! Keys and labels as the index keeps them.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::intern::intern;

/// A namespaced object's key: (namespace, name).
pub type NsName = (String, String);

/// Labels as one sorted slice: a pod's few labels in one allocation instead of a B-tree node
/// (pods are most of the cache; docs/benchmarks.md).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels(Box<[(Arc<str>, Arc<str>)]>);

impl Labels {
    /// The value of a label.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| k.as_ref().cmp(key))
            .ok()
            .map(|i| self.0[i].1.as_ref())
    }

    /// Whether a Service selector selects these labels (an empty selector selects nothing).
    pub fn selected_by(&self, selector: &Labels) -> bool {
        !selector.is_empty() && selector.iter().all(|(k, v)| self.get(k) == Some(v))
    }

    /// (key, value) in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }

    /// The number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl serde::Serialize for Labels {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> serde::Deserialize<'de> for Labels {
    /// A map of strings; `null` is empty.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Option::<BTreeMap<String, String>>::deserialize(d)?
            .unwrap_or_default()
            .into())
    }
}

impl From<BTreeMap<String, String>> for Labels {
    fn from(map: BTreeMap<String, String>) -> Self {
        // a BTreeMap iterates in key order: the slice is sorted
        Labels(map.iter().map(|(k, v)| (intern(k), intern(v))).collect())
    }
}
