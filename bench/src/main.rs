//! `nbsync-bench`: benchmarks of nautobot-sync-operator that need no Nautobot.
//!
//! - `gen`: prints a synthetic OpenShift + KubeVirt cluster as a `kind: List` snapshot;
//! - `project`: CPU and memory of the projection on it;
//! - `cache`: the real operator binary with it in its watch caches (RSS, CPU, time to sync);
//! - `list-probe`: what deserialising one pod list costs (page or whole list, full or slim type);
//! - `live` and `fleet` need a Nautobot: one operator end to end, and several at once.
//!
//! Results and the exact commands: `docs/benchmarks.md`.

#![recursion_limit = "512"]

mod alloc;
mod cache;
mod fleet;
mod listprobe;
mod live;
mod procfs;
mod project;
mod rng;
mod source;
mod synth;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use source::Source;
use synth::Scale;

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

#[derive(Parser, Debug)]
#[command(
    name = "nbsync-bench",
    version,
    about = "Benchmarks of nautobot-sync-operator that need no Nautobot"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print a synthetic cluster as a `kind: List` JSON snapshot (sizes per kind on stderr).
    Gen(GenArgs),
    /// Measure the projection (CPU, memory) on a generated cluster or a snapshot file.
    Project(ProjectArgs),
    /// Measure the operator binary with a cluster in its watch caches (no Nautobot).
    Cache(CacheArgs),
    /// Measure what deserialising one pod list costs (page vs whole list, full vs slim type).
    ListProbe(ListProbeArgs),
    /// The operator against a real Nautobot: initial sync vs a raw reference writer, change
    /// latency and cost, a burst, idle, a full re-diff, a restart (needs a Nautobot).
    Live(LiveArgs),
    /// Several operators, each with its own generated cluster, syncing into one Nautobot at
    /// once while a probe reads a page every second (needs a Nautobot).
    Fleet(FleetArgs),
}

#[derive(Args, Debug)]
struct LiveArgs {
    #[command(flatten)]
    scale: ScaleArgs,
    /// Serve this `kind: List` snapshot instead of a generated one.
    #[arg(long, short = 's')]
    snapshot: Option<PathBuf>,
    /// The operator binary (default: target/release/nautobot-sync-operator of this workspace).
    #[arg(long)]
    operator: Option<PathBuf>,
    /// Nautobot base URL.
    #[arg(long, env = "NAUTOBOT_URL", default_value = "http://127.0.0.1:8080")]
    nautobot: String,
    /// Nautobot API token.
    #[arg(
        long,
        env = "NAUTOBOT_TOKEN",
        default_value = "0123456789abcdef0123456789abcdef01234567",
        hide_default_value = true
    )]
    token: String,
    /// Shell command that empties Nautobot; it runs twice (before the reference writer and
    /// before the operator).
    #[arg(long, default_value = "scripts/nautobot.sh reset")]
    reset: String,
    /// Single changes per kind.
    #[arg(long, default_value_t = 10)]
    singles: usize,
    /// Burst rate (changes per second, VMs and pods alternating).
    #[arg(long, default_value_t = 100)]
    burst_rate: u32,
    /// Burst length in seconds.
    #[arg(long, default_value_t = 60)]
    burst_seconds: u64,
    /// Seconds to count requests while idle.
    #[arg(long, default_value_t = 60)]
    idle_seconds: u64,
}

#[derive(Args, Debug)]
struct FleetArgs {
    /// Each cluster's size (S, L/10...); cluster i is generated with seed + i.
    #[arg(long, default_value = "S/10")]
    scale: String,
    /// Seed of the first cluster.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Operators, each with its own cluster.
    #[arg(long, default_value_t = 10)]
    operators: usize,
    /// The operator binary (default: target/release/nautobot-sync-operator of this workspace).
    #[arg(long)]
    operator: Option<PathBuf>,
    /// Nautobot base URL.
    #[arg(long, env = "NAUTOBOT_URL", default_value = "http://127.0.0.1:8080")]
    nautobot: String,
    /// Nautobot API token.
    #[arg(
        long,
        env = "NAUTOBOT_TOKEN",
        default_value = "0123456789abcdef0123456789abcdef01234567",
        hide_default_value = true
    )]
    token: String,
    /// Shell command that empties Nautobot, run once before the idle probe.
    #[arg(long, default_value = "scripts/nautobot.sh reset")]
    reset: String,
    /// Seconds the probe reads before the operators start.
    #[arg(long, default_value_t = 20)]
    idle_seconds: u64,
    /// spec.nautobot.maxRequestsPerSecond of every NautobotSync.
    #[arg(long)]
    max_requests_per_second: Option<u32>,
}

#[derive(Args, Debug)]
struct ListProbeArgs {
    #[command(flatten)]
    scale: ScaleArgs,
    /// Serve this `kind: List` snapshot instead of a generated one.
    #[arg(long, short = 's')]
    snapshot: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
struct ScaleArgs {
    /// S, L, a fraction or multiple of them (L/2, S*4), or custom (with the counts below).
    #[arg(long, default_value = "S")]
    scale: String,
    /// Seed of the generator: the same seed and scale give the same cluster.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// custom: namespaces (system ones included).
    #[arg(long)]
    namespaces: Option<usize>,
    /// custom: nodes.
    #[arg(long)]
    nodes: Option<usize>,
    /// custom: pods of Deployments, DaemonSets and Jobs (virt-launcher pods come on top).
    #[arg(long)]
    pods: Option<usize>,
    /// custom: Deployments.
    #[arg(long)]
    deployments: Option<usize>,
    /// custom: Services.
    #[arg(long)]
    services: Option<usize>,
    /// custom: VirtualMachines.
    #[arg(long)]
    vms: Option<usize>,
}

impl ScaleArgs {
    fn scale(&self) -> Result<Scale, String> {
        let base = if self.scale.eq_ignore_ascii_case("custom") {
            Scale::S
        } else {
            Scale::parse(&self.scale)?
        };
        Ok(Scale {
            namespaces: self.namespaces.unwrap_or(base.namespaces),
            nodes: self.nodes.unwrap_or(base.nodes),
            pods: self.pods.unwrap_or(base.pods),
            deployments: self.deployments.unwrap_or(base.deployments),
            services: self.services.unwrap_or(base.services),
            vms: self.vms.unwrap_or(base.vms),
        })
    }

    fn source(&self, snapshot: &Option<PathBuf>) -> Result<Source, String> {
        Ok(match snapshot {
            Some(p) => Source::File(p.clone()),
            None => Source::Generated {
                scale: self.scale()?,
                seed: self.seed,
            },
        })
    }
}

#[derive(Args, Debug)]
struct GenArgs {
    #[command(flatten)]
    scale: ScaleArgs,
    /// Write to this file instead of stdout.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ProjectArgs {
    #[command(flatten)]
    scale: ScaleArgs,
    /// Read this `kind: List` snapshot instead of generating one.
    #[arg(long, short = 's')]
    snapshot: Option<PathBuf>,
    /// Also sync pod IPs (`sync.podIps: true`).
    #[arg(long)]
    pod_ips: bool,
    /// Runs of each phase.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Cluster name in the config (default: the generator's, ocp-bench).
    #[arg(long, default_value = synth::CLUSTER)]
    cluster_name: String,
}

#[derive(Args, Debug)]
struct CacheArgs {
    #[command(flatten)]
    scale: ScaleArgs,
    /// Serve this `kind: List` snapshot instead of a generated one.
    #[arg(long, short = 's')]
    snapshot: Option<PathBuf>,
    /// The operator binary (default: target/release/nautobot-sync-operator of this workspace).
    #[arg(long)]
    operator: Option<PathBuf>,
    /// Seconds to keep watching the operator after its caches are synced.
    #[arg(long, default_value_t = 10)]
    settle_seconds: u64,
    /// Give up when the caches are not synced after this many seconds.
    #[arg(long, default_value_t = 1800)]
    timeout_seconds: u64,
    /// Extra environment of the operator, KEY=VALUE (repeatable), e.g. MALLOC_ARENA_MAX=2.
    #[arg(long = "operator-env", value_parser = parse_env)]
    operator_env: Vec<(String, String)>,
    /// After the settle time, read glibc's heap statistics of the operator through gdb and
    /// trim its free memory (shows how much of the RSS is live data).
    #[arg(long)]
    malloc_probe: bool,
    /// Then create a NautobotSync with `dryRun: true` against this Nautobot and measure the
    /// worker's first full pass (projection, reads, diff; nothing is written).
    #[arg(long, value_name = "URL")]
    dry_run_against: Option<String>,
    /// Nautobot API token for --dry-run-against.
    #[arg(
        long,
        env = "NAUTOBOT_TOKEN",
        default_value = "0123456789abcdef0123456789abcdef01234567",
        hide_default_value = true
    )]
    token: String,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

fn gen_cmd(args: &GenArgs) -> Result<String, String> {
    let source = args.scale.source(&None)?;
    let out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
    let mut sizes: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    let mut err: Option<std::io::Error> = None;
    let mut first = true;
    let mut write = |out: &mut std::io::BufWriter<Box<dyn Write>>, s: &[u8]| {
        if err.is_none()
            && let Err(e) = out.write_all(s)
        {
            err = Some(e);
        }
    };
    write(
        &mut out,
        br#"{"apiVersion":"v1","kind":"List","metadata":{"resourceVersion":""},"items":["#,
    );
    source.for_each(&mut |v| {
        let bytes = serde_json::to_vec(&v).unwrap_or_default();
        let e = sizes
            .entry(v["kind"].as_str().unwrap_or("?").to_string())
            .or_default();
        e.0 += 1;
        e.1 += bytes.len();
        write(&mut out, if first { b"\n" } else { b",\n" });
        first = false;
        write(&mut out, &bytes);
    })?;
    write(&mut out, b"\n]}\n");
    if let Some(e) = err {
        return Err(e.to_string());
    }
    out.flush().map_err(|e| e.to_string())?;
    let mut report = format!(
        "{source}\n| kind | objects | MiB | KiB per object |\n| --- | ---: | ---: | ---: |\n"
    );
    let (mut n, mut b) = (0, 0);
    for (k, (c, bytes)) in &sizes {
        n += c;
        b += bytes;
        report.push_str(&format!(
            "| {k} | {c} | {:.1} | {:.1} |\n",
            *bytes as f64 / 1048576.0,
            *bytes as f64 / 1024.0 / *c as f64
        ));
    }
    report.push_str(&format!(
        "| total | {n} | {:.1} | {:.1} |\n",
        b as f64 / 1048576.0,
        b as f64 / 1024.0 / n.max(1) as f64
    ));
    eprint!("{report}");
    Ok(String::new())
}

fn default_operator() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target/release/nautobot-sync-operator")
}

fn main() -> ExitCode {
    nbsync::nautobot::install_crypto_provider();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Gen(a) => gen_cmd(a),
        Command::Project(a) => a.scale.source(&a.snapshot).and_then(|source| {
            project::run(&project::Options {
                source,
                pod_ips: a.pod_ips,
                repeat: a.repeat,
                cluster_name: a.cluster_name.clone(),
            })
        }),
        Command::Cache(a) => a.scale.source(&a.snapshot).and_then(|source| {
            cache::run(&cache::Options {
                source,
                operator: a.operator.clone().unwrap_or_else(default_operator),
                settle: Duration::from_secs(a.settle_seconds),
                timeout: Duration::from_secs(a.timeout_seconds),
                env: a.operator_env.clone(),
                malloc_probe: a.malloc_probe,
                dry_run_against: a.dry_run_against.clone().map(|url| (url, a.token.clone())),
            })
        }),
        Command::Live(a) => a.scale.source(&a.snapshot).and_then(|source| {
            live::run(&live::Options {
                source,
                operator: a.operator.clone().unwrap_or_else(default_operator),
                nautobot: a.nautobot.clone(),
                token: a.token.clone(),
                reset: a.reset.clone(),
                singles: a.singles,
                burst_rate: a.burst_rate,
                burst: Duration::from_secs(a.burst_seconds),
                idle: Duration::from_secs(a.idle_seconds),
            })
        }),
        Command::Fleet(a) => Scale::parse(&a.scale).and_then(|scale| {
            fleet::run(&fleet::Options {
                operators: a.operators.max(1),
                scale,
                seed: a.seed,
                operator: a.operator.clone().unwrap_or_else(default_operator),
                nautobot: a.nautobot.clone(),
                token: a.token.clone(),
                reset: a.reset.clone(),
                idle: Duration::from_secs(a.idle_seconds),
                max_per_second: a.max_requests_per_second,
            })
        }),
        Command::ListProbe(a) => a
            .scale
            .source(&a.snapshot)
            .and_then(|source| listprobe::run(&listprobe::Options { source })),
    };
    match result {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("nbsync-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nbsync::cluster::ClusterIndex;
    use nbsync::project::Projector;

    fn tiny() -> Scale {
        Scale {
            namespaces: 40,
            nodes: 8,
            pods: 300,
            deployments: 30,
            services: 60,
            vms: 40,
        }
    }

    #[test]
    fn a_generated_cluster_loads_without_warnings_and_projects() {
        let mut items = Vec::new();
        let counts = synth::generate(&tiny(), 3, &mut |v| items.push(v));
        assert_eq!(counts["Namespace"], 40);
        assert_eq!(counts["Node"], 8);
        // every tenth Deployment of the generator is a StatefulSet instead
        assert_eq!(counts["Deployment"] + counts["StatefulSet"], 30);
        assert_eq!(counts["StatefulSet"], 3);
        assert!(
            counts["DaemonSet"] > 0 && counts["Ingress"] > 0,
            "{counts:?}"
        );
        assert_eq!(counts["Service"], 60);
        assert_eq!(counts["VirtualMachine"], 40);
        assert!(counts["Pod"] >= 300, "{counts:?}");
        let list = serde_json::json!({"kind": "List", "items": items});
        let (idx, warnings) = ClusterIndex::from_list(&list).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let cfg = project::config(synth::CLUSTER, false).unwrap();
        let p = Projector::new(&cfg, &idx).project_all();
        let kinds = p.counts();
        assert!(kinds.len() >= 8, "{kinds:?}");
        // names are unique per namespace
        let mut keys = std::collections::HashSet::new();
        for i in list["items"].as_array().unwrap() {
            let k = (
                i["kind"].as_str().unwrap().to_string(),
                i["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                i["metadata"]["name"].as_str().unwrap().to_string(),
            );
            assert!(keys.insert(k.clone()), "duplicate {k:?}");
        }
    }

    #[test]
    fn generation_is_deterministic() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        synth::generate(&tiny(), 5, &mut |v| a.push(v));
        synth::generate(&tiny(), 5, &mut |v| b.push(v));
        assert_eq!(a, b);
    }

    #[test]
    fn scales_parse() {
        assert_eq!(Scale::parse("L").unwrap(), Scale::L);
        assert_eq!(Scale::parse("L/2").unwrap().pods, 25_000);
        assert_eq!(Scale::parse("S*2").unwrap().vms, 1_000);
        assert!(Scale::parse("M").is_err());
    }
}
