//! `cache`: the real operator binary with a large cluster in its watch caches.
//!
//! A `kube_stand_in::StandIn` (in this process) serves the snapshot, KubeVirt CRDs first; the
//! operator runs as a child process with no NautobotSync object, so it talks to no Nautobot:
//! it lists and watches the cluster and holds it. We wait for every "watch synced" line of its
//! JSON log and read the child's RSS and CPU from /proc.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use kube_stand_in::{Options as StandInOptions, StandIn};
use serde_json::{Value, json};

use crate::procfs;
use crate::source::Source;

/// The KubeVirt CRDs the stand-in needs before it serves VMs.
use nbsync::cluster::{CORE_KINDS, KUBEVIRT_KINDS};

const KUBEVIRT_CRDS: &str = include_str!("../../examples/kubevirt-crds.json");

/// The watches the operator must report synced (the operator's own lists): the core kinds,
/// KubeVirt's, and the optional APIs the stand-in serves (OpenShift's Routes, CDI's
/// DataVolumes from `examples/kubevirt-crds.json`).
fn watches() -> impl Iterator<Item = &'static str> {
    CORE_KINDS
        .into_iter()
        .chain(KUBEVIRT_KINDS)
        .chain(["routes", "datavolumes"])
}

/// Options of `cache`.
#[derive(Debug, Clone)]
pub struct Options {
    /// What the stand-in serves.
    pub source: Source,
    /// The operator binary.
    pub operator: PathBuf,
    /// How long to watch the operator after its caches are synced.
    pub settle: Duration,
    /// Give up when the caches are not synced after this long.
    pub timeout: Duration,
    /// Extra environment of the operator (e.g. `MALLOC_ARENA_MAX=2`).
    pub env: Vec<(String, String)>,
    /// After the settle time, ask glibc (through gdb) how much of the heap is in use
    /// (`malloc_stats`), then return free pages to the system (`malloc_trim(0)`) and read the RSS
    /// again: what RSS is live data and what is freed memory the allocator keeps.
    pub malloc_probe: bool,
    /// Then a NautobotSync with `dryRun: true` against this Nautobot (URL, token): the worker's
    /// first full pass is measured (nothing is written).
    pub dry_run_against: Option<(String, String)>,
}

/// The operator's own namespace.
const NS: &str = "nautobot-sync";

pub(crate) async fn stand_in(source: &Source, out: &mut String) -> Result<StandIn, String> {
    let s = StandIn::start_with(StandInOptions {
        openshift: true,
        // the watch history holds whole objects; a few are enough for this test
        history_limit: 64,
        ..StandInOptions::default()
    })
    .await;
    let crd: Value =
        serde_saphyr::from_str(&nbsync::api::crd_yaml()).map_err(|e| format!("CRD YAML: {e}"))?;
    s.apply_json(crd)
        .map_err(|e| format!("NautobotSync CRD: {e:?}"))?;
    let crds: Value = serde_json::from_str(KUBEVIRT_CRDS).map_err(|e| e.to_string())?;
    s.load_list(crds)
        .map_err(|e| format!("KubeVirt CRDs: {e:?}"))?;
    s.apply_json(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}))
        .map_err(|e| format!("namespace: {e:?}"))?;
    let rss0 = procfs::rss_mib("self").unwrap_or(0.0);
    let t0 = Instant::now();
    let mut failed = 0usize;
    let mut first_error = None;
    let counts = source.for_each(&mut |v| {
        if let Err(e) = s.apply_json(v) {
            failed += 1;
            first_error.get_or_insert(format!("{e:?}"));
        }
    })?;
    out.push_str(&format!(
        "stand-in loaded {} objects in {:.1} s ({} refused{}); bench process RSS {:.0} MiB (+{:.0} MiB)\n",
        counts.values().sum::<usize>(),
        t0.elapsed().as_secs_f64(),
        failed,
        first_error.map(|e| format!(", first: {e}")).unwrap_or_default(),
        procfs::rss_mib("self").unwrap_or(0.0),
        procfs::rss_mib("self").unwrap_or(0.0) - rss0
    ));
    Ok(s)
}

/// What the operator said about one watch.
#[derive(Debug, Clone)]
struct Synced {
    at: Duration,
    objects: u64,
}

fn synced_watches(log: &str, started: Instant, seen: &mut BTreeMap<String, Synced>) {
    for line in log.lines() {
        if !line.contains("watch synced") {
            continue;
        }
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if let Some(r) = v["resource"].as_str()
            && !seen.contains_key(r)
        {
            seen.insert(
                r.to_string(),
                Synced {
                    at: started.elapsed(),
                    objects: v["objects"].as_u64().unwrap_or(0),
                },
            );
        }
    }
}

/// Runs `cache` and returns the report (Markdown).
pub fn run(opts: &Options) -> Result<String, String> {
    runtime_for(&opts.operator)?.block_on(run_async(opts))
}

/// Starts `operator run` against the stand-in's kubeconfig: its own namespace served, no
/// leader election, JSON logs to `log`, killed when dropped.
pub(crate) fn spawn_operator(
    operator: &std::path::Path,
    kubeconfig: &std::path::Path,
    metrics_addr: &str,
    log: std::fs::File,
    env: &[(String, String)],
) -> Result<tokio::process::Child, String> {
    tokio::process::Command::new(operator)
        .args([
            "run",
            "--namespaces",
            NS,
            "--pod-namespace",
            NS,
            "--disable-leader-election",
            "--metrics-addr",
            metrics_addr,
            "--log-format",
            "json",
        ])
        .env("KUBECONFIG", kubeconfig)
        .env("LOG_LEVEL", "info")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", operator.display()))
}

/// A 2-thread runtime, once the operator binary is known to exist.
pub(crate) fn runtime_for(operator: &std::path::Path) -> Result<tokio::runtime::Runtime, String> {
    if !operator.exists() {
        return Err(format!(
            "{} not found: build it with `cargo build --release --bin nautobot-sync-operator` or pass --operator",
            operator.display()
        ));
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

async fn run_async(opts: &Options) -> Result<String, String> {
    let mut out = String::new();
    out.push_str(&format!("machine: {}\n", procfs::machine()));
    out.push_str(&format!("snapshot: {}\n", opts.source));
    let s = stand_in(&opts.source, &mut out).await?;

    let dir = std::env::temp_dir().join(format!("nbsync-bench-cache-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let kubeconfig = dir.join("kubeconfig");
    s.write_kubeconfig(&kubeconfig).map_err(|e| e.to_string())?;
    let log_path = dir.join("operator.log");
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    s.clear_requests();

    let started = Instant::now();
    let bench_cpu0 = procfs::cpu_time("self").unwrap_or_default();
    let mut child = spawn_operator(&opts.operator, &kubeconfig, "127.0.0.1:0", log, &opts.env)?;
    let pid = child.id().ok_or("the operator exited at once")?.to_string();

    let mut seen: BTreeMap<String, Synced> = BTreeMap::new();
    let synced_at = loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        synced_watches(&text, started, &mut seen);
        if watches().all(|w| seen.contains_key(w)) {
            break started.elapsed();
        }
        if let Ok(Some(status)) = child.try_wait() {
            let tail: Vec<&str> = text.lines().rev().take(20).collect();
            return Err(format!(
                "the operator exited ({status}) before its caches synced; log tail:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ));
        }
        if started.elapsed() > opts.timeout {
            let _ = child.kill().await;
            return Err(format!(
                "caches not synced after {:?}; synced so far: {:?}",
                opts.timeout,
                seen.keys().collect::<Vec<_>>()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let bench_cpu_sync = procfs::cpu_time("self").unwrap_or_default() - bench_cpu0;
    let rss_sync = procfs::rss_mib(&pid).unwrap_or(0.0);
    let hwm_sync = procfs::hwm_mib(&pid).unwrap_or(0.0);
    let cpu_sync = procfs::cpu_time(&pid).unwrap_or_default();
    tokio::time::sleep(opts.settle).await;
    let rss_settled = procfs::rss_mib(&pid).unwrap_or(0.0);
    let hwm_settled = procfs::hwm_mib(&pid).unwrap_or(0.0);
    let cpu_settled = procfs::cpu_time(&pid).unwrap_or_default();
    let threads = procfs::status_kib(&pid, "Threads").unwrap_or(0);
    let probe = if opts.malloc_probe {
        Some(malloc_probe(&pid, &log_path).await)
    } else {
        None
    };

    let dry_run = match &opts.dry_run_against {
        Some((url, token)) => Some(dry_run_pass(&s, &pid, url, token).await?),
        None => None,
    };

    // requests the operator made to the stand-in
    let mut requests: BTreeMap<String, usize> = BTreeMap::new();
    for r in s.requests() {
        let path = r.path.clone();
        let watch = r.query.contains("watch=true") || r.query.contains("watch=1");
        *requests
            .entry(format!(
                "{} {}{}",
                r.method,
                path,
                if watch { " (watch)" } else { "" }
            ))
            .or_default() += 1;
    }

    // stop it
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    if tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
    let log_text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let warnings = log_text
        .lines()
        .filter(|l| l.contains("\"level\":\"WARN\"") || l.contains("\"level\":\"ERROR\""))
        .count();
    s.shutdown().await;

    out.push_str(&format!(
        "operator: {} (pid {pid}, {threads} threads){}\n\n",
        opts.operator.display(),
        if opts.env.is_empty() {
            String::new()
        } else {
            format!(
                ", environment {}",
                opts.env
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
    ));
    out.push_str("| watch | synced after s | objects |\n| --- | ---: | ---: |\n");
    for w in watches() {
        if let Some(x) = seen.get(w) {
            out.push_str(&format!(
                "| {w} | {:.2} | {} |\n",
                x.at.as_secs_f64(),
                x.objects
            ));
        }
    }
    out.push_str(&format!(
        "\n| figure | value |\n| --- | ---: |\n\
         | start to every watch synced | {:.2} s |\n\
         | RSS when synced (VmRSS) | {rss_sync:.1} MiB |\n\
         | peak RSS up to sync (VmHWM) | {hwm_sync:.1} MiB |\n\
         | RSS {settle} s after sync | {rss_settled:.1} MiB |\n\
         | peak RSS at the end (VmHWM) | {hwm_settled:.1} MiB |\n\
         | CPU (user+sys) start to sync | {:.2} s |\n\
         | CPU in the {settle} s after sync | {:.2} s |\n\
         | stand-in (this process) CPU, start to sync | {:.2} s |\n\
         | warnings/errors in the log | {warnings} |\n",
        synced_at.as_secs_f64(),
        cpu_sync.as_secs_f64(),
        (cpu_settled - cpu_sync).as_secs_f64(),
        bench_cpu_sync.as_secs_f64(),
        settle = opts.settle.as_secs(),
    ));
    if let Some(p) = probe {
        out.push_str(&p);
    }
    if let Some(d) = dry_run {
        out.push_str(&d);
    }
    out.push_str("\nrequests to the API (until the end of the settle time):\n\n| request | count |\n| --- | ---: |\n");
    for (k, v) in &requests {
        out.push_str(&format!("| {k} | {v} |\n"));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(out)
}

/// Creates a dry-run NautobotSync and measures the worker's first full pass: time, CPU, RSS
/// and its peak (the peak counter is reset first, so it is the pass's own).
async fn dry_run_pass(s: &StandIn, pid: &str, url: &str, token: &str) -> Result<String, String> {
    let api = nbsync::nautobot::HttpClient::new(nbsync::nautobot::ClientConfig::new(
        url,
        nbsync::nautobot::Token::new(token),
    ))
    .map_err(|e| e.to_string())?;
    crate::live::ensure_location(&api, "ocp-lab-dc1").await?;
    let mut spec = crate::live::sync_spec(url)?;
    spec["dryRun"] = json!(true);
    s.apply_json(crate::live::token_secret(token)?)
        .map_err(|e| format!("{e:?}"))?;
    procfs::reset_hwm(pid);
    let (rss0, cpu0) = (
        procfs::rss_mib(pid).unwrap_or(0.0),
        procfs::cpu_time(pid).unwrap_or_default(),
    );
    let started = Instant::now();
    s.apply_json(
        json!({"apiVersion": "nbsync.dev/v1alpha1", "kind": "NautobotSync",
        "metadata": {"name": "ocp-bench", "namespace": NS}, "spec": spec}),
    )
    .map_err(|e| format!("{e:?}"))?;
    let status = loop {
        let st = s
            .get("nbsync.dev/v1alpha1", "NautobotSync", Some(NS), "ocp-bench")
            .map(|o| o["status"].clone())
            .unwrap_or_default();
        let synced = st["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "Synced")
            .cloned();
        if let Some(c) = synced
            && c["reason"] != "Starting"
            && c["reason"] != "WaitingForCaches"
        {
            break c;
        }
        if started.elapsed() > Duration::from_secs(1800) {
            return Err("the dry-run pass did not finish in 30 min".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let took = started.elapsed();
    let (rss, hwm, cpu) = (
        procfs::rss_mib(pid).unwrap_or(0.0),
        procfs::hwm_mib(pid).unwrap_or(0.0),
        procfs::cpu_time(pid).unwrap_or_default(),
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    let rss_later = procfs::rss_mib(pid).unwrap_or(0.0);
    Ok(format!(
        "\nfirst full pass of a NautobotSync with dryRun: true against {url}:\n\n\
         | figure | value |\n| --- | ---: |\n\
         | Synced condition | {} {}: {} |\n\
         | time to the end of the pass | {:.1} s |\n\
         | operator CPU during the pass | {:.2} s |\n\
         | RSS before the NautobotSync | {rss0:.1} MiB |\n\
         | peak RSS during the pass (VmHWM, reset before) | {hwm:.1} MiB |\n\
         | RSS after the pass | {rss:.1} MiB |\n\
         | RSS 10 s later | {rss_later:.1} MiB |\n",
        c_str(&status["status"]),
        c_str(&status["reason"]),
        c_str(&status["message"]),
        took.as_secs_f64(),
        (cpu - cpu0).as_secs_f64(),
    ))
}

fn c_str(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// glibc's view of the operator's heap, through gdb: `malloc_stats()` (written to the operator's
/// stderr, i.e. its log) before and after `malloc_trim(0)`, and the RSS around the trim.
async fn malloc_probe(pid: &str, log_path: &std::path::Path) -> String {
    let rss_before = procfs::rss_mib(pid).unwrap_or(0.0);
    let gdb = |calls: &[&str]| {
        let mut cmd = std::process::Command::new("gdb");
        cmd.args(["-p", pid, "-batch", "-nx"]);
        for c in calls {
            cmd.args(["-ex", c]);
        }
        cmd.stdout(Stdio::null()).stderr(Stdio::null()).status()
    };
    let before_len = std::fs::metadata(log_path).map_or(0, |m| m.len() as usize);
    let ok = gdb(&[
        "call (void)malloc_stats()",
        "call (int)malloc_trim(0)",
        "call (void)malloc_stats()",
    ])
    .is_ok_and(|s| s.success());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after = procfs::rss_mib(pid).unwrap_or(0.0);
    if !ok {
        return "\nmalloc probe: gdb failed (is gdb installed, and may it attach?)\n".into();
    }
    let log = std::fs::read_to_string(log_path).unwrap_or_default();
    let stats = log.get(before_len..).unwrap_or("");
    // malloc_stats prints per arena and then "Total (incl. mmap):" with "system bytes" and
    // "in use bytes"; we read the two totals (before and after the trim)
    let mut totals: Vec<(u64, u64)> = Vec::new();
    let mut in_total = false;
    let mut system = 0u64;
    for line in stats.lines() {
        let l = line.trim();
        if l.starts_with("Total (incl. mmap)") {
            in_total = true;
        } else if in_total && l.starts_with("system bytes") {
            system = l
                .rsplit(' ')
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
        } else if in_total && l.starts_with("in use bytes") {
            let used = l
                .rsplit(' ')
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            totals.push((system, used));
            in_total = false;
        }
    }
    let arenas = stats.lines().filter(|l| l.starts_with("Arena ")).count() / 2;
    let mib = |b: u64| b as f64 / 1048576.0;
    let mut out = format!(
        "\nglibc heap (gdb: malloc_stats, malloc_trim(0); {arenas} arenas):\n\n| | value |\n| --- | ---: |\n| RSS before the trim | {rss_before:.1} MiB |\n| RSS after malloc_trim(0) | {rss_after:.1} MiB |\n"
    );
    if let Some((system, used)) = totals.first() {
        out.push_str(&format!(
            "| heap obtained from the system (malloc_stats) | {:.1} MiB |\n| heap in use: live allocations (malloc_stats) | {:.1} MiB |\n",
            mib(*system),
            mib(*used)
        ));
    }
    out
}
