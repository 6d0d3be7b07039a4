//! Loading what a cluster owns in Nautobot, normalised like the desired records.
//!
//! Marker-carrying kinds are listed with the exact custom-field filter
//! `cf_k8s_cluster=<clusterName>` (pages of 1000, one request per page). Link objects carry no
//! marker: IP-to-interface assignments are listed by the ids of our IP addresses (in chunks)
//! and device-cluster assignments by our Cluster, and count as ours only when both ends are ours.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::client::NautobotApi;
use super::error::ApiError;
use crate::model::{CF_CLUSTER, Kind};
use crate::plan::Resolver;
use crate::plan::{ObservedObject, Owner};

/// Ids per assignment query (keeps URLs well under common limits).
const ID_CHUNK: usize = 60;
/// Lists started at once; the client's pace (`super::pace`) decides how many are in flight.
const READS_AT_ONCE: usize = 4;

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
    // the kinds side by side (each one's pages in turn), as many at once as the client's pace
    // lets through: the reads of a full pass take the time of the longest kind, not the sum
    let filter = &[("cf_k8s_cluster", cluster.to_string())];
    let mut reads = Vec::new();
    for kind in Kind::ALL.into_iter().filter(|k| k.carries_marker()) {
        reads.push(async move { (kind, api.list(kind.endpoint(), filter).await) });
    }
    let mut lists = futures::stream::iter(reads).buffer_unordered(READS_AT_ONCE);
    while let Some((kind, listed)) = lists.next().await {
        for o in listed? {
            if let Some(obs) = normalize(kind, &o, resolver, cluster)
                && obs.owner == Owner::Us
            {
                out.insert(obs.id, obs);
            }
        }
    }
    drop(lists);
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
    // futures made up front (they run only when polled): a closure here would make the
    // future's Send-ness higher-ranked, which rustc cannot prove
    let mut reads = Vec::new();
    for chunk in ip_ids.chunks(ID_CHUNK) {
        reads.push(list_by_ids(
            api,
            Kind::IpAddressToInterface.endpoint(),
            "ip_address",
            chunk,
        ));
    }
    let mut chunks = futures::stream::iter(reads).buffer_unordered(READS_AT_ONCE);
    while let Some(listed) = chunks.next().await {
        for o in listed? {
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
    // Nautobot 2.4 keeps a device's cluster on the device itself (plan::dialect)
    if api.api_version().has_device_cluster_assignments()
        && let Some(cluster_obj) = out.values().find(|o| o.kind == Kind::Cluster)
    {
        let ids = [cluster_obj.id.to_string()];
        for o in list_by_ids(
            api,
            Kind::DeviceClusterAssignment.endpoint(),
            "cluster",
            &ids,
        )
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

/// Lists objects filtered by a set of related ids. Nautobot refuses (400 "... is not one of the
/// available choices") an id that no longer exists, which happens when someone deletes an object
/// between two reads: such ids are dropped and the request repeated.
async fn list_by_ids<A: NautobotApi>(
    api: &A,
    endpoint: &str,
    filter: &str,
    ids: &[String],
) -> Result<Vec<Value>, ApiError> {
    let mut ids: Vec<&String> = ids.iter().collect();
    while !ids.is_empty() {
        let q: Vec<(&str, String)> = ids.iter().map(|id| (filter, (*id).clone())).collect();
        match api.list(endpoint, &q).await {
            Ok(v) => return Ok(v),
            Err(ApiError::Http {
                status: 400,
                summary,
                ..
            }) if summary.contains("not one of the available choices") => {
                let before = ids.len();
                let named: Vec<&str> = summary
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                    .collect();
                ids.retain(|id| !named.contains(&id.as_str()));
                if ids.len() == before {
                    return Err(ApiError::Http {
                        method: "GET".into(),
                        path: format!("/api/{endpoint}"),
                        status: 400,
                        summary,
                        body: None,
                    });
                }
                tracing::debug!(
                    endpoint,
                    dropped = before - ids.len(),
                    "ids vanished while reading; retrying without them"
                );
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Vec::new())
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

    /// Lists assignments; refuses, as Nautobot does, a filter naming an id that does not exist.
    struct Vanishing {
        existing: Vec<String>,
        calls: std::sync::atomic::AtomicUsize,
    }

    impl NautobotApi for Vanishing {
        async fn list(&self, _: &str, query: &[(&str, String)]) -> Result<Vec<Value>, ApiError> {
            self.calls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Some((_, gone)) = query.iter().find(|(_, id)| !self.existing.contains(id)) {
                return Err(ApiError::Http {
                    method: "GET".into(),
                    path: "/api/x/".into(),
                    status: 400,
                    summary: format!(
                        "ip_address: Select a valid choice. {gone} is not one of the available choices."
                    ),
                    body: None,
                });
            }
            Ok(query.iter().map(|(_, id)| json!({"id": id})).collect())
        }
        async fn get(&self, _: &str, _: Uuid) -> Result<Option<Value>, ApiError> {
            Ok(None)
        }
        async fn create(&self, _: &str, _: Vec<Value>) -> Result<Vec<Value>, ApiError> {
            Ok(vec![])
        }
        async fn update(&self, _: &str, _: Vec<Value>) -> Result<Vec<Value>, ApiError> {
            Ok(vec![])
        }
        async fn delete(&self, _: &str, _: Vec<Uuid>) -> Result<(), ApiError> {
            Ok(())
        }
    }

    const U1: &str = "1605adc1-93cf-5cf8-bc99-6538b8615a7e";
    const U2: &str = "2605adc1-93cf-5cf8-bc99-6538b8615a7e";
    const U3: &str = "3605adc1-93cf-5cf8-bc99-6538b8615a7e";
    const U4: &str = "4605adc1-93cf-5cf8-bc99-6538b8615a7e";

    #[tokio::test]
    async fn ids_deleted_between_two_reads_are_dropped() {
        let api = Vanishing {
            existing: vec![U1.into(), U3.into()],
            calls: Default::default(),
        };
        let ids: Vec<String> = [U1, U2, U3, U4].iter().map(|s| s.to_string()).collect();
        let got = list_by_ids(&api, "x/", "ip_address", &ids).await.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(api.calls.load(std::sync::atomic::Ordering::Relaxed), 3);
        let none = list_by_ids(&api, "x/", "ip_address", &[U2.to_string()])
            .await
            .unwrap();
        assert!(none.is_empty());
    }

    fn resolver_with_tag(r: &mut Resolver, id: &str, name: &str) {
        r.insert_tag(id.parse().unwrap(), name);
    }
}
