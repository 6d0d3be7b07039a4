//! Small accessors for `metadata` on objects held as `serde_json::Value`, and id generation.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};

/// A string field of `metadata`, if present.
pub(crate) fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

/// `metadata.name`, or the empty string.
pub(crate) fn name_of(obj: &Value) -> &str {
    meta_str(obj, "name").unwrap_or_default()
}

/// `metadata.namespace`, or the empty string for cluster-scoped objects.
pub(crate) fn namespace_of(obj: &Value) -> &str {
    meta_str(obj, "namespace").unwrap_or_default()
}

/// `metadata` as a mutable map, created (or replaced, if it is not an object) on demand.
///
/// `obj` must be a JSON object; callers check that first.
pub(crate) fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    let Some(map) = obj.as_object_mut() else {
        unreachable!("meta_mut is only called on JSON objects")
    };
    let meta = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    meta.as_object_mut()
        .expect("metadata was just made an object")
}

/// `metadata.finalizers` as strings.
pub(crate) fn finalizers(obj: &Value) -> Vec<&str> {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The object without `metadata` and `status`: what a `metadata.generation` bump is decided on.
pub(crate) fn spec_part(obj: &Value) -> Map<String, Value> {
    let mut map = obj.as_object().cloned().unwrap_or_default();
    for field in ["metadata", "status", "kind", "apiVersion"] {
        map.remove(field);
    }
    map
}

/// A 64-bit value that differs on every call (SipHash of a counter under a random key).
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A random version-4 UUID string.
pub(crate) fn new_uid() -> String {
    let (a, b) = (random_u64(), random_u64());
    let c = (b & 0x0fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        c >> 48,
        c & 0xffff_ffff_ffff
    )
}

/// Five random characters from the alphabet Kubernetes uses for `generateName` suffixes.
pub(crate) fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut n = random_u64();
    (0..5)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u64) as usize];
            n /= ALPHABET.len() as u64;
            char::from(c)
        })
        .collect()
}
