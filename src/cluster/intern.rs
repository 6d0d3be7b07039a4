//! Shared copies of strings that repeat across the cache: label keys and values, namespace and
//! node names. Fifty thousand pods carry a few dozen distinct label keys and not many more
//! values; keeping one copy of each saves about a third of a pod's size
//! (docs/benchmarks.md, figure 6).
//!
//! Strings no object uses any more are dropped when the table has doubled since it was last
//! pruned, so label values that come and go (a Deployment's `pod-template-hash` on each
//! rollout) do not pile up.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock, Mutex};

struct Table {
    strings: HashSet<Arc<str>>,
    prune_at: usize,
}

const MIN_PRUNE_AT: usize = 4096;

static TABLE: LazyLock<Mutex<Table>> = LazyLock::new(|| {
    Mutex::new(Table {
        strings: HashSet::new(),
        prune_at: MIN_PRUNE_AT,
    })
});

/// The shared copy of `s`.
pub fn intern(s: &str) -> Arc<str> {
    let mut t = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(shared) = t.strings.get(s) {
        return shared.clone();
    }
    let shared: Arc<str> = Arc::from(s);
    t.strings.insert(shared.clone());
    if t.strings.len() >= t.prune_at {
        // only the table holds these
        t.strings.retain(|s| Arc::strong_count(s) > 1);
        t.prune_at = (t.strings.len() * 2).max(MIN_PRUNE_AT);
    }
    shared
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_share_one_copy_and_unused_ones_are_pruned() {
        let a = intern("app.kubernetes.io/name");
        let b = intern(&String::from("app.kubernetes.io/name"));
        assert!(Arc::ptr_eq(&a, &b));
        // fill the table past a prune: strings nobody holds go, held ones stay
        for i in 0..2 * MIN_PRUNE_AT {
            intern(&format!("intern-test-{i}"));
        }
        let len = TABLE.lock().unwrap().strings.len();
        assert!(len < 2 * MIN_PRUNE_AT, "{len}");
        assert!(Arc::ptr_eq(&a, &intern("app.kubernetes.io/name")));
    }
}
