//! Mutation fuzzing of the projection (issue #7): the sample snapshot, with random fields of
//! random objects removed or replaced by values of the wrong type, odd strings (unicode,
//! control characters, 300 characters), malformed quantities, huge lists and colliding names,
//! is loaded and projected thousands of times. No case may panic, and every projection must
//! hold what Nautobot needs: names within its limits, no control characters, references only
//! to records that exist, IP addresses that parse. Deterministic (a fixed-seed xorshift), so a
//! failure names the iteration that reproduces it. `NBSYNC_FUZZ_ITERATIONS=20000
//! NBSYNC_FUZZ_SEED=7 cargo test --release --lib fuzz` runs a longer campaign.

use serde_json::{Value, json};

use super::Projector;
use super::testing::{SAMPLE, config};
use crate::cluster::ClusterIndex;
use crate::model::names::{NAME_MAX, TAG_MAX};
use crate::model::{Field, Ref};

/// xorshift64*: small, deterministic, good enough to pick mutations.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The random source and the number of cases of a fuzz test: the defaults, or
/// `NBSYNC_FUZZ_SEED` and `NBSYNC_FUZZ_ITERATIONS` for longer campaigns or other seeds.
pub(crate) fn campaign(seed: u64, iterations: usize) -> (Rng, usize) {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let seed = env("NBSYNC_FUZZ_SEED").unwrap_or(seed).max(1);
    let n = env("NBSYNC_FUZZ_ITERATIONS").map_or(iterations, |n| n as usize);
    (Rng(seed), n)
}

/// Values that have broken parsers of Kubernetes objects before: wrong types, odd strings,
/// quantities of every form and malformed ones, addresses of every kind.
pub(crate) fn odd_value(rng: &mut Rng) -> Value {
    const STRINGS: &[&str] = &[
        "",
        " ",
        "名前 with spaces",
        "tab\tnew\nline\u{0}nul",
        "ünïcødé-ñame",
        "-1",
        "0",
        "1.5Gi",
        "100m",
        "1e3",
        "0.5",
        "1Ei",
        "999999999999999Ti",
        "12Mi34",
        "Gi",
        "+5",
        "NaN",
        "fe80::1",
        "2001:db8::10",
        "10.128.0.1/23",
        "999.1.1.1",
        "::",
        "0.0.0.0",
        "Running",
        "Unknown",
        "SomeFuturePhase",
        "kubevirt.io/v1",
        "a/b/c",
        "${jndi:x}",
        "<script>",
    ];
    match rng.below(12) {
        0 => Value::Null,
        1 => json!(-1),
        2 => json!(u64::MAX),
        3 => json!(1.5e300),
        4 => json!(true),
        5 => json!({}),
        6 => json!([]),
        7 => json!("x".repeat(300)),
        8 => json!(format!("{}-{}", "é".repeat(150), rng.below(3))),
        9 => json!([{"name": "default"}, null, 7, "s"]),
        _ => json!(STRINGS[rng.below(STRINGS.len())]),
    }
}

/// The JSON paths of every value in `v` (object keys and array indexes).
fn paths(v: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                prefix.push(Step::Key(k.clone()));
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                prefix.push(Step::Index(i));
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

/// The parent of `path` and the last step.
fn parent<'a>(v: &'a mut Value, path: &[Step]) -> Option<(&'a mut Value, Step)> {
    let (last, init) = path.split_last()?;
    let mut cur = v;
    for s in init {
        cur = match s {
            Step::Key(k) => cur.get_mut(k.as_str())?,
            Step::Index(i) => cur.get_mut(*i)?,
        };
    }
    Some((cur, last.clone()))
}

/// One random change to one random item of `items`.
fn mutate(items: &mut Vec<Value>, rng: &mut Rng) {
    let i = rng.below(items.len());
    match rng.below(10) {
        // another object with the same kind and name (a collision), or the same object twice
        0 => {
            let mut copy = items[i].clone();
            let other = items[rng.below(items.len())]["metadata"]["name"].clone();
            if rng.below(2) == 0
                && let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut)
            {
                meta.insert("name".into(), other);
            }
            items.push(copy);
        }
        // a list grows to dozens of entries (guest NICs, addresses, containers, ports...)
        1 => {
            let mut all = Vec::new();
            paths(&items[i], &mut Vec::new(), &mut all);
            let arrays: Vec<_> = all
                .into_iter()
                .filter(|p| {
                    parent(&mut items[i].clone(), p).is_some_and(|(par, last)| {
                        matches!(
                            (par, last),
                            (Value::Object(m), Step::Key(k)) if m.get(&k).is_some_and(Value::is_array)
                        )
                    })
                })
                .collect();
            if let Some(p) = arrays.get(rng.below(arrays.len())).cloned()
                && let Some((Value::Object(m), Step::Key(k))) = parent(&mut items[i], &p)
                && let Some(Value::Array(a)) = m.get_mut(&k)
                && let Some(first) = a.first().cloned()
            {
                for n in 0..40 {
                    let mut e = first.clone();
                    if let Some(o) = e.as_object_mut() {
                        for key in ["name", "ipAddress", "mac", "interfaceName"] {
                            if o.contains_key(key) {
                                o.insert(key.into(), json!(format!("x{n}-{key}")));
                            }
                        }
                    }
                    a.push(e);
                }
            }
        }
        // a field removed, or given an odd value
        _ => {
            let mut all = Vec::new();
            paths(&items[i], &mut Vec::new(), &mut all);
            // apiVersion and kind decide the parser: keep them, so the mutation reaches it
            all.retain(
                |p| !matches!(p.as_slice(), [Step::Key(k)] if k == "apiVersion" || k == "kind"),
            );
            let Some(p) = all.get(rng.below(all.len())).cloned() else {
                return;
            };
            let remove = rng.below(3) == 0;
            let value = odd_value(rng);
            if let Some((par, last)) = parent(&mut items[i], &p) {
                match (par, last) {
                    (Value::Object(m), Step::Key(k)) if remove => {
                        m.remove(&k);
                    }
                    (Value::Object(m), Step::Key(k)) => {
                        m.insert(k, value);
                    }
                    (Value::Array(a), Step::Index(n)) if remove => {
                        a.remove(n);
                    }
                    (Value::Array(a), Step::Index(n)) => a[n] = value,
                    _ => {}
                }
            }
        }
    }
}

/// `address/length` with a length that fits the address family.
fn is_cidr(s: &str) -> bool {
    let Some((addr, len)) = s.split_once('/') else {
        return false;
    };
    match (addr.parse::<std::net::IpAddr>(), len.parse::<u8>()) {
        (Ok(std::net::IpAddr::V4(_)), Ok(l)) => l <= 32,
        (Ok(std::net::IpAddr::V6(_)), Ok(l)) => l <= 128,
        _ => false,
    }
}

/// A Nautobot name: not empty, within `max` characters, no control characters.
fn fits(s: &str, max: usize, what: &str, case: &str) {
    assert!(
        !s.is_empty() && s.chars().count() <= max,
        "{case}: {what} {s:?} is empty or longer than {max}"
    );
    assert!(
        !s.chars().any(char::is_control),
        "{case}: {what} {s:?} has control characters"
    );
}

/// What every projection must satisfy, whatever the input.
fn check(index: &ClusterIndex, spec: &Value, case: &str) {
    let cfg = config(spec.clone());
    let p = Projector::new(&cfg, index).project_all();
    for r in p.records.values() {
        let case = &format!("{case}, {} from {}", r.kind, r.source);
        for t in &r.tags {
            fits(t, TAG_MAX, "tag", case);
        }
        for (key, f) in r.fields.iter().chain(&r.on_create) {
            match f {
                Field::Ref(Ref::SoftwareVersion(n)) => {
                    // platform<TAB>version: each a Nautobot name
                    let (platform, version) = n.split_once('\t').unwrap_or_else(|| {
                        panic!("{case}: software version {n:?} without its platform")
                    });
                    fits(platform, 100, key, case);
                    fits(version, NAME_MAX, key, case);
                }
                Field::Ref(Ref::Record(id)) => assert!(
                    p.records.contains_key(id),
                    "{case}: {} {} refers ({key}) to a record that is not projected",
                    r.kind,
                    r.name
                ),
                Field::Ref(other) => fits(other.name().unwrap_or_default(), NAME_MAX, key, case),
                Field::Json(Value::String(s)) if matches!(*key, "name" | "dns_name") => {
                    fits(s, NAME_MAX, key, case)
                }
                Field::Json(Value::String(s)) if matches!(*key, "address" | "prefix") => assert!(
                    is_cidr(s),
                    "{case}: {} {} has {key} {s:?}, not an address with a prefix length",
                    r.kind,
                    r.name
                ),
                Field::Json(Value::Number(n)) => assert!(
                    n.as_i64().is_none_or(|v| v >= 0) && n.as_f64().is_some_and(f64::is_finite),
                    "{case}: {} {} has {key} = {n}",
                    r.kind,
                    r.name
                ),
                _ => {}
            }
        }
        serde_json::to_value(r).unwrap_or_else(|e| panic!("{case}: {e}"));
    }
}

#[test]
fn mutated_cluster_objects_never_panic_and_project_valid_records() {
    let sample: Value = serde_json::from_str(SAMPLE).unwrap();
    let specs = [
        json!({}),
        json!({"sync": {"podIps": true}, "labels": {
            "toTags": ["app", "app.kubernetes.io/part-of"],
            "toCustomFields": [{"label": "app", "customField": "app_name"}]
        }}),
    ];
    let (mut rng, iterations) = campaign(0x9E37_79B9_7F4A_7C15, 600);
    let (mut warnings, mut mutations) = (0, 0);
    for it in 0..iterations {
        let mut items = sample["items"].as_array().unwrap().clone();
        for _ in 0..1 + rng.below(6) {
            mutate(&mut items, &mut rng);
            mutations += 1;
        }
        let list = json!({"kind": "List", "items": items});
        let (index, w) = ClusterIndex::from_list(&list).unwrap();
        warnings += w.len();
        check(&index, &specs[it % specs.len()], &format!("iteration {it}"));
    }
    // most mutations parse (an odd value in a field we do not read), some are refused with
    // a warning: both paths are exercised
    assert!(
        warnings > 0 && warnings < mutations,
        "{warnings} warnings for {mutations} mutations"
    );
}
