//! Bootstrap: make sure every prerequisite the records reference exists, and learn its id.
//!
//! The prerequisites are exactly the [`Ref`]s the desired records make (statuses, roles,
//! platforms, device types, manufacturers, cluster type and group, tenant group, IPAM
//! namespace, cloud resource types) plus the ownership custom fields and tags. What is missing
//! is created and described as managed by the operator; what exists is used as it is and never
//! modified, except content types added to prerequisites the operator itself created. The
//! Location, and an IPAM namespace a person named for a network, must exist: a missing one is
//! a [`BootstrapError::Missing`], reported as `InvalidSpec`, never a crash. One list request
//! per collection; idempotent.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use uuid::Uuid;

use super::client::NautobotApi;
use super::error::ApiError;
use crate::config::SyncConfig;
use crate::model::{
    CF_CAPACITY, CF_CLUSTER, CF_CONSOLE, CF_MISSING_SINCE, CF_NODE, CF_RUNTIME, CF_SOURCE,
    CF_STATE, CF_UID, CF_VERSION, Kind, OWNERSHIP_TAG, PrereqKind, Record,
};
use crate::plan::Resolver;

/// Description put on every prerequisite the operator creates (and the mark that allows it to
/// add content types to it later).
pub const MANAGED_DESCRIPTION: &str = "Managed by nautobot-sync-operator";

/// Why bootstrap failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BootstrapError {
    /// Talking to Nautobot failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Something the spec names does not exist and must not be created by us.
    #[error("{0}")]
    Missing(String),
    /// A prerequisite exists but cannot be used as it is (and is not ours to change).
    #[error("{0}")]
    Unusable(String),
}

/// The content types each prerequisite is needed for.
fn needed<R: Borrow<Record>>(
    records: &BTreeMap<Uuid, R>,
    cfg: &SyncConfig,
) -> BTreeMap<(PrereqKind, String), BTreeSet<&'static str>> {
    let mut out: BTreeMap<(PrereqKind, String), BTreeSet<&'static str>> = BTreeMap::new();
    for r in records.values().map(R::borrow) {
        for reference in r.refs() {
            if let Some((k, name)) = PrereqKind::of(reference) {
                let ct = match k {
                    PrereqKind::CloudResourceType => "cloud.cloudservice",
                    _ => r.kind.content_type(),
                };
                out.entry((k, name.to_string())).or_default().insert(ct);
                // a software version needs its platform, and the status it is created with
                if k == PrereqKind::SoftwareVersion
                    && let Some((platform, _)) = name.split_once('\t')
                {
                    out.entry((PrereqKind::Platform, platform.to_string()))
                        .or_default();
                    out.entry((PrereqKind::Status, SOFTWARE_VERSION_STATUS.into()))
                        .or_default()
                        .insert("dcim.softwareversion");
                }
            }
        }
    }
    // the statuses that marking objects missing uses, and the manufacturers device types need
    for kind in [Kind::Device, Kind::VirtualMachine] {
        out.entry((PrereqKind::Status, "Offline".into()))
            .or_default()
            .insert(kind.content_type());
    }
    if out.keys().any(|(k, _)| *k == PrereqKind::DeviceType) {
        out.entry((PrereqKind::Manufacturer, cfg.manufacturer.clone()))
            .or_default();
    }
    if out.keys().any(|(k, _)| *k == PrereqKind::CloudResourceType) {
        out.entry((PrereqKind::Manufacturer, cfg.cloud_provider.clone()))
            .or_default();
    }
    out
}

/// The status software versions are created with (Nautobot enables `Active` for them).
const SOFTWARE_VERSION_STATUS: &str = "Active";

/// Whether an existing prerequisite `o` is the one named `name`: by its name field, and for a
/// software version (`platform<TAB>version`) by version and platform.
fn is_named(kind: PrereqKind, o: &Value, name: &str, resolver: &Resolver) -> bool {
    let field = o.get(kind.name_field()).and_then(Value::as_str);
    match (kind, name.split_once('\t')) {
        (PrereqKind::SoftwareVersion, Some((platform, version))) => {
            let platform_id = o
                .get("platform")
                .and_then(|p| p.get("id").or(Some(p)))
                .and_then(Value::as_str)
                .and_then(|id| id.parse::<Uuid>().ok());
            field == Some(version)
                && platform_id.is_some()
                && platform_id == resolver.id(PrereqKind::Platform, platform)
        }
        _ => field == Some(name),
    }
}

/// A custom field the operator creates.
struct FieldSpec {
    key: String,
    label: &'static str,
    filter_logic: &'static str,
    type_: &'static str,
    content_types: Vec<&'static str>,
}

/// The ownership custom fields and which kinds carry them.
fn custom_fields(cfg: &SyncConfig) -> Vec<FieldSpec> {
    let marker: Vec<&'static str> = Kind::ALL
        .iter()
        .filter(|k| k.carries_marker())
        .map(|k| k.content_type())
        .collect();
    let field = |key: &str, label, filter_logic, content_types: &[&'static str]| FieldSpec {
        key: key.to_string(),
        label,
        filter_logic,
        type_: "text",
        content_types: content_types.to_vec(),
    };
    let mut v = vec![
        field(CF_CLUSTER, "K8s cluster", "exact", &marker),
        field(CF_UID, "K8s UID", "exact", &marker),
        field(CF_SOURCE, "K8s source", "loose", &marker),
        field(CF_MISSING_SINCE, "K8s missing since", "disabled", &marker),
        field(
            CF_STATE,
            "K8s state",
            "loose",
            &["dcim.device", "virtualization.virtualmachine"],
        ),
        field(
            CF_NODE,
            "K8s node",
            "exact",
            &["virtualization.virtualmachine"],
        ),
        field(
            CF_VERSION,
            "K8s version",
            "loose",
            &["dcim.device", "virtualization.cluster"],
        ),
        field(
            CF_RUNTIME,
            "K8s container runtime",
            "loose",
            &["dcim.device"],
        ),
        field(CF_CAPACITY, "K8s capacity", "loose", &["dcim.device"]),
        // a URL field: Nautobot shows it as a link, and the console custom links open it
        FieldSpec {
            type_: "url",
            ..field(
                CF_CONSOLE,
                "OpenShift console",
                "disabled",
                &CONSOLE_LINK_TYPES,
            )
        },
    ];
    for (_, cf) in &cfg.label_custom_fields {
        v.push(field(cf, "", "loose", &marker));
    }
    v
}

/// The object types whose records carry their console page (`k8s_console_url`).
const CONSOLE_LINK_TYPES: [&str; 4] = [
    "virtualization.virtualmachine",
    "dcim.device",
    "tenancy.tenant",
    "virtualization.cluster",
];

/// The custom link "OpenShift console" of one object type: shown on every object whose
/// `k8s_console_url` is set, whatever cluster it belongs to (one link serves every cluster,
/// since the URL is on the object). Nautobot hides a link whose text renders empty
/// (`nautobot/extras/templatetags/custom_links.py`), and does not strip whitespace, hence the
/// template on one line.
fn console_link_body(content_type: &str) -> Value {
    json!({
        "name": console_link_name(content_type),
        "content_type": content_type,
        "text": format!("{{% if obj.cf.{CF_CONSOLE} %}}OpenShift console{{% endif %}}"),
        "target_url": format!("{{{{ obj.cf.{CF_CONSOLE} }}}}"),
        "weight": 100,
        "group_name": "",
        "button_class": "default",
        "new_window": true,
    })
}

/// Whether a record carries its console page.
pub fn has_console_link(r: &Record) -> bool {
    r.custom_fields
        .get(CF_CONSOLE)
        .is_some_and(|v| !v.is_null())
}

/// Custom link names are unique across Nautobot: one per object type.
fn console_link_name(content_type: &str) -> String {
    let what = match content_type {
        "virtualization.virtualmachine" => "virtual machines",
        "dcim.device" => "devices",
        "tenancy.tenant" => "tenants",
        "virtualization.cluster" => "clusters",
        other => other,
    };
    format!("OpenShift console ({what})")
}

/// Ensures the console custom links exist (when any record carries its console page). An
/// existing link of that name is kept as it is: a person may have changed its text or look.
async fn ensure_console_links<A: NautobotApi>(
    creator: &Creator<'_, A>,
    created: &mut Vec<String>,
) -> Result<(), BootstrapError> {
    let existing = creator.api.list("extras/custom-links/", &[]).await?;
    let missing: Vec<Value> = CONSOLE_LINK_TYPES
        .iter()
        .filter(|ct| {
            let name = console_link_name(ct);
            !existing
                .iter()
                .any(|o| o.get("name").and_then(Value::as_str) == Some(name.as_str()))
        })
        .map(|ct| console_link_body(ct))
        .collect();
    creator
        .create("extras/custom-links/", "name", missing, created)
        .await?;
    Ok(())
}

fn content_types_of(o: &Value) -> BTreeSet<String> {
    o.get("content_types")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str().map(String::from))
        .collect()
}

fn is_ours(o: &Value) -> bool {
    o.get("description")
        .and_then(Value::as_str)
        .is_some_and(|d| d.starts_with(MANAGED_DESCRIPTION))
}

fn id_of(o: &Value) -> Option<Uuid> {
    o.get("id")?.as_str()?.parse().ok()
}

/// Ensures content types on an existing object: adds them when we created it, fails otherwise.
async fn ensure_content_types<A: NautobotApi>(
    api: &A,
    endpoint: &str,
    what: &str,
    existing: &Value,
    wanted: &BTreeSet<&'static str>,
) -> Result<(), BootstrapError> {
    let have = content_types_of(existing);
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|c| !have.contains(*c))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_ours(existing) {
        return Err(BootstrapError::Unusable(format!(
            "{what} exists in Nautobot but is not enabled for {}; enable it there (the operator does not change objects it did not create)",
            missing.join(", ")
        )));
    }
    let mut all: BTreeSet<String> = have;
    all.extend(missing.iter().map(|s| s.to_string()));
    let id =
        id_of(existing).ok_or_else(|| BootstrapError::Unusable(format!("{what} has no id")))?;
    api.update(
        endpoint,
        vec![json!({"id": id.to_string(), "content_types": all})],
    )
    .await?;
    Ok(())
}

/// Whether a location's type lists `content_type` (Nautobot refuses a Cluster at a location
/// whose type does not: `nautobot/virtualization/models.py`, `Cluster.clean`). Unknown counts
/// as not allowed, so a write is never refused for it.
async fn location_type_allows<A: NautobotApi>(
    api: &A,
    location: &Value,
    content_type: &str,
) -> Result<bool, BootstrapError> {
    let Some(type_id) = location["location_type"]["id"]
        .as_str()
        .or_else(|| location["location_type"].as_str())
    else {
        return Ok(false);
    };
    let types = api
        .list("dcim/location-types/", &[("id", type_id.to_string())])
        .await?;
    Ok(types
        .first()
        .is_some_and(|t| content_types_of(t).contains(content_type)))
}

/// Ensures every prerequisite of `records` exists; returns the resolver.
///
/// With `dry_run`, nothing is written: what is missing is listed in [`Resolver::created`] and
/// gets a placeholder id.
pub async fn bootstrap<A: NautobotApi, R: Borrow<Record>>(
    api: &A,
    cfg: &SyncConfig,
    records: &BTreeMap<Uuid, R>,
    dry_run: bool,
) -> Result<Resolver, BootstrapError> {
    let mut resolver = Resolver::default();
    let creator = Creator { api, dry_run };

    // custom fields first: the ownership filter needs them
    let existing = api.list("extras/custom-fields/", &[]).await?;
    for FieldSpec {
        key,
        label,
        filter_logic: logic,
        type_,
        content_types,
    } in custom_fields(cfg)
    {
        let wanted: BTreeSet<&'static str> = content_types.into_iter().collect();
        match existing
            .iter()
            .find(|o| o.get("key").and_then(Value::as_str) == Some(key.as_str()))
        {
            Some(o) => {
                if key == CF_CLUSTER {
                    resolver.ownership_field_exists = true;
                }
                ensure_content_types(
                    api,
                    "extras/custom-fields/",
                    &format!("custom field {key:?}"),
                    o,
                    &wanted,
                )
                .await?
            }
            None => {
                let label = if label.is_empty() {
                    key.clone()
                } else {
                    label.to_string()
                };
                let body = json!({"key": key, "label": label, "type": type_, "filter_logic": logic,
                                  "content_types": wanted, "description": MANAGED_DESCRIPTION});
                creator
                    .create(
                        "extras/custom-fields/",
                        "key",
                        vec![body],
                        &mut resolver.created,
                    )
                    .await?;
                if key == CF_CLUSTER && !dry_run {
                    resolver.ownership_field_exists = true;
                }
            }
        }
    }

    // tags: the ownership tag and the label tags the records want
    let marker_cts: BTreeSet<&'static str> = Kind::ALL
        .iter()
        .filter(|k| k.carries_marker())
        .map(|k| k.content_type())
        .collect();
    let mut tags = api.list("extras/tags/", &[]).await?;
    let wanted_tags: BTreeSet<&str> = records
        .values()
        .flat_map(|r| r.borrow().tags.iter().map(String::as_str))
        .chain(std::iter::once(OWNERSHIP_TAG))
        .collect();
    let mut to_create = Vec::new();
    for name in wanted_tags {
        match tags.iter().find(|t| t.get("name").and_then(Value::as_str) == Some(name)) {
            Some(t) => ensure_content_types(api, "extras/tags/", &format!("tag {name:?}"), t, &marker_cts).await?,
            None => to_create.push(json!({"name": name, "content_types": marker_cts, "description": MANAGED_DESCRIPTION})),
        }
    }
    tags.extend(
        creator
            .create("extras/tags/", "name", to_create, &mut resolver.created)
            .await?,
    );
    for t in &tags {
        if let (Some(id), Some(name)) = (id_of(t), t.get("name").and_then(Value::as_str)) {
            resolver.insert_tag(id, name);
        }
    }

    // the console custom links, once a record carries its console page
    if records.values().any(|r| has_console_link(r.borrow())) {
        ensure_console_links(&creator, &mut resolver.created).await?;
        resolver.console_links = true;
    }

    // the prerequisites the records reference, kind by kind (manufacturers before device
    // types and resource types)
    let need = needed(records, cfg);
    let mut kinds: Vec<PrereqKind> = need.keys().map(|(k, _)| *k).collect();
    kinds.sort_by_key(|k| (*k != PrereqKind::Manufacturer, *k));
    kinds.dedup();
    for kind in kinds {
        let existing = api.list(kind.endpoint(), &[]).await?;
        let mut create = Vec::new();
        let mut create_names = Vec::new();
        for ((k, name), cts) in need.range((kind, String::new())..) {
            if *k != kind {
                break;
            }
            let found = existing.iter().find(|o| is_named(kind, o, name, &resolver));
            match found {
                Some(o) => {
                    if kind.has_content_types() {
                        ensure_content_types(
                            api,
                            kind.endpoint(),
                            &format!("{} {name:?}", kind.label()),
                            o,
                            cts,
                        )
                        .await?;
                    }
                    if let Some(id) = id_of(o) {
                        resolver.insert(kind, name, id);
                    }
                    let cluster = Kind::Cluster.content_type();
                    if kind == PrereqKind::Location
                        && cts.contains(cluster)
                        && !location_type_allows(api, o, cluster).await?
                    {
                        tracing::warn!(location = %name, "the location's type does not allow clusters (add virtualization.cluster to its content types in Nautobot): the Cluster is recorded without a location");
                        resolver.refuse(kind, name, Kind::Cluster);
                    }
                }
                None if kind == PrereqKind::Location => {
                    return Err(BootstrapError::Missing(format!(
                        "location {name:?} (spec.placement.location) does not exist in Nautobot; create it, with a location type that allows devices"
                    )));
                }
                None if kind == PrereqKind::IpamNamespace
                    && *name != cfg.ipam_namespace
                    && cfg.network_ipam_namespaces.values().any(|n| n == name) =>
                {
                    return Err(BootstrapError::Missing(format!(
                        "IPAM namespace {name:?} (spec.placement.networkIpamNamespaces) does not exist in Nautobot; create it with the prefixes of its networks, or remove it from the spec to let the operator keep those addresses in a namespace of its own"
                    )));
                }
                None => {
                    create.push(prerequisite_body(kind, name, cts, cfg, &resolver)?);
                    create_names.push(name.clone());
                }
            }
        }
        // created in the order asked (Nautobot answers a bulk create in order)
        let created = creator
            .create(
                kind.endpoint(),
                kind.name_field(),
                create,
                &mut resolver.created,
            )
            .await?;
        for (o, name) in created.iter().zip(&create_names) {
            if let Some(id) = id_of(o) {
                resolver.insert(kind, name, id);
            }
        }
    }
    Ok(resolver)
}

/// Nautobot's uniqueness refusals ("... with this name already exists.", "The fields
/// manufacturer, model must make a unique set.").
fn names_taken(message: &str) -> bool {
    message.contains("already exists") || message.contains("must make a unique set")
}

/// Creates prerequisites, or in a dry run pretends to (placeholder ids).
struct Creator<'a, A> {
    api: &'a A,
    dry_run: bool,
}

impl<A: NautobotApi> Creator<'_, A> {
    async fn create(
        &self,
        endpoint: &str,
        name_field: &str,
        bodies: Vec<Value>,
        created: &mut Vec<String>,
    ) -> Result<Vec<Value>, BootstrapError> {
        let what = endpoint
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(endpoint)
            .to_string();
        for b in &bodies {
            created.push(format!(
                "{what} {:?}",
                b.get(name_field).and_then(Value::as_str).unwrap_or("?")
            ));
        }
        if self.dry_run {
            return Ok(bodies
                .into_iter()
                .map(|mut b| {
                    let name = b
                        .get(name_field)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    b["id"] = json!(
                        Uuid::new_v5(
                            &crate::model::ID_NAMESPACE,
                            format!("dry-run {endpoint} {name}").as_bytes()
                        )
                        .to_string()
                    );
                    b
                })
                .collect());
        }
        let mut out = Vec::new();
        for chunk in bodies.chunks(100) {
            match self.api.create(endpoint, chunk.to_vec()).await {
                Ok(created) => out.extend(created),
                Err(e) if e.status() == Some(400) && names_taken(&e.to_string()) => {
                    // An earlier attempt of this request may have been applied without its
                    // answer arriving (the connection dropped after Nautobot committed; the
                    // client retried the POST). Prerequisites have no deterministic id: look
                    // them up by name, and when every one exists now, use them as bootstrap
                    // uses existing ones. Otherwise the refusal stands.
                    let existing = self.api.list(endpoint, &[]).await?;
                    let found: Vec<Value> = chunk
                        .iter()
                        .filter_map(|b| {
                            let name = b.get(name_field)?;
                            // a software version is its platform's: the platform must match too
                            let platform = |o: &Value| {
                                o.get("platform").map(|p| p.get("id").unwrap_or(p).clone())
                            };
                            existing.iter().find(|o| {
                                o.get(name_field) == Some(name)
                                    && (b.get("platform").is_none() || platform(o) == platform(b))
                            })
                        })
                        .cloned()
                        .collect();
                    if found.len() != chunk.len() {
                        return Err(e.into());
                    }
                    tracing::info!(
                        endpoint,
                        count = found.len(),
                        "prerequisites found created by an earlier attempt"
                    );
                    out.extend(found);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }
}

fn prerequisite_body(
    kind: PrereqKind,
    name: &str,
    cts: &BTreeSet<&'static str>,
    cfg: &SyncConfig,
    resolver: &Resolver,
) -> Result<Value, BootstrapError> {
    let manufacturer = |m: &str| {
        resolver
            .id(PrereqKind::Manufacturer, m)
            .map(|id| id.to_string())
            .ok_or_else(|| {
                BootstrapError::Missing(format!("manufacturer {m:?} could not be created"))
            })
    };
    Ok(match kind {
        PrereqKind::Status => {
            json!({"name": name, "content_types": cts, "color": "9e9e9e", "description": MANAGED_DESCRIPTION})
        }
        PrereqKind::Role => {
            json!({"name": name, "content_types": cts, "description": MANAGED_DESCRIPTION})
        }
        PrereqKind::DeviceType => {
            json!({"model": name, "manufacturer": manufacturer(&cfg.manufacturer)?,
                                         "u_height": 0, "comments": MANAGED_DESCRIPTION})
        }
        PrereqKind::CloudResourceType => {
            json!({"name": name, "provider": manufacturer(&cfg.cloud_provider)?,
                                                "content_types": ["cloud.cloudservice"], "description": MANAGED_DESCRIPTION})
        }
        PrereqKind::SoftwareVersion => {
            let (platform, version) = name.split_once('\t').unwrap_or(("", name));
            let platform_id = resolver.id(PrereqKind::Platform, platform).ok_or_else(|| {
                BootstrapError::Missing(format!("platform {platform:?} could not be created"))
            })?;
            let status = resolver.status_id(SOFTWARE_VERSION_STATUS).ok_or_else(|| {
                BootstrapError::Missing(format!(
                    "status {SOFTWARE_VERSION_STATUS:?} for software versions"
                ))
            })?;
            // no description field: created and found by (platform, version) alone
            json!({"platform": platform_id.to_string(), "version": version, "status": status.to_string()})
        }
        PrereqKind::IpamNamespace
        | PrereqKind::Platform
        | PrereqKind::Manufacturer
        | PrereqKind::ClusterType
        | PrereqKind::ClusterGroup
        | PrereqKind::TenantGroup => json!({"name": name, "description": MANAGED_DESCRIPTION}),
        PrereqKind::Location => unreachable!("locations are never created"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A Nautobot where the tags were created by an earlier attempt whose answer was lost.
    struct Held(Mutex<Vec<Value>>);

    impl NautobotApi for Held {
        async fn list(&self, _: &str, _: &[(&str, String)]) -> Result<Vec<Value>, ApiError> {
            Ok(self.0.lock().unwrap().clone())
        }
        async fn get(&self, _: &str, _: Uuid) -> Result<Option<Value>, ApiError> {
            Ok(None)
        }
        async fn create(&self, path: &str, items: Vec<Value>) -> Result<Vec<Value>, ApiError> {
            let body = json!(
                items
                    .iter()
                    .map(|_| json!({"name": ["tag with this name already exists."]}))
                    .collect::<Vec<_>>()
            );
            Err(ApiError::Http {
                method: "POST".into(),
                path: path.into(),
                status: 400,
                summary: super::super::error::summarize(&body),
                body: Some(body),
            })
        }
        async fn update(&self, _: &str, items: Vec<Value>) -> Result<Vec<Value>, ApiError> {
            Ok(items)
        }
        async fn delete(&self, _: &str, _: Vec<Uuid>) -> Result<(), ApiError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn prerequisites_created_by_a_lost_attempt_are_used() {
        let api = Held(Mutex::new(vec![
            json!({"id": "11111111-2222-4333-8444-555555555555", "name": "k8s-managed"}),
            json!({"id": "11111111-2222-4333-8444-666666666666", "name": "team=a"}),
        ]));
        let creator = Creator {
            api: &api,
            dry_run: false,
        };
        let mut created = Vec::new();
        let got = creator
            .create(
                "extras/tags/",
                "name",
                vec![json!({"name": "k8s-managed"}), json!({"name": "team=a"})],
                &mut created,
            )
            .await
            .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1]["id"], "11111111-2222-4333-8444-666666666666");
        // a name that is not there: the refusal stands
        let err = creator
            .create(
                "extras/tags/",
                "name",
                vec![json!({"name": "team=b"})],
                &mut created,
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
    }

    /// Nautobot refuses a Cluster at a location whose type does not allow clusters
    /// (`Cluster.clean`): the Cluster is then written without one, the Devices keep it.
    #[tokio::test]
    async fn a_location_type_without_clusters_leaves_the_cluster_without_location() {
        use crate::nautobot::fake::FakeNautobot;
        use crate::plan::Resolve;
        let cfg = crate::project::testing::config(serde_json::json!({}));
        let location = cfg.location.clone().unwrap();
        let records =
            crate::project::testing::project(&cfg, &crate::project::testing::sample()).records;
        for (types, cluster_gets_it) in [
            (json!(["dcim.device"]), false),
            (json!(["dcim.device", "virtualization.cluster"]), true),
        ] {
            let api = FakeNautobot::default();
            let type_id = Uuid::from_u128(7).to_string();
            api.insert(
                "dcim/location-types/",
                json!({"id": type_id, "name": "Site", "content_types": types}),
            );
            api.insert(
                "dcim/locations/",
                json!({"id": Uuid::from_u128(1).to_string(), "name": location,
                "location_type": {"id": type_id, "object_type": "dcim.locationtype"}}),
            );
            let res = bootstrap(&api, &cfg, &records, false).await.unwrap();
            let want = Value::String(Uuid::from_u128(1).to_string());
            let r = crate::model::Ref::Location(location.clone());
            assert_eq!(res.resolve(&r, Kind::Device), Ok(want.clone()));
            assert_eq!(
                res.resolve(&r, Kind::Cluster),
                Ok(if cluster_gets_it { want } else { Value::Null })
            );
        }
    }

    /// The console custom links are created once a record carries its console page, one per
    /// object type, and a link a person changed is kept as it is; with no console known no
    /// link is created (and nothing is read for them).
    #[tokio::test]
    async fn console_custom_links_are_created_once_and_kept_as_people_change_them() {
        use crate::nautobot::fake::FakeNautobot;
        let sample = crate::project::testing::sample();
        let cfg = crate::project::testing::config(json!({"sync": {"consoleLinks": false}}));
        let location = cfg.location.clone().unwrap();
        let records = crate::project::testing::project(&cfg, &sample).records;
        assert!(!records.values().any(has_console_link), "links off");
        let api = FakeNautobot::with_location(&location);
        bootstrap(&api, &cfg, &records, false).await.unwrap();
        assert!(api.objects("extras/custom-links/").is_empty());
        assert!(
            !api.take_log()
                .iter()
                .any(|r| r.endpoint == "extras/custom-links/"),
            "no read without a console"
        );
        let field = api
            .objects("extras/custom-fields/")
            .into_iter()
            .find(|f| f["key"] == CF_CONSOLE)
            .expect("the console URL field");
        assert_eq!(field["type"], "url");

        // the sample's Console/cluster gives the URL
        let cfg = crate::project::testing::config(json!({}));
        let records = crate::project::testing::project(&cfg, &sample).records;
        let res = bootstrap(&api, &cfg, &records, false).await.unwrap();
        assert!(res.console_links);
        let links = api.objects("extras/custom-links/");
        let types: BTreeSet<&str> = links
            .iter()
            .filter_map(|l| l["content_type"].as_str())
            .collect();
        assert_eq!(types, CONSOLE_LINK_TYPES.into_iter().collect());
        let vm = links
            .iter()
            .find(|l| l["content_type"] == "virtualization.virtualmachine")
            .unwrap();
        assert_eq!(
            vm["text"],
            "{% if obj.cf.k8s_console_url %}OpenShift console{% endif %}"
        );
        assert_eq!(vm["target_url"], "{{ obj.cf.k8s_console_url }}");

        // a person restyles one; the next bootstraps create nothing and change nothing
        let mut edited = vm.clone();
        edited["button_class"] = json!("primary");
        edited["text"] = json!("{% if obj.cf.k8s_console_url %}Console{% endif %}");
        api.insert("extras/custom-links/", edited.clone());
        api.take_log();
        bootstrap(&api, &cfg, &records, false).await.unwrap();
        assert_eq!(api.objects("extras/custom-links/").len(), 4);
        assert!(api.objects("extras/custom-links/").contains(&edited));
        assert!(
            api.take_log().iter().all(|r| r.method == "GET"),
            "nothing written on a second bootstrap"
        );
    }
}
