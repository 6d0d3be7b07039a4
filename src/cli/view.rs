//! Rendering of a projection for people (`plan` tables) and programs (`plan -o json`).

use std::collections::BTreeMap;
use std::fmt::Write;

use uuid::Uuid;

use crate::cluster::LoadWarning;
use crate::config::SyncConfig;
use crate::model::{Field, Kind, Record, Ref, Server};
use crate::plan::dialect;
use crate::project::Projection;

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
        Kind::IpAddress => &["namespace", "dns_name", "description"],
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
        Field::Ref(r) => r.name().unwrap_or_default().to_string(),
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
                .filter(|t| *t != crate::model::OWNERSHIP_TAG)
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

/// A live plan (or an applied pass) for people: counts per kind, then each change.
pub fn plan_table(
    server: &Server,
    outcome: &crate::nautobot::SyncOutcome,
    requests: crate::nautobot::RequestCounts,
) -> String {
    use crate::plan::Op;
    let plan = &outcome.plan;
    let mut out = String::new();
    let _ = writeln!(out, "{}", server.describe());
    for (kind, reason) in dialect::not_synced(server.api) {
        let _ = writeln!(out, "  not synced: {}: {reason}", kind.content_type());
    }
    if !outcome.prerequisites_created.is_empty() {
        let verb = if outcome.report.is_some() {
            "Created"
        } else {
            "Would create"
        };
        let _ = writeln!(
            out,
            "{verb} {} prerequisites: {}",
            outcome.prerequisites_created.len(),
            outcome.prerequisites_created.join(", ")
        );
    }
    let mut counts: BTreeMap<Kind, [usize; 4]> = BTreeMap::new();
    let mut add = |ops: &[Op], i: usize| {
        for o in ops {
            counts.entry(o.kind).or_default()[i] += 1;
        }
    };
    add(&plan.creates, 0);
    add(&plan.updates, 1);
    add(&plan.late_updates, 1);
    add(&plan.deletes, 2);
    add(&plan.replaced, 2);
    add(&plan.held, 3);
    let _ = writeln!(
        out,
        "{:<16} {:>7} {:>7} {:>7} {:>7}",
        "KIND", "CREATE", "UPDATE", "DELETE", "HELD"
    );
    for (k, c) in &counts {
        let _ = writeln!(
            out,
            "{:<16} {:>7} {:>7} {:>7} {:>7}",
            k.label(),
            c[0],
            c[1],
            c[2],
            c[3]
        );
    }
    let _ = writeln!(
        out,
        "{} unchanged, {} kept, {} conflicts, {} errors; Nautobot held {} owned objects",
        plan.unchanged,
        plan.kept,
        plan.conflicts.len(),
        plan.errors.len(),
        outcome.observed_before
    );
    for (label, ops) in [
        ("update", &plan.updates),
        ("delete", &plan.deletes),
        ("delete", &plan.replaced),
        ("held", &plan.held),
    ] {
        for o in ops.iter().take(50) {
            let _ = writeln!(
                out,
                "  {label:<6} {} {}: {}",
                o.kind.label(),
                o.name,
                o.reason
            );
        }
    }
    if let Some(r) = &plan.held_reason {
        let _ = writeln!(out, "Deletions held: {r}");
    }
    for c in plan.conflicts.iter().chain(&plan.errors) {
        let _ = writeln!(
            out,
            "  conflict {} {}: {}",
            c.kind.label(),
            c.name,
            c.message
        );
    }
    match &outcome.report {
        Some(rep) => {
            let _ = writeln!(
                out,
                "Applied: {} objects written, {} failed",
                rep.written(),
                rep.failures.len()
            );
            for f in &rep.failures {
                let _ = writeln!(
                    out,
                    "  failed {} {} {}: {}",
                    f.action,
                    f.kind.label(),
                    f.name,
                    f.message
                );
            }
        }
        None => {
            let _ = writeln!(out, "Dry run: nothing was written.");
        }
    }
    let _ = writeln!(
        out,
        "Nautobot requests: {} ({} GET, {} POST, {} PATCH, {} DELETE)",
        requests.total(),
        requests.gets,
        requests.posts,
        requests.patches,
        requests.deletes
    );
    out
}

/// A live plan as JSON.
pub fn plan_json(server: &Server, outcome: &crate::nautobot::SyncOutcome) -> String {
    let doc = serde_json::json!({
        "nautobot": dialect::server_status(server),
        "plan": outcome.plan,
        "report": outcome.report,
        "prerequisites": outcome.prerequisites_created,
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}
