//! `events.k8s.io/v1` and core `v1` Events are one resource in a real API server, served in two
//! shapes. Controllers (kube's `Recorder`) write the first; `kubectl describe` lists the second
//! (`fieldSelector=involvedObject.uid=...`). The stand-in keeps a core view of every
//! `events.k8s.io` Event, with the fields mapped as the API server maps them, so describe shows
//! them.

use serde_json::{Map, Value, json};

use crate::registry::ResourceKey;

/// Whether `key` is `events.k8s.io` events.
pub(crate) fn is_events_k8s_io(key: &ResourceKey) -> bool {
    key.group == "events.k8s.io" && key.plural == "events"
}

/// The core `v1` key of Events.
pub(crate) fn core_key() -> ResourceKey {
    ResourceKey {
        group: String::new(),
        plural: "events".into(),
    }
}

/// The core `v1` view of an `events.k8s.io/v1` Event.
pub(crate) fn core_view(ev: &Value) -> Value {
    let field = |name: &str| ev.get(name).cloned().unwrap_or(Value::Null);
    let time = ev
        .pointer("/series/lastObservedTime")
        .or_else(|| ev.get("deprecatedLastTimestamp"))
        .or_else(|| ev.get("eventTime"))
        .cloned()
        .unwrap_or(Value::Null);
    let first = ev
        .get("deprecatedFirstTimestamp")
        .or_else(|| ev.get("eventTime"))
        .cloned()
        .unwrap_or(Value::Null);
    let count = ev
        .pointer("/series/count")
        .or_else(|| ev.get("deprecatedCount"))
        .cloned()
        .unwrap_or(json!(1));
    let mut out = Map::new();
    out.insert("apiVersion".into(), json!("v1"));
    out.insert("kind".into(), json!("Event"));
    out.insert("metadata".into(), field("metadata"));
    out.insert("involvedObject".into(), field("regarding"));
    out.insert("related".into(), field("related"));
    out.insert("reason".into(), field("reason"));
    out.insert("message".into(), field("note"));
    out.insert("type".into(), field("type"));
    out.insert("action".into(), field("action"));
    out.insert("eventTime".into(), field("eventTime"));
    out.insert("firstTimestamp".into(), first);
    out.insert("lastTimestamp".into(), time);
    out.insert("count".into(), count);
    out.insert(
        "source".into(),
        json!({"component": field("reportingController"), "host": field("reportingInstance")}),
    );
    out.insert("reportingComponent".into(), field("reportingController"));
    out.insert("reportingInstance".into(), field("reportingInstance"));
    out.retain(|_, v| !v.is_null());
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_core_view_maps_the_fields() {
        let ev = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "x.1", "namespace": "ns"},
            "regarding": {"kind": "NautobotSync", "name": "ocp", "namespace": "ns", "uid": "u"},
            "reason": "Synced", "note": "101 objects", "type": "Normal", "action": "Sync",
            "eventTime": "2026-11-26T10:00:00.000000Z", "reportingController": "nbsync",
            "reportingInstance": "op-0", "series": {"count": 3, "lastObservedTime": "2026-11-26T10:05:00.000000Z"}
        });
        let core = core_view(&ev);
        assert_eq!(core["involvedObject"]["uid"], "u");
        assert_eq!(core["message"], "101 objects");
        assert_eq!(core["count"], 3);
        assert_eq!(core["lastTimestamp"], "2026-11-26T10:05:00.000000Z");
        assert_eq!(core["source"]["component"], "nbsync");
        assert_eq!(core["apiVersion"], "v1");
    }
}
