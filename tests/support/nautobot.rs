//! Test harness for a real Nautobot started by `scripts/nautobot.sh`.
//!
//! Tests share one Nautobot, so they run one at a time (a global lock) and each starts from a
//! clean database (`scripts/nautobot.sh reset`). Without a reachable Nautobot a test is skipped
//! with a message, unless `NBSYNC_REQUIRE_NAUTOBOT=1` (set by CI), where it fails.

#![allow(dead_code)]

use std::path::Path;
use std::sync::{LazyLock, OnceLock};

use nbsync::cluster::ClusterIndex;
use nbsync::config::SyncConfig;
use nbsync::nautobot::{
    self, ApplyOptions, ClientConfig, HttpClient, NautobotApi, SyncOutcome, Token,
};
use nbsync::plan::ObservedObject;
use nbsync::project::{Projection, Projector};
use serde_json::{Value, json};
use tokio::sync::{Mutex, MutexGuard};

/// The test token of the seed database.
pub const TEST_TOKEN: &str = "0123456789abcdef0123456789abcdef01234567";

static LOCK: LazyLock<Mutex<()>> = LazyLock::new(|| Mutex::new(()));
/// The REST API version of the Nautobot under test, once [`clean`] has asked it.
static VERSION: OnceLock<nbsync::model::ApiVersion> = OnceLock::new();

/// A clean Nautobot, held for the duration of one test.
pub struct Nautobot {
    pub url: String,
    pub api: HttpClient,
    _guard: MutexGuard<'static, ()>,
}

pub fn repo(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(p)
        .display()
        .to_string()
}

fn url() -> String {
    std::env::var("NAUTOBOT_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into())
}

/// A client with the test token (or NAUTOBOT_TOKEN).
/// The Nautobot release under test: the one `scripts/nautobot.sh` installs for
/// `NAUTOBOT_VERSION` (3.2.7 unless told).
pub fn installed_release() -> String {
    std::env::var("NAUTOBOT_VERSION").unwrap_or_else(|_| "3.2.7".into())
}

pub fn client(url: &str) -> HttpClient {
    nbsync::nautobot::install_crypto_provider();
    let token = std::env::var("NAUTOBOT_TOKEN").unwrap_or_else(|_| TEST_TOKEN.into());
    let mut cfg = ClientConfig::new(url, Token::new(token));
    cfg.max_attempts = 3;
    HttpClient::new(cfg).unwrap()
}

async fn healthy(url: &str) -> bool {
    let Ok(http) = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
    else {
        return false;
    };
    http.get(format!("{url}/health/"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// Takes the Nautobot lock and resets the database; `None` (test skipped) when no Nautobot runs
/// and CI does not require one.
pub async fn clean() -> Option<Nautobot> {
    nbsync::nautobot::install_crypto_provider();
    let guard = LOCK.lock().await;
    let url = url();
    if !healthy(&url).await {
        if std::env::var("NBSYNC_REQUIRE_NAUTOBOT").as_deref() == Ok("1") {
            panic!("Nautobot is not running at {url}; start it with scripts/nautobot.sh up");
        }
        eprintln!("SKIPPED: no Nautobot at {url} (run scripts/nautobot.sh up)");
        return None;
    }
    let started = std::time::Instant::now();
    let status = tokio::process::Command::new("bash")
        .arg(repo("scripts/nautobot.sh"))
        .arg("reset")
        .status()
        .await
        .expect("scripts/nautobot.sh runs");
    assert!(status.success(), "scripts/nautobot.sh reset failed");
    eprintln!("Nautobot reset in {:.1}s", started.elapsed().as_secs_f64());
    let api = client(&url);
    // speak the version this Nautobot speaks (2.4 or 3.x), as the operator does before a pass
    let server = api
        .check()
        .await
        .expect("the test Nautobot is a supported version");
    eprintln!("{url} is {}", server.describe());
    // the release read from /api/status/ is the one scripts/nautobot.sh installed
    assert_eq!(server.release, Some(installed_release()));
    VERSION.get_or_init(|| server.api);
    ensure_location(&api, "ocp-lab-dc1").await;
    Some(Nautobot {
        url,
        api,
        _guard: guard,
    })
}

/// What a person sets up before installing the operator: a location type that allows devices
/// and clusters, and the Location named in the spec.
pub async fn ensure_location<A: NautobotApi>(api: &A, name: &str) {
    let types = api
        .list("dcim/location-types/", &[("name", "Cluster Site".into())])
        .await
        .unwrap();
    if types.is_empty() {
        api.create(
            "dcim/location-types/",
            vec![json!({"name": "Cluster Site", "content_types": ["dcim.device", "virtualization.cluster"]})],
        )
        .await
        .unwrap();
    }
    let found = api
        .list("dcim/locations/", &[("name", name.into())])
        .await
        .unwrap();
    if found.is_empty() {
        api.create(
            "dcim/locations/",
            vec![json!({"name": name, "location_type": {"name": "Cluster Site"}, "status": {"name": "Active"}})],
        )
        .await
        .unwrap();
    }
}

/// The sample snapshot as JSON.
pub fn sample_snapshot() -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo("examples/snapshot.json")).unwrap()).unwrap()
}

/// The sample NautobotSync's config with a JSON merge patch on its spec.
pub fn config(patch: Value) -> SyncConfig {
    let text = std::fs::read_to_string(repo("examples/nautobotsync.yaml")).unwrap();
    let obj: nbsync::api::NautobotSync = serde_saphyr::from_str(&text).unwrap();
    let mut spec = serde_json::to_value(&obj.spec).unwrap();
    json_patch::merge(&mut spec, &patch);
    SyncConfig::from_spec(&serde_json::from_value(spec).unwrap()).unwrap()
}

/// Projects a snapshot, in the shape the Nautobot under test stores it (`plan::dialect`: on
/// 2.4 a node's cluster is a field of its device, not an assignment object).
pub fn project(cfg: &SyncConfig, snapshot: &Value) -> Projection {
    let (idx, _) = ClusterIndex::from_list(snapshot).unwrap();
    let mut p = Projector::new(cfg, &idx).project_all();
    let version = VERSION
        .get()
        .copied()
        .unwrap_or(nbsync::model::ApiVersion::NEWEST);
    if let Some(stored) = nbsync::plan::dialect::adapt(&p.records, version).map(|a| {
        a.into_iter()
            .map(|(id, r)| (id, r.into_owned()))
            .collect::<std::collections::BTreeMap<_, _>>()
    }) {
        p.records = stored;
    }
    p
}

/// One full pass with the default options at the real current time.
pub async fn sync(api: &HttpClient, cfg: &SyncConfig, p: &Projection) -> SyncOutcome {
    sync_at(api, cfg, p, jiff::Timestamp::now(), false).await
}

/// One full pass at `now`.
pub async fn sync_at(
    api: &HttpClient,
    cfg: &SyncConfig,
    p: &Projection,
    now: jiff::Timestamp,
    allow_mass_deletion: bool,
) -> SyncOutcome {
    let policy = nbsync::plan::Policy::new(cfg, now, allow_mass_deletion);
    let outcome = nautobot::full_sync(api, cfg, p, &policy, false, ApplyOptions::default())
        .await
        .unwrap_or_else(|e| panic!("sync failed: {e}"));
    if let Some(e) = outcome.report.as_ref().and_then(|r| r.aborted.as_ref()) {
        panic!("sync aborted: {e}");
    }
    outcome
}

/// Everything `cluster` owns, read back from Nautobot.
pub async fn owned(
    api: &HttpClient,
    cluster: &str,
) -> std::collections::BTreeMap<uuid::Uuid, ObservedObject> {
    let resolver = nautobot::bootstrap::bootstrap(
        api,
        &config(json!({"clusterName": cluster})),
        &std::collections::BTreeMap::<uuid::Uuid, nbsync::model::Record>::new(),
        true,
    )
    .await
    .unwrap();
    nautobot::observe::load_owned(api, cluster, &resolver)
        .await
        .unwrap()
}

/// Mutates the item of `kind` named `name` in a snapshot.
pub fn edit(snapshot: &mut Value, kind: &str, name: &str, f: impl FnOnce(&mut Value)) {
    let item = snapshot["items"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|i| i["kind"] == kind && i["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in the snapshot"));
    f(item);
}

/// Removes the items of `kind` named `name`.
pub fn remove(snapshot: &mut Value, kind: &str, name: &str) {
    snapshot["items"]
        .as_array_mut()
        .unwrap()
        .retain(|i| !(i["kind"] == kind && i["metadata"]["name"] == name));
}

/// A VM a person made in Nautobot under one of the sample's names (`rhel9-app-01`), in the
/// operator's Cluster and the `shop-prod` Tenant (both must exist); its answer.
pub async fn hand_made_vm(api: &HttpClient, extra: Value) -> Value {
    let cluster = api
        .list("virtualization/clusters/", &[("name", "ocp-lab".into())])
        .await
        .unwrap();
    let tenant = api
        .list("tenancy/tenants/", &[("name", "ocp-lab/shop-prod".into())])
        .await
        .unwrap();
    let mut body = json!({"name": "rhel9-app-01", "cluster": cluster[0]["id"], "tenant": tenant[0]["id"],
                          "status": {"name": "Planned"}});
    for (k, v) in extra.as_object().into_iter().flatten() {
        body[k] = v.clone();
    }
    let mut made = api
        .create("virtualization/virtual-machines/", vec![body])
        .await
        .unwrap();
    made.remove(0)
}
