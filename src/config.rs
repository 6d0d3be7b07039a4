//! The validated, resolved form of a `NautobotSync` spec.
//!
//! The API server already enforces the schema (patterns, ranges, CEL). This module checks what
//! the schema cannot (regexes that compile, label keys that are valid, durations in range
//! even when the CRD is stale or the object came from a file) and resolves defaults that depend
//! on other fields (the IPAM namespace defaults to the cluster name). An error here becomes
//! `Ready=False, reason=InvalidSpec` with the message, never a panic.

use std::time::Duration;

use regex::Regex;

use crate::api::{
    DeletionPolicy, IsolatedNetworks, NautobotSyncSpec, OnDeletePolicy, SyncSelection,
};

/// A spec the operator can act on.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncConfig {
    /// Nautobot base URL (without a trailing slash).
    pub nautobot_url: String,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// Requests to Nautobot in flight at most.
    pub max_concurrent: usize,
    /// Requests to Nautobot a second at most (`None`: no cap).
    pub max_requests_per_second: Option<u32>,
    /// Skip TLS verification.
    pub insecure_skip_tls_verify: bool,
    /// The cluster's identity in Nautobot.
    pub cluster_name: String,
    /// DNS domain of Services (`cluster.local`).
    pub cluster_domain: String,
    /// Cluster type name.
    pub cluster_type: String,
    /// Optional cluster group name.
    pub cluster_group: Option<String>,
    /// Location of node devices.
    pub location: Option<String>,
    /// Tenant group of namespace tenants.
    pub tenant_group: Option<String>,
    /// IPAM namespace of the cluster's addresses and prefixes.
    pub ipam_namespace: String,
    /// Whether isolated networks get IPAM namespaces of their own.
    pub isolated_networks: IsolatedNetworks,
    /// IPAM namespaces named per isolated network (key: `nad-namespace/nad-name`, or a
    /// namespace for its primary user-defined network).
    pub network_ipam_namespaces: std::collections::BTreeMap<String, String>,
    /// Manufacturer of node device types.
    pub manufacturer: String,
    /// Device type of nodes without an instance-type label.
    pub default_device_type: String,
    /// Provider of the CloudAccount.
    pub cloud_provider: String,
    /// Which kinds are synced.
    pub sync: SyncSelection,
    /// Namespace filter.
    pub namespaces: NamespaceMatcher,
    /// Label keys that become tags.
    pub label_tags: Vec<String>,
    /// (label key, custom field key) pairs.
    pub label_custom_fields: Vec<(String, String)>,
    /// Deletion policy for vanished objects.
    pub deletion_policy: DeletionPolicy,
    /// Grace period of `MarkOffline`.
    pub grace_period: Duration,
    /// Mass-deletion guard fraction.
    pub max_delete_fraction: f64,
    /// Mass-deletion guard floor.
    pub guard_min_objects: u32,
    /// What to do when the NautobotSync is deleted.
    pub on_delete: OnDeletePolicy,
    /// Adopt unowned objects with the same natural key.
    pub adopt_existing: bool,
    /// The identity of the cluster this one replaces (`spec.replacesClusterId`).
    pub replaces_cluster_id: Option<String>,
    /// The web console's URL given in the spec (`spec.consoleUrl`, no trailing slash).
    pub console_url: Option<String>,
    /// Full re-diff interval.
    pub full_resync_interval: Duration,
    /// Compute only.
    pub dry_run: bool,
    /// No writes.
    pub suspend: bool,
}

/// Why a spec cannot be used. The message names the field and is safe to show in status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("spec.{field}: {message}")]
pub struct InvalidSpec {
    /// The offending field, as a path under `spec`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> InvalidSpec {
    InvalidSpec {
        field: field.into(),
        message: message.into(),
    }
}

/// Whole-name regex matching of namespaces.
#[derive(Debug, Clone)]
pub struct NamespaceMatcher {
    include: Vec<Regex>,
    exclude: Vec<Regex>,
}

/// Two matchers are equal when their patterns are (a compiled regex has no equality of its own).
impl PartialEq for NamespaceMatcher {
    fn eq(&self, other: &Self) -> bool {
        fn same(a: &[Regex], b: &[Regex]) -> bool {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.as_str() == y.as_str())
        }
        same(&self.include, &other.include) && same(&self.exclude, &other.exclude)
    }
}

impl NamespaceMatcher {
    /// Builds a matcher; each pattern must match the whole namespace name.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, InvalidSpec> {
        let compile = |field: &str, pats: &[String]| -> Result<Vec<Regex>, InvalidSpec> {
            pats.iter()
                .enumerate()
                .map(|(i, p)| {
                    Regex::new(&format!("^(?:{p})$")).map_err(|e| {
                        let first = e
                            .to_string()
                            .lines()
                            .last()
                            .unwrap_or("")
                            .trim()
                            .to_string();
                        invalid(
                            format!("namespaceFilter.{field}[{i}]"),
                            format!("invalid regular expression {p:?}: {first}"),
                        )
                    })
                })
                .collect()
        };
        Ok(NamespaceMatcher {
            include: compile("include", include)?,
            exclude: compile("exclude", exclude)?,
        })
    }

    /// Whether objects of this namespace are synced.
    pub fn allows(&self, namespace: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|r| r.is_match(namespace)))
            && !self.exclude.iter().any(|r| r.is_match(namespace))
    }
}

impl SyncConfig {
    /// Validates and resolves a spec.
    pub fn from_spec(spec: &NautobotSyncSpec) -> Result<Self, InvalidSpec> {
        let cluster_name = spec.cluster_name.trim();
        if cluster_name.is_empty() || cluster_name.len() > 63 {
            return Err(invalid("clusterName", "must be 1 to 63 characters"));
        }
        validate_url(&spec.nautobot.url)?;
        if spec.nautobot.token_secret_ref.name.trim().is_empty() {
            return Err(invalid("nautobot.tokenSecretRef.name", "must not be empty"));
        }
        if spec.nautobot.token_secret_ref.key.trim().is_empty() {
            return Err(invalid("nautobot.tokenSecretRef.key", "must not be empty"));
        }
        let full_resync_interval = parse_duration(&spec.full_resync_interval)
            .map_err(|m| invalid("fullResyncInterval", m))?;
        if full_resync_interval < Duration::from_secs(60)
            || full_resync_interval > Duration::from_secs(168 * 3600)
        {
            return Err(invalid("fullResyncInterval", "must be between 1m and 168h"));
        }
        let grace_period = parse_duration(&spec.deletion.grace_period)
            .map_err(|m| invalid("deletion.gracePeriod", m))?;
        if grace_period > Duration::from_secs(8760 * 3600) {
            return Err(invalid("deletion.gracePeriod", "must be at most 8760h"));
        }
        let f = spec.deletion.max_delete_fraction;
        if !(0.0..=1.0).contains(&f) || f.is_nan() {
            return Err(invalid(
                "deletion.maxDeleteFraction",
                "must be between 0 and 1",
            ));
        }
        if spec.sync.nodes
            && spec
                .placement
                .location
                .as_deref()
                .is_none_or(|l| l.trim().is_empty())
        {
            return Err(invalid(
                "placement.location",
                "is required when sync.nodes is true (node devices need a Nautobot Location)",
            ));
        }
        for (i, key) in spec.labels.to_tags.iter().enumerate() {
            validate_label_key(key).map_err(|m| invalid(format!("labels.toTags[{i}]"), m))?;
        }
        for (i, m) in spec.labels.to_custom_fields.iter().enumerate() {
            validate_label_key(&m.label)
                .map_err(|e| invalid(format!("labels.toCustomFields[{i}].label"), e))?;
            let ok = m.custom_field.len() <= 50
                && m.custom_field.starts_with(|c: char| c.is_ascii_lowercase())
                && m.custom_field
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !ok || m.custom_field.starts_with("k8s_") {
                return Err(invalid(
                    format!("labels.toCustomFields[{i}].customField"),
                    "must match ^[a-z][a-z0-9_]*$ (at most 50 characters) and must not start with k8s_ (reserved for ownership fields)",
                ));
            }
        }
        for (key, ns) in &spec.placement.network_ipam_namespaces {
            let field = format!("placement.networkIpamNamespaces[{key:?}]");
            let parts: Vec<&str> = key.trim().split('/').collect();
            if parts.len() > 2 || parts.iter().any(|p| !is_object_name(p)) {
                return Err(invalid(
                    field,
                    "the key must be a NetworkAttachmentDefinition as namespace/name, or a namespace (its primary user-defined network)",
                ));
            }
            let n = ns.trim().chars().count();
            if n == 0 || n > 255 {
                return Err(invalid(
                    field,
                    "must name an IPAM namespace (1 to 255 characters)",
                ));
            }
        }
        let namespaces = NamespaceMatcher::new(
            &spec.namespace_filter.include,
            &spec.namespace_filter.exclude,
        )?;
        let p = &spec.placement;
        Ok(SyncConfig {
            nautobot_url: spec.nautobot.url.trim_end_matches('/').to_string(),
            request_timeout: Duration::from_secs(u64::from(
                spec.nautobot.request_timeout_seconds.clamp(1, 600),
            )),
            max_concurrent: spec.nautobot.max_concurrent_requests.clamp(1, 32) as usize,
            max_requests_per_second: spec
                .nautobot
                .max_requests_per_second
                .map(|r| r.clamp(1, 10_000)),
            insecure_skip_tls_verify: spec.nautobot.insecure_skip_tls_verify,
            cluster_name: cluster_name.to_string(),
            cluster_domain: spec.cluster_domain.trim_matches('.').to_string(),
            cluster_type: p.cluster_type.clone(),
            cluster_group: p.cluster_group.clone(),
            location: p.location.clone(),
            tenant_group: p.tenant_group.clone(),
            ipam_namespace: p
                .ipam_namespace
                .clone()
                .unwrap_or_else(|| cluster_name.to_string()),
            isolated_networks: p.isolated_networks,
            network_ipam_namespaces: p
                .network_ipam_namespaces
                .iter()
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect(),
            manufacturer: p.manufacturer.clone(),
            default_device_type: p.default_device_type.clone(),
            cloud_provider: p.cloud_provider.clone(),
            sync: spec.sync.clone(),
            namespaces,
            label_tags: spec.labels.to_tags.clone(),
            label_custom_fields: spec
                .labels
                .to_custom_fields
                .iter()
                .map(|m| (m.label.clone(), m.custom_field.clone()))
                .collect(),
            deletion_policy: spec.deletion.policy,
            grace_period,
            max_delete_fraction: f,
            guard_min_objects: spec.deletion.guard_min_objects,
            on_delete: spec.on_delete,
            adopt_existing: spec.adopt_existing,
            replaces_cluster_id: spec.replaces_cluster_id.clone(),
            console_url: spec
                .console_url
                .as_deref()
                .map(|u| u.trim().trim_end_matches('/').to_string())
                .filter(|u| !u.is_empty()),
            full_resync_interval,
            dry_run: spec.dry_run,
            suspend: spec.suspend,
        })
    }
}

fn validate_url(url: &str) -> Result<(), InvalidSpec> {
    let field = "nautobot.url";
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| {
            invalid(
                field,
                format!("{url:?} must start with https:// or http://"),
            )
        })?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) || host.contains('@') {
        return Err(invalid(
            field,
            format!("{url:?} has no valid host (credentials in the URL are not allowed)"),
        ));
    }
    if url.contains(['?', '#']) {
        return Err(invalid(field, "must not carry a query or fragment"));
    }
    Ok(())
}

/// Validates a Kubernetes label key: optional DNS-subdomain prefix and a name of at most 63
/// characters.
/// A Kubernetes object or namespace name (DNS-1123 subdomain: lowercase letters, digits, `-`
/// and `.`, at most 253 characters, starting and ending with a letter or digit).
fn is_object_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'))
}

fn validate_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'))
    });
    if name_ok && prefix_ok {
        Ok(())
    } else {
        Err(format!("{key:?} is not a valid Kubernetes label key"))
    }
}

/// Parses a Go duration such as `1h30m`, `90s`, `1.5h`, `500ms` (no sign, no `us`/`ns`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration such as 30s, 15m or 1h30m");
    if s.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if num_len == 0 {
            return Err(bad());
        }
        let value: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += value * unit;
        rest = &rest[unit_len..];
    }
    if !total.is_finite() || total > 1e9 {
        return Err(format!("{s:?} is too long"));
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::NautobotSync;

    pub(crate) fn spec_from_yaml(y: &str) -> NautobotSyncSpec {
        let o: NautobotSync = serde_saphyr::from_str(y).unwrap();
        o.spec
    }

    const MINIMAL: &str = r#"
apiVersion: nbsync.dev/v1alpha1
kind: NautobotSync
metadata: {name: a, namespace: b}
spec:
  clusterName: ocp1
  nautobot:
    url: https://nautobot.example.com
    tokenSecretRef: {name: tok}
  placement: {location: dc1}
"#;

    #[test]
    fn configs_compare_by_value() {
        // the worker restarts its passes when the config changes: equal specs must compare
        // equal (compiled regexes included), a changed filter must not
        let spec = spec_from_yaml(MINIMAL);
        let a = SyncConfig::from_spec(&spec).unwrap();
        assert_eq!(a, SyncConfig::from_spec(&spec).unwrap());
        let mut other = spec.clone();
        other.namespace_filter.include = vec!["team-.*".into()];
        assert_ne!(a, SyncConfig::from_spec(&other).unwrap());
    }

    #[test]
    fn minimal_spec_gets_defaults() {
        let c = SyncConfig::from_spec(&spec_from_yaml(MINIMAL)).unwrap();
        assert_eq!(c.ipam_namespace, "ocp1");
        assert_eq!(c.cluster_type, "OpenShift");
        assert_eq!(c.full_resync_interval, Duration::from_secs(3600));
        assert_eq!(c.grace_period, Duration::from_secs(86400));
        assert_eq!(c.deletion_policy, DeletionPolicy::MarkOffline);
        assert_eq!(c.on_delete, OnDeletePolicy::Retain);
        assert!(c.sync.nodes && c.sync.virtual_machines && !c.sync.pod_ips);
        for ns in [
            "openshift-monitoring",
            "openshift",
            "kube-system",
            "default",
        ] {
            assert!(!c.namespaces.allows(ns), "{ns} must be excluded by default");
        }
        for ns in ["team-a", "openshiftx", "my-default", "kubevirt-demo"] {
            assert!(c.namespaces.allows(ns), "{ns} must be synced by default");
        }
    }

    #[test]
    fn a_bad_regex_is_invalid_spec_not_a_panic() {
        let mut s = spec_from_yaml(MINIMAL);
        s.namespace_filter.include = vec!["team-(a".into()];
        let e = SyncConfig::from_spec(&s).unwrap_err();
        assert_eq!(e.field, "namespaceFilter.include[0]");
        assert!(e.message.contains("team-(a"), "{e}");
    }

    #[test]
    fn network_ipam_namespaces_take_networks_or_namespaces() {
        let mut s = spec_from_yaml(MINIMAL);
        assert_eq!(
            SyncConfig::from_spec(&s).unwrap().isolated_networks,
            IsolatedNetworks::Separate
        );
        s.placement.network_ipam_namespaces = [
            ("vms/vlan10".to_string(), " Global ".to_string()),
            ("tenant-a".to_string(), "Tenant A".to_string()),
        ]
        .into();
        let c = SyncConfig::from_spec(&s).unwrap();
        assert_eq!(c.network_ipam_namespaces["vms/vlan10"], "Global");
        for (key, value) in [
            ("a/b/c", "Global"),
            ("Vms/vlan10", "Global"),
            ("vms/", "Global"),
            ("vms/vlan10", " "),
        ] {
            s.placement.network_ipam_namespaces = [(key.to_string(), value.to_string())].into();
            let e = SyncConfig::from_spec(&s).unwrap_err();
            assert!(
                e.field.starts_with("placement.networkIpamNamespaces["),
                "{key}: {e}"
            );
        }
    }

    #[test]
    fn include_and_exclude_combine() {
        let m = NamespaceMatcher::new(&["team-.*".into()], &["team-b".into()]).unwrap();
        assert!(m.allows("team-a"));
        assert!(!m.allows("team-b"));
        assert!(!m.allows("other"));
        let all = NamespaceMatcher::new(&[], &[]).unwrap();
        assert!(all.allows("openshift-etcd"));
    }

    #[test]
    fn invalid_specs_name_their_field() {
        type Mutation = Box<dyn Fn(&mut NautobotSyncSpec)>;
        let cases: Vec<(&str, Mutation)> = vec![
            (
                "nautobot.url",
                Box::new(|s| s.nautobot.url = "ftp://x".into()),
            ),
            (
                "nautobot.url",
                Box::new(|s| s.nautobot.url = "https://".into()),
            ),
            (
                "nautobot.url",
                Box::new(|s| s.nautobot.url = "https://u:p@host".into()),
            ),
            (
                "fullResyncInterval",
                Box::new(|s| s.full_resync_interval = "10s".into()),
            ),
            (
                "fullResyncInterval",
                Box::new(|s| s.full_resync_interval = "-1h".into()),
            ),
            (
                "fullResyncInterval",
                Box::new(|s| s.full_resync_interval = "1d".into()),
            ),
            (
                "deletion.gracePeriod",
                Box::new(|s| s.deletion.grace_period = "9999h".into()),
            ),
            (
                "deletion.maxDeleteFraction",
                Box::new(|s| s.deletion.max_delete_fraction = 1.5),
            ),
            (
                "deletion.maxDeleteFraction",
                Box::new(|s| s.deletion.max_delete_fraction = f64::NAN),
            ),
            (
                "placement.location",
                Box::new(|s| s.placement.location = None),
            ),
            (
                "nautobot.tokenSecretRef.name",
                Box::new(|s| s.nautobot.token_secret_ref.name = " ".into()),
            ),
            (
                "labels.toTags[0]",
                Box::new(|s| s.labels.to_tags = vec!["bad key!".into()]),
            ),
            ("clusterName", Box::new(|s| s.cluster_name = "x".repeat(64))),
        ];
        for (field, mutate) in cases {
            let mut s = spec_from_yaml(MINIMAL);
            mutate(&mut s);
            let e = SyncConfig::from_spec(&s).unwrap_err();
            assert_eq!(e.field, field, "{e}");
        }
    }

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
        for bad in ["", "h", "1", "1x", "1h-", "-5m", "1.2.3s", " 1h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
