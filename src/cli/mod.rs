//! What the subcommands do (argument parsing is in `main.rs`).

pub mod view;

use std::path::Path;

use crate::api::NautobotSync;
use crate::cluster::{ClusterIndex, LoadWarning};
use crate::config::SyncConfig;
use crate::nautobot::{self, ApplyOptions, ClientConfig, HttpClient, Token};
use crate::project::{Projection, Projector};

/// Options of `run`.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Namespaces whose NautobotSync objects are served (comma-separated). Default: the
    /// operator's own namespace (POD_NAMESPACE). Only these are honoured, so that nobody who can
    /// create a NautobotSync elsewhere can send the cluster's inventory to a URL of their choice.
    #[arg(long, env = "WATCH_NAMESPACES", value_delimiter = ',')]
    pub namespaces: Vec<String>,
    /// The operator's own namespace (where its Lease lives).
    #[arg(long, env = "POD_NAMESPACE", default_value = "nautobot-sync")]
    pub pod_namespace: String,
    /// This replica's name in the Lease (default: POD_NAME, else the host name).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// Address of the metrics and health endpoints.
    #[arg(long, env = "METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: std::net::SocketAddr,
    /// Name of the coordination.k8s.io Lease used for leader election.
    #[arg(long, env = "LEASE_NAME", default_value = "nautobot-sync-operator")]
    pub lease_name: String,
    /// Run without leader election (only for a single replica).
    #[arg(long, env = "DISABLE_LEADER_ELECTION")]
    pub disable_leader_election: bool,
    /// How often KubeVirt and OpenShift discovery runs, in seconds.
    #[arg(long, env = "DISCOVERY_INTERVAL_SECONDS", default_value_t = 30)]
    pub discovery_interval_seconds: u64,
    /// Mark NautobotSyncs outside the served namespaces `Ready=False NamespaceNotServed`
    /// (needs cluster-wide list/watch on nautobotsyncs and patch on their status). Turn it off
    /// when several installations split one cluster's namespaces.
    #[arg(long, env = "REPORT_UNSERVED_NAMESPACES", default_value_t = true, action = clap::ArgAction::Set)]
    pub report_unserved_namespaces: bool,
}

/// `run`: the operator, until SIGTERM.
pub fn run(args: RunArgs) -> Result<(), String> {
    let namespaces = if args.namespaces.is_empty() {
        vec![args.pod_namespace.clone()]
    } else {
        args.namespaces.clone()
    };
    let identity = args.identity.clone().unwrap_or_else(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| format!("nautobot-sync-operator-{}", std::process::id()))
    });
    crate::controller::main(crate::controller::Options {
        namespaces,
        pod_namespace: args.pod_namespace.clone(),
        identity,
        lease_name: (!args.disable_leader_election).then(|| args.lease_name.clone()),
        metrics_addr: args.metrics_addr,
        discovery_interval: std::time::Duration::from_secs(args.discovery_interval_seconds.max(1)),
        report_unserved: args.report_unserved_namespaces,
    })
}

/// Reads a NautobotSync manifest (YAML or JSON).
pub fn read_nautobotsync(path: &Path) -> Result<NautobotSync, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_saphyr::from_str::<NautobotSync>(&text)
        .map_err(|e| format!("{} is not a valid NautobotSync: {e}", path.display()))
}

/// How to reach Nautobot from the command line.
#[derive(Debug)]
pub struct Connection {
    /// Base URL.
    pub url: String,
    /// Token (never printed).
    pub token: String,
    /// Optional PEM CA bundle.
    pub ca_bundle: Option<Vec<u8>>,
    /// Skip TLS verification.
    pub insecure: bool,
}

impl Connection {
    fn client(&self, cfg: &SyncConfig) -> Result<HttpClient, String> {
        // the spec's client, at the URL and with the TLS settings given on the command line
        let mut c =
            ClientConfig::from_spec(cfg, Token::new(self.token.clone()), self.ca_bundle.clone());
        c.url = self.url.clone();
        c.insecure_skip_tls_verify = self.insecure;
        HttpClient::new(c)
    }
}

/// Reads the spec and the snapshot and projects it.
fn load(
    snapshot: &Path,
    nautobotsync: &Path,
) -> Result<(SyncConfig, Projection, Vec<LoadWarning>), String> {
    let obj = read_nautobotsync(nautobotsync)?;
    let cfg = SyncConfig::from_spec(&obj.spec).map_err(|e| format!("invalid NautobotSync: {e}"))?;
    let text = if snapshot == Path::new("-") {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| format!("cannot read standard input: {e}"))?
    } else {
        std::fs::read_to_string(snapshot)
            .map_err(|e| format!("cannot read {}: {e}", snapshot.display()))?
    };
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not JSON: {e}", snapshot.display()))?;
    let (index, load_warnings) = ClusterIndex::from_list(&value)?;
    let projection = Projector::new(&cfg, &index).project_all();
    Ok((cfg, projection, load_warnings))
}

/// `plan`: projects a snapshot file under a NautobotSync and renders the records.
pub fn plan(snapshot: &Path, nautobotsync: &Path, json: bool) -> Result<String, String> {
    let (cfg, projection, load_warnings) = load(snapshot, nautobotsync)?;
    Ok(if json {
        view::json(&projection, &load_warnings)
    } else {
        view::table(&cfg, &projection, &load_warnings)
    })
}

/// `plan --nautobot`: the changes one pass would make, without writing anything.
pub fn plan_live(
    snapshot: &Path,
    nautobotsync: &Path,
    conn: &Connection,
    json: bool,
) -> Result<String, String> {
    let (cfg, projection, _) = load(snapshot, nautobotsync)?;
    let client = conn.client(&cfg)?;
    let policy = crate::plan::Policy::new(&cfg, jiff::Timestamp::now(), false);
    let outcome = crate::runtime::process::block_on(async {
        client.check().await.map_err(|e| e.to_string())?;
        nautobot::full_sync(
            &client,
            &cfg,
            &projection,
            &policy,
            true,
            ApplyOptions::default(),
        )
        .await
        .map_err(|e| e.to_string())
    })
    .map_err(|e| e.to_string())??;
    Ok(if json {
        view::plan_json(&outcome)
    } else {
        view::plan_table(&outcome, client.stats())
    })
}

/// `apply`: one full sync pass of a snapshot into Nautobot (a dry run when the spec says so).
pub fn apply(
    snapshot: &Path,
    nautobotsync: &Path,
    conn: &Connection,
    allow_mass_deletion: bool,
) -> Result<String, String> {
    let (cfg, projection, _) = load(snapshot, nautobotsync)?;
    let client = conn.client(&cfg)?;
    let policy = crate::plan::Policy::new(&cfg, jiff::Timestamp::now(), allow_mass_deletion);
    let opts = ApplyOptions::for_spec(&cfg);
    let outcome = crate::runtime::process::block_on(async {
        client.check().await.map_err(|e| e.to_string())?;
        nautobot::full_sync(&client, &cfg, &projection, &policy, cfg.dry_run, opts)
            .await
            .map_err(|e| e.to_string())
    })
    .map_err(|e| e.to_string())??;
    let text = view::plan_table(&outcome, client.stats());
    match outcome.report.as_ref().and_then(|r| r.aborted.as_ref()) {
        Some(e) => Err(format!("{text}\nthe pass stopped early: {e}")),
        None => Ok(text),
    }
}
