//! Loading what a cluster owns in Nautobot, normalised like the desired records.
//!
//! Marker-carrying kinds are listed with the exact custom-field filter
//! `cf_k8s_cluster=<clusterName>` (pages of 1000, one request per page). Link objects carry no
//! marker: IP-to-interface assignments are listed by the ids of our IP addresses (in chunks)
//! and device-cluster assignments by our Cluster, and count as ours only when both ends are ours.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};
use uuid::Uuid;

use super::bootstrap::Resolver;
use super::client::NautobotApi;
use super::error::ApiError;
use crate::diff::{ObservedObject, Owner};
use crate::records::{CF_CLUSTER, Kind};

/// Ids per assignment query (keeps URLs well under common limits).
const ID_CHUNK: usize = 60;

/// Keys of a Nautobot object that are metadata, not fields.
const META: [&str; 11] = [
    "object_type",
    "display",
    "url",
    "natural_slug",
    "created",
    "last_updated",
    "notes_url",
    "custom_fields",
    "computed_fields",
    "relationships",
    "tags",
];

/// Normalises one Nautobot object (depth 0): related objects become their id string, choice
/// fields (`{"value", "label"}`) their value, tags their names.
pub fn normalize(
    kind: Kind,
    o: &Value,
    resolver: &Resolver,
    cluster: &str,
) -> Option<ObservedObject> {
    let id: Uuid = o.get("id")?.as_str()?.parse().ok()?;
    let mut fields = Map::new();
    for (k, v) in o.as_object()? {
        if META.contains(&k.as_str()) {
            continue;
        }
        fields.insert(k.clone(), flatten(v));
    }
    let tags: BTreeSet<String> = o
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| match t {
            Value::String(s) => resolver
                .tag_name(s)
                .map(String::from)
                .or_else(|| Some(s.clone())),
            Value::Object(m) => m
                .get("name")
                .and_then(Value::as_str)
                .map(String::from)
                .or_else(|| {
                    m.get("id")
                        .and_then(Value::as_str)
                        .and_then(|i| resolver.tag_name(i))
                        .map(String::from)
                }),
            _ => None,
        })
        .collect();
    let custom_fields = o
        .get("custom_fields")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let owner = if !kind.carries_marker() {
        Owner::Us
    } else {
        match custom_fields.get(CF_CLUSTER).and_then(Value::as_str) {
            Some(c) if c == cluster => Owner::Us,
            Some(c) if !c.is_empty() => Owner::OtherCluster(c.to_string()),
            _ => Owner::Unowned,
        }
    };
    let display = o
        .get("display")
        .or_else(|| o.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Some(ObservedObject {
        id,
        kind,
        display,
        fields,
        tags,
        custom_fields,
        owner,
    })
}

fn flatten(v: &Value) -> Value {
    match v {
        Value::Object(m) if m.contains_key("id") && m.contains_key("object_type") => {
            m.get("id").cloned().unwrap_or(Value::Null)
        }
        Value::Object(m) if m.len() == 2 && m.contains_key("value") && m.contains_key("label") => {
            m.get("value").cloned().unwrap_or(Value::Null)
        }
        other => other.clone(),
    }
}

/// Loads every object `cluster` owns.
pub async fn load_owned<A: NautobotApi>(
    api: &A,
    cluster: &str,
    resolver: &Resolver,
) -> Result<BTreeMap<Uuid, ObservedObject>, ApiError> {
    let mut out = BTreeMap::new();
    for kind in Kind::ALL.into_iter().filter(|k| k.carries_marker()) {
        for o in api
            .list(kind.endpoint(), &[("cf_k8s_cluster", cluster.to_string())])
            .await?
        {
            if let Some(obs) = normalize(kind, &o, resolver, cluster)
                && obs.owner == Owner::Us
            {
                out.insert(obs.id, obs);
            }
        }
    }
    let ours = |kind: Kind, id: Option<&Value>| {
        id.and_then(Value::as_str)
            .and_then(|s| s.parse::<Uuid>().ok())
            .and_then(|id| out.get(&id))
            .is_some_and(|o| o.kind == kind)
    };

    let ip_ids: Vec<String> = out
        .values()
        .filter(|o| o.kind == Kind::IpAddress)
        .map(|o| o.id.to_string())
        .collect();
    let mut links = Vec::new();
    for chunk in ip_ids.chunks(ID_CHUNK) {
        let q: Vec<(&str, String)> = chunk.iter().map(|id| ("ip_address", id.clone())).collect();
        for o in api.list(Kind::IpAddressToInterface.endpoint(), &q).await? {
            if let Some(obs) = normalize(Kind::IpAddressToInterface, &o, resolver, cluster) {
                let ip_ok = ours(Kind::IpAddress, obs.fields.get("ip_address"));
                let iface_ok = ours(Kind::VmInterface, obs.fields.get("vm_interface"))
                    || ours(Kind::DeviceInterface, obs.fields.get("interface"));
                if ip_ok && iface_ok {
                    links.push(obs);
                }
            }
        }
    }
    if let Some(cluster_obj) = out.values().find(|o| o.kind == Kind::Cluster) {
        let q = [("cluster", cluster_obj.id.to_string())];
        for o in api
            .list(Kind::DeviceClusterAssignment.endpoint(), &q)
            .await?
        {
            if let Some(obs) = normalize(Kind::DeviceClusterAssignment, &o, resolver, cluster)
                && ours(Kind::Device, obs.fields.get("device"))
            {
                links.push(obs);
            }
        }
    }
    for l in links {
        out.insert(l.id, l);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nautobot_objects_are_normalised() {
        let o = json!({
            "id": "bf653c3e-9246-48e6-9c31-8de64f06a03b", "object_type": "ipam.prefix", "display": "10.99.0.0/16",
            "prefix": "10.99.0.0/16", "type": {"value": "container", "label": "Container"},
            "status": {"id": "6c9da2de-71c8-4e11-b2d3-b3d7d47f9026", "object_type": "extras.status", "url": "http://x/"},
            "tenant": null, "extra_config": {"id": 1, "kind": "x"},
            "tags": [{"id": "11111111-2222-4333-8444-555555555555", "object_type": "extras.tag", "url": "u"}],
            "custom_fields": {"k8s_cluster": "ocp1"}
        });
        let mut resolver = Resolver::default();
        resolver_with_tag(
            &mut resolver,
            "11111111-2222-4333-8444-555555555555",
            "k8s-managed",
        );
        let n = normalize(Kind::Prefix, &o, &resolver, "ocp1").unwrap();
        assert_eq!(n.fields["type"], json!("container"));
        assert_eq!(
            n.fields["status"],
            json!("6c9da2de-71c8-4e11-b2d3-b3d7d47f9026")
        );
        assert_eq!(n.fields["tenant"], Value::Null);
        assert_eq!(
            n.fields["extra_config"],
            json!({"id": 1, "kind": "x"}),
            "free JSON is kept as it is"
        );
        assert!(!n.fields.contains_key("display"));
        assert!(n.tags.contains("k8s-managed"));
        assert_eq!(n.owner, Owner::Us);
        assert_eq!(
            normalize(Kind::Prefix, &o, &resolver, "ocp2")
                .unwrap()
                .owner,
            Owner::OtherCluster("ocp1".into())
        );
    }

    fn resolver_with_tag(r: &mut Resolver, id: &str, name: &str) {
        r.insert_tag(id.parse().unwrap(), name);
    }
}
