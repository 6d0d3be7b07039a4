//! An in-place upgrade of Nautobot 2.4 to 3.x under a synced cluster, as an admin does it:
//! `scripts/nautobot.sh upgrade-from` copies the 2.4 test database and runs 3.x's `migrate` over
//! it. Nautobot's 3.0 migration turns each device's `cluster` into a DeviceClusterAssignment
//! with an id of its own; the first pass against 3.x must link the node devices again under the
//! operator's ids without one failed write, leave a person's device and its assignment alone,
//! and the next pass must find nothing to do.
//!
//! Needs both Nautobots installed, so it runs only when `NBSYNC_UPGRADE_FROM` names the 2.4
//! release (scripts/test.sh sets it after the 2.4 suites); it upgrades into the default 3.x.

#[path = "support/nautobot.rs"]
mod nautobot;

use std::collections::{BTreeMap, BTreeSet};

use nautobot::*;
use nbsync::cluster::ClusterIndex;
use nbsync::model::{ApiVersion, Kind, Record};
use nbsync::nautobot::NautobotApi;
use nbsync::project::{Projection, Projector};
use serde_json::json;
use uuid::Uuid;

/// Runs `scripts/nautobot.sh` for Nautobot `version` (the default 3.x when `None`); its stdout.
fn nautobot_sh(version: Option<&str>, args: &[&str]) -> String {
    let mut cmd = std::process::Command::new("bash");
    cmd.arg(repo("scripts/nautobot.sh")).args(args);
    match version {
        Some(v) => cmd.env("NAUTOBOT_VERSION", v),
        None => cmd.env_remove("NAUTOBOT_VERSION"),
    };
    let out = cmd.stderr(std::process::Stdio::inherit()).output().unwrap();
    assert!(out.status.success(), "scripts/nautobot.sh {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

/// The URL `scripts/nautobot.sh env` names for `version`.
fn url_of(version: Option<&str>) -> String {
    nautobot_sh(version, &["env"])
        .lines()
        .find_map(|l| l.strip_prefix("export NAUTOBOT_URL="))
        .expect("env names the URL")
        .to_string()
}

/// The sample projected in the shape Nautobot `version` stores it.
fn projection(version: ApiVersion) -> Projection {
    let cfg = config(json!({}));
    let (idx, _) = ClusterIndex::from_list(&sample_snapshot()).unwrap();
    let mut p = Projector::new(&cfg, &idx).project_all();
    if let Some(stored) = nbsync::plan::dialect::adapt(&p.records, version) {
        p.records = stored
            .into_iter()
            .map(|(id, r)| (id, r.into_owned()))
            .collect::<BTreeMap<Uuid, Record>>();
    }
    p
}

fn ids_of(p: &Projection, kind: Kind) -> BTreeSet<Uuid> {
    p.records
        .values()
        .filter(|r| r.kind == kind)
        .map(|r| r.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_place_upgrade_from_2_4_to_3_relinks_the_nodes_in_one_pass_and_keeps_the_rest() {
    let Ok(from) = std::env::var("NBSYNC_UPGRADE_FROM") else {
        eprintln!(
            "SKIPPED: set NBSYNC_UPGRADE_FROM=2.4.44 (scripts/test.sh does, with both Nautobots installed)"
        );
        return;
    };
    nbsync::nautobot::install_crypto_provider();
    let cfg = config(json!({}));

    // a cluster synced into Nautobot 2.4, and a person's own device in the same Cluster
    nautobot_sh(Some(&from), &["reset"]);
    let old = client(&url_of(Some(&from)));
    let server = old.check().await.unwrap();
    assert_eq!(
        (server.api, server.release.as_deref()),
        (ApiVersion::V2_4, Some(from.as_str()))
    );
    ensure_location(&old, "ocp-lab-dc1").await;
    let on_2_4 = projection(ApiVersion::V2_4);
    let first = sync(&old, &cfg, &on_2_4).await;
    assert_eq!(first.report.as_ref().unwrap().failures.len(), 0);
    assert!(sync(&old, &cfg, &on_2_4).await.plan.is_empty());
    let node = old
        .list(
            "dcim/devices/",
            &[("name", "ocp-lab-worker-0.ocp-lab".into())],
        )
        .await
        .unwrap()
        .remove(0);
    old.update(
        "dcim/devices/",
        vec![json!({"id": node["id"], "comments": "rack 12, left PSU replaced"})],
    )
    .await
    .unwrap();
    let person = old
        .create(
            "dcim/devices/",
            vec![json!({
                "name": "lab-switch-01",
                "device_type": node["device_type"]["id"],
                "role": node["role"]["id"],
                "location": node["location"]["id"],
                "status": {"name": "Active"},
                "cluster": node["cluster"]["id"],
            })],
        )
        .await
        .unwrap()
        .remove(0);

    // the upgrade, as an admin does it
    let started = std::time::Instant::now();
    nautobot_sh(None, &["upgrade-from", &from]);
    eprintln!(
        "upgraded {from} to the default Nautobot in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    let new = client(&url_of(None));
    let server = new.check().await.unwrap();
    assert!(server.api.has_device_cluster_assignments(), "{server:?}");
    assert_eq!(server.release, Some(installed_release()));

    // the first 3.x pass: each node linked again under the operator's id, nothing else
    let on_3 = projection(server.api);
    let nodes = ids_of(&on_3, Kind::DeviceClusterAssignment);
    assert_eq!(nodes.len(), 6, "the sample's nodes");
    let before = new.stats();
    let out = sync(&new, &cfg, &on_3).await;
    let report = out.report.as_ref().unwrap();
    assert!(
        report.failures.is_empty(),
        "no failed write: {:#?}",
        report.failures
    );
    let created: BTreeSet<Uuid> = out.plan.creates.iter().map(|o| o.id).collect();
    assert_eq!(created, nodes, "{:#?}", out.plan);
    assert_eq!(out.plan.replaced.len(), nodes.len(), "{:#?}", out.plan);
    assert!(
        out.plan.replaced.iter().all(|o| !nodes.contains(&o.id)),
        "the migration's ids are replaced"
    );
    assert!(out.plan.deletes.is_empty() && out.plan.updates.is_empty());
    let writes = new.stats().since(&before).writes();
    eprintln!("first pass on 3.x: {writes} writes");
    assert!(writes <= 2, "one bulk delete and one bulk create: {writes}");

    // converged: the next pass writes nothing, and Nautobot holds exactly the projection
    assert!(sync(&new, &cfg, &on_3).await.plan.is_empty());
    let held = owned(&new, "ocp-lab").await;
    assert_eq!(
        held.keys().collect::<Vec<_>>(),
        on_3.records.keys().collect::<Vec<_>>()
    );
    // what the person did is kept: the comment, their device and its assignment
    let node = new
        .get(
            "dcim/devices/",
            node["id"].as_str().unwrap().parse().unwrap(),
        )
        .await
        .unwrap()
        .expect("the node's device is kept");
    assert_eq!(node["comments"], json!("rack 12, left PSU replaced"));
    let theirs = new
        .list(
            "dcim/device-cluster-assignments/",
            &[("device", person["id"].as_str().unwrap().to_string())],
        )
        .await
        .unwrap();
    assert_eq!(theirs.len(), 1, "the person's device stays in the Cluster");
    let ours = held.values().find(|o| o.kind == Kind::Cluster).unwrap();
    assert_eq!(
        theirs[0]["cluster"]["id"],
        json!(ours.id.to_string()),
        "{theirs:#?}"
    );
}
