//! Classic (unaggregated) discovery documents, built from the registry on every request so that kinds registered
//! or removed at run time show up at once. Clients asking for aggregated discovery get these too, which kube and
//! kubectl accept as "aggregated discovery not served" and fall back.

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::registry::{Registry, ResourceType};

const VERBS: [&str; 7] = [
    "create", "delete", "get", "list", "patch", "update", "watch",
];

/// The discovery document at a path (`None`: not a discovery path; `Some(Err)`: nothing served there).
pub(crate) fn document(
    registry: &Registry,
    address: &str,
    segments: &[&str],
) -> Option<Result<Value, ApiError>> {
    let found = match segments {
        ["version"] => Some(version()),
        ["api"] => Some(core_versions(address)),
        ["apis"] => Some(group_list(registry)),
        ["apis", name] => group(registry, name),
        ["api", version] => resource_list(registry, "", version),
        ["apis", name, version] => resource_list(registry, name, version),
        _ => return None,
    };
    Some(found.ok_or_else(ApiError::not_found_path))
}

/// `GET /version`.
fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0-stand-in",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// `GET /api`.
fn core_versions(address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    })
}

fn group_document(name: &str, versions: &[&str]) -> Value {
    let entries: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    let preferred = entries.last().cloned().unwrap_or_default();
    json!({"kind": "APIGroup", "apiVersion": "v1", "name": name, "versions": entries, "preferredVersion": preferred})
}

/// `GET /apis`.
fn group_list(registry: &Registry) -> Value {
    let groups: Vec<Value> = registry
        .groups()
        .into_iter()
        .map(|(name, versions)| {
            let mut doc = group_document(name, &versions.into_iter().collect::<Vec<_>>());
            if let Some(map) = doc.as_object_mut() {
                map.remove("kind");
                map.remove("apiVersion");
            }
            doc
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/{group}`, or `None` when no kind is served in it.
fn group(registry: &Registry, name: &str) -> Option<Value> {
    let groups = registry.groups();
    let versions = groups.get(name)?;
    Some(group_document(
        name,
        &versions.iter().copied().collect::<Vec<_>>(),
    ))
}

/// `GET /api/v1` or `GET /apis/{group}/{version}`, or `None` when nothing is served there.
fn resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let types: Vec<&ResourceType> = registry
        .all()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    if types.is_empty() && !(group.is_empty() && version == "v1") {
        return None;
    }
    let mut resources = Vec::new();
    for t in types {
        resources.push(json!({
            "name": t.plural,
            "singularName": t.singular,
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": VERBS,
            "shortNames": t.short_names,
        }));
        if t.status_subresource {
            resources.push(json!({
                "name": format!("{}/status", t.plural),
                "singularName": "",
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}
