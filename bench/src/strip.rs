//! What the operator's watch cache keeps of each object, on JSON values: a copy of the
//! `Cached::strip` implementations in `src/controller/cluster.rs` (private there). Used by
//! `project --strip` to size the index as the running operator holds it; `cache` measures the
//! real operator.

use serde_json::{Map, Value, json};

/// Annotations the projection reads (`KEPT_ANNOTATIONS` in `src/controller/cluster.rs`).
const KEPT_ANNOTATIONS: [&str; 6] = [
    "openshift.io/display-name",
    "openshift.io/description",
    "openshift.io/requester",
    "kubevirt.io/domain",
    "vm.kubevirt.io/os",
    "kubevirt.io/cluster-instancetype-name",
];

fn strip_meta(meta: &mut Value) {
    let Some(m) = meta.as_object_mut() else {
        return;
    };
    m.remove("managedFields");
    if let Some(Value::Object(a)) = m.get_mut("annotations") {
        a.retain(|k, _| KEPT_ANNOTATIONS.contains(&k.as_str()));
    }
}

fn keep(v: &Value, fields: &[&str]) -> Value {
    let mut out = Map::new();
    for f in fields {
        if let Some(x) = v.get(*f) {
            out.insert((*f).to_string(), x.clone());
        }
    }
    Value::Object(out)
}

/// Strips one object as the operator's cache does.
pub fn strip(v: &mut Value) {
    strip_meta(&mut v["metadata"]);
    match (
        v["apiVersion"].as_str().unwrap_or(""),
        v["kind"].as_str().unwrap_or(""),
    ) {
        ("v1", "Node") => {
            if let Some(s) = v.get_mut("status").and_then(Value::as_object_mut) {
                for f in [
                    "images",
                    "volumesAttached",
                    "volumesInUse",
                    "capacity",
                    "allocatable",
                    "daemonEndpoints",
                    "config",
                ] {
                    s.remove(f);
                }
            }
            if let Some(s) = v.get_mut("spec").and_then(Value::as_object_mut) {
                s.remove("taints");
            }
        }
        ("v1", "Pod") => {
            if v.get("spec").is_some() {
                v["spec"] = keep(&v["spec"], &["nodeName", "hostNetwork"]);
            }
            if v.get("status").is_some() {
                v["status"] = keep(&v["status"], &["phase", "podIP", "podIPs"]);
            }
        }
        ("apps/v1", "Deployment") => {
            if let Some(t) = v.pointer_mut("/spec/template") {
                if t.get("metadata").is_none() {
                    t["metadata"] = json!({});
                }
                strip_meta(&mut t["metadata"]);
                if let Some(cs) = t.pointer("/spec/containers").and_then(Value::as_array) {
                    let cs: Vec<Value> = cs.iter().map(|c| keep(c, &["name", "image"])).collect();
                    t["spec"] = json!({"containers": cs});
                }
            }
            if let Some(s) = v.get_mut("status").and_then(Value::as_object_mut) {
                s.remove("conditions");
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_keep_only_what_the_projection_reads() {
        let mut p = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "managedFields": [{}], "annotations": {"kubevirt.io/domain": "d", "x": "y"}},
            "spec": {"nodeName": "n", "containers": [{"name": "c", "env": [{"name": "S", "value": "secret"}]}]},
            "status": {"phase": "Running", "podIP": "10.0.0.1", "conditions": []}});
        strip(&mut p);
        assert_eq!(
            p["metadata"],
            json!({"name": "p", "annotations": {"kubevirt.io/domain": "d"}})
        );
        assert_eq!(p["spec"], json!({"nodeName": "n"}));
        assert_eq!(
            p["status"],
            json!({"phase": "Running", "podIP": "10.0.0.1"})
        );
    }
}
