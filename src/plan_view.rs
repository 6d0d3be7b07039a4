//! Rendering of a projection for people (`plan` tables) and programs (`plan -o json`).

use std::collections::BTreeMap;
use std::fmt::Write;

use uuid::Uuid;

use crate::config::SyncConfig;
use crate::project::Projection;
use crate::records::{Field, Kind, Record, Ref};
use crate::snapshot::LoadWarning;

/// Fields shown per kind, in order.
fn columns(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Cluster => &["cluster_type", "cluster_group"],
        Kind::CloudAccount => &["account_number", "provider"],
        Kind::Tenant => &["description", "tenant_group"],
        Kind::Prefix => &["type", "namespace"],
        Kind::Device => &[
            "status",
            "role",
            "device_type",
            "platform",
            "location",
            "primary_ip4",
        ],
        Kind::DeviceInterface => &["device", "type"],
        Kind::DeviceClusterAssignment => &["device", "cluster"],
        Kind::VirtualMachine => &[
            "status",
            "tenant",
            "vcpus",
            "memory",
            "disk",
            "platform",
            "primary_ip4",
            "primary_ip6",
        ],
        Kind::VmInterface => &["virtual_machine", "mac_address", "description"],
        Kind::IpAddress => &["dns_name", "description"],
        Kind::IpAddressToInterface => &["ip_address"],
        Kind::CloudService => &["cloud_resource_type", "description"],
        Kind::IpamService => &["virtual_machine", "protocol", "ports"],
    }
}

fn show(field: &Field, names: &BTreeMap<Uuid, &str>) -> String {
    match field {
        Field::Ref(Ref::Record(id)) => names
            .get(id)
            .map_or_else(|| id.to_string(), |n| n.to_string()),
        Field::Ref(r) => match r {
            Ref::Status(n)
            | Ref::Role(n)
            | Ref::Platform(n)
            | Ref::DeviceType(n)
            | Ref::Manufacturer(n)
            | Ref::Location(n)
            | Ref::ClusterType(n)
            | Ref::ClusterGroup(n)
            | Ref::TenantGroup(n)
            | Ref::IpamNamespace(n)
            | Ref::CloudResourceType(n) => n.clone(),
            Ref::Record(_) => unreachable!(),
        },
        Field::Json(serde_json::Value::Null) => "-".into(),
        f => f.display(),
    }
}

/// A table per kind, then warnings and a summary.
pub fn table(cfg: &SyncConfig, p: &Projection, load_warnings: &[LoadWarning]) -> String {
    let names: BTreeMap<Uuid, &str> = p
        .records
        .values()
        .map(|r| (r.id, r.name.as_str()))
        .collect();
    let mut by_kind: BTreeMap<Kind, Vec<&Record>> = BTreeMap::new();
    for r in p.records.values() {
        by_kind.entry(r.kind).or_default().push(r);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Desired Nautobot records for cluster {:?} (IPAM namespace {:?}):",
        cfg.cluster_name, cfg.ipam_namespace
    );
    for (kind, mut recs) in by_kind {
        recs.sort_by(|a, b| a.name.cmp(&b.name));
        let cols = columns(kind);
        let mut rows: Vec<Vec<String>> = vec![
            std::iter::once("NAME".to_string())
                .chain(cols.iter().map(|c| c.to_ascii_uppercase()))
                .chain(std::iter::once("TAGS".to_string()))
                .collect(),
        ];
        for r in recs {
            let mut row = vec![r.name.clone()];
            row.extend(cols.iter().map(|c| {
                r.fields
                    .get(c)
                    .map_or_else(|| "(kept)".to_string(), |f| show(f, &names))
            }));
            let tags: Vec<&str> = r
                .tags
                .iter()
                .map(String::as_str)
                .filter(|t| *t != crate::records::OWNERSHIP_TAG)
                .collect();
            row.push(if tags.is_empty() {
                "-".into()
            } else {
                tags.join(",")
            });
            rows.push(row);
        }
        let _ = writeln!(out, "\n{} ({})", kind.label(), rows.len() - 1);
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|i| {
                rows.iter()
                    .map(|r| r[i].chars().count().min(60))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in rows {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, w)| {
                    let cell: String = if cell.chars().count() > 60 {
                        cell.chars().take(59).chain(std::iter::once('…')).collect()
                    } else {
                        cell.clone()
                    };
                    format!("{cell:<w$}")
                })
                .collect();
            let _ = writeln!(out, "  {}", line.join("  ").trim_end());
        }
    }
    if !load_warnings.is_empty() || !p.warnings.is_empty() {
        let _ = writeln!(
            out,
            "\nWarnings ({}):",
            load_warnings.len() + p.warnings.len()
        );
        for w in load_warnings {
            let _ = writeln!(out, "  {}: {}", w.object, w.message);
        }
        for w in &p.warnings {
            let _ = writeln!(out, "  {}: {}", w.source, w.message);
        }
    }
    let _ = writeln!(
        out,
        "\n{} records. \"(kept)\" marks a field whose value is unknown right now; Nautobot's value is left as it is.",
        p.records.len()
    );
    out
}

/// The projection as JSON: records (sorted by kind, then name), warnings.
pub fn json(p: &Projection, load_warnings: &[LoadWarning]) -> String {
    let mut recs: Vec<&Record> = p.records.values().collect();
    recs.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    let warnings: Vec<serde_json::Value> = load_warnings
        .iter()
        .map(|w| serde_json::json!({"source": w.object, "message": w.message}))
        .chain(
            p.warnings
                .iter()
                .map(|w| serde_json::json!({"source": w.source, "message": w.message})),
        )
        .collect();
    let doc = serde_json::json!({
        "records": recs,
        "ipsUnknown": p.ips_unknown,
        "warnings": warnings,
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}
