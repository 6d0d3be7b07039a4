//! What the subcommands do (argument parsing is in `main.rs`).

pub mod view;

use std::path::{Path, PathBuf};

use crate::api::NautobotSync;
use crate::cluster::{ClusterIndex, LoadError, LoadWarning};
use crate::config::{InvalidSpec, SyncConfig};
use crate::nautobot::{
    self, ApiError, ApplyOptions, ClientBuildError, ClientConfig, HttpClient, SyncError, Token,
};
use crate::project::{Projection, Projector};
use crate::runtime::process::RuntimeError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A file (or standard input) cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file; `-` is standard input.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The snapshot is not JSON.
    #[error("{} is not JSON: {source}", path.display())]
    NotJson {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// The manifest is not a NautobotSync.
    #[error("{} is not a valid NautobotSync: {message}", path.display())]
    Manifest {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The NautobotSync's spec is invalid.
    #[error("invalid NautobotSync: {0}")]
    InvalidSpec(#[from] InvalidSpec),
    /// The snapshot is not a List.
    #[error(transparent)]
    Snapshot(#[from] LoadError),
    /// The command needs a Nautobot and none was given.
    #[error("--nautobot URL is required")]
    NoNautobot,
    /// No token was given.
    #[error("set NAUTOBOT_TOKEN or --token-file")]
    NoToken,
    /// The HTTP client cannot be built.
    #[error(transparent)]
    Client(#[from] ClientBuildError),
    /// Nautobot refused or failed (the connection check).
    #[error(transparent)]
    Nautobot(#[from] ApiError),
    /// The pass could not start or read what it needs.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// The pass started and stopped early; `report` is what it did until then.
    #[error("{report}\nthe pass stopped early: {error}")]
    Stopped {
        /// The apply report so far.
        report: String,
        /// Why it stopped.
        error: String,
    },
    /// No async runtime.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The operator stopped with an error.
    #[error(transparent)]
    Operator(#[from] crate::controller::StartError),
}

fn read(path: &Path) -> Result<String, CliError> {
    let read = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    };
    read.map_err(|source| CliError::Read {
        path: path.to_path_buf(),
        source,
    })
}

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
    /// At SIGTERM, the seconds a sync pass in flight may still take; after them it starts no
    /// new request, and 5 s later it is dropped. Its final status is written, then the Lease
    /// released. Keep it under the pod's terminationGracePeriodSeconds minus 15.
    #[arg(long, env = "SHUTDOWN_GRACE_SECONDS", default_value_t = 10)]
    pub shutdown_grace_seconds: u64,
}

/// `run`: the operator, until SIGTERM.
pub fn run(args: RunArgs) -> Result<(), CliError> {
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
        shutdown_grace: std::time::Duration::from_secs(args.shutdown_grace_seconds),
    })?;
    Ok(())
}

/// Reads a NautobotSync manifest (YAML or JSON).
pub fn read_nautobotsync(path: &Path) -> Result<NautobotSync, CliError> {
    let text = read(path)?;
    serde_saphyr::from_str::<NautobotSync>(&text).map_err(|e| CliError::Manifest {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
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
    fn client(&self, cfg: &SyncConfig) -> Result<HttpClient, ClientBuildError> {
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
) -> Result<(SyncConfig, Projection, Vec<LoadWarning>), CliError> {
    let obj = read_nautobotsync(nautobotsync)?;
    let cfg = SyncConfig::from_spec(&obj.spec)?;
    let value: serde_json::Value =
        serde_json::from_str(&read(snapshot)?).map_err(|source| CliError::NotJson {
            path: snapshot.to_path_buf(),
            source,
        })?;
    let (index, load_warnings) = ClusterIndex::from_list(&value)?;
    let projection = Projector::new(&cfg, &index).project_all();
    Ok((cfg, projection, load_warnings))
}

/// `plan`: projects a snapshot file under a NautobotSync and renders the records.
/// How a command that ran ended, beside its text: the process exit code (`--help` and the
/// README list them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: done, or (`plan --nautobot`) nothing to change.
    Clean,
    /// 2 (`plan --nautobot`): changes are pending, deletions held back by the guard included.
    Changes,
    /// 1 (`apply`): the pass ran but this many objects could not be written.
    Failed(usize),
}

impl Exit {
    /// The process exit code. Errors (a bad file, an unreachable Nautobot) exit 1 as well.
    pub fn code(self) -> u8 {
        match self {
            Exit::Clean => 0,
            Exit::Failed(_) => 1,
            Exit::Changes => 2,
        }
    }
}

pub fn plan(snapshot: &Path, nautobotsync: &Path, json: bool) -> Result<String, CliError> {
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
) -> Result<(String, Exit), CliError> {
    let (cfg, projection, _) = load(snapshot, nautobotsync)?;
    let client = conn.client(&cfg)?;
    let policy = crate::plan::Policy::new(&cfg, jiff::Timestamp::now(), false);
    let (server, outcome) = crate::runtime::process::block_on(async {
        let server = client.check().await?;
        let opts = ApplyOptions::for_spec(&cfg);
        let outcome = nautobot::full_sync(&client, &cfg, &projection, &policy, true, opts).await?;
        Ok::<_, CliError>((server, outcome))
    })??;
    let text = if json {
        view::plan_json(&server, &outcome)
    } else {
        view::plan_table(&server, &outcome, client.stats())
    };
    let pending = !outcome.plan.is_empty() || !outcome.plan.held.is_empty();
    Ok((text, if pending { Exit::Changes } else { Exit::Clean }))
}

/// `apply`: one full sync pass of a snapshot into Nautobot (a dry run when the spec says so).
pub fn apply(
    snapshot: &Path,
    nautobotsync: &Path,
    conn: &Connection,
    allow_mass_deletion: bool,
) -> Result<(String, Exit), CliError> {
    let (cfg, projection, _) = load(snapshot, nautobotsync)?;
    let client = conn.client(&cfg)?;
    let policy = crate::plan::Policy::new(&cfg, jiff::Timestamp::now(), allow_mass_deletion);
    let opts = ApplyOptions::for_spec(&cfg);
    let (server, outcome) = crate::runtime::process::block_on(async {
        let server = client.check().await?;
        let dry_run = cfg.dry_run;
        let outcome =
            nautobot::full_sync(&client, &cfg, &projection, &policy, dry_run, opts).await?;
        Ok::<_, CliError>((server, outcome))
    })??;
    let text = view::plan_table(&server, &outcome, client.stats());
    match outcome.report.as_ref().and_then(|r| r.aborted.as_ref()) {
        Some(e) => Err(CliError::Stopped {
            report: text,
            error: e.to_string(),
        }),
        None => {
            let failed = outcome.report.as_ref().map_or(0, |r| r.failures.len());
            Ok((
                text,
                if failed == 0 {
                    Exit::Clean
                } else {
                    Exit::Failed(failed)
                },
            ))
        }
    }
}
