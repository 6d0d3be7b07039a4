//! `live`: the real operator against a real Nautobot, with the stand-in serving a synthetic
//! cluster (figures 1-5 and 7 of docs/benchmarks.md).
//!
//! 1. Reference writer: the records the operator would create for the cluster, written raw in
//!    bulk requests of 100 on 2 streams (prerequisites created first, untimed): the physical
//!    limit of this Nautobot on this machine, measured in the same run.
//! 2. Nautobot is reset; the operator starts with a NautobotSync and syncs the cluster into the
//!    empty Nautobot: objects per second as a ratio to the reference writer.
//! 3. Single changes (VMs, Deployments, Nodes, Services), one at a time: time from the stand-in
//!    accepting the change to the operator's write returning, and the Nautobot requests it took
//!    (from the operator's own /metrics, so the bench's reads do not count).
//! 4. A burst of VM and pod changes at a fixed rate; time to converge after it, checked by reading
//!    every VM back from Nautobot.
//! 5. Idle: requests while nothing changes. 6. A full re-diff with nothing changed (a spec
//!    change starts one). 7. A restart: time to the first full pass and its requests.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube_stand_in::StandIn;
use nbsync::api::NautobotSync;
use nbsync::cluster::ClusterIndex;
use nbsync::config::SyncConfig;
use nbsync::model::Kind;
use nbsync::model::record_id;
use nbsync::nautobot::client::{ClientConfig, HttpClient, NautobotApi, Token};
use nbsync::plan::Op;
use nbsync::project::Projector;
use serde_json::{Value, json};

use crate::procfs;
use crate::source::Source;

const SAMPLE_SYNC: &str = include_str!("../../examples/nautobotsync.yaml");
const NS: &str = "nautobot-sync";
const CLUSTER: &str = "ocp-bench";

/// Options of `live`.
#[derive(Debug, Clone)]
pub struct Options {
    /// What the stand-in serves.
    pub source: Source,
    /// The operator binary.
    pub operator: PathBuf,
    /// Nautobot base URL.
    pub nautobot: String,
    /// Nautobot API token.
    pub token: String,
    /// Shell command that empties Nautobot (run before the reference writer and the operator).
    pub reset: String,
    /// Single changes per kind.
    pub singles: usize,
    /// Burst: changes per second, and for how long.
    pub burst_rate: u32,
    pub burst: Duration,
    /// How long to count requests while idle.
    pub idle: Duration,
}

/// Runs `live` and returns the report (Markdown).
pub fn run(opts: &Options) -> Result<String, String> {
    crate::cache::runtime_for(&opts.operator)?.block_on(run_async(opts))
}

fn client(opts: &Options) -> Result<HttpClient, String> {
    HttpClient::new(ClientConfig::new(&opts.nautobot, Token::new(&opts.token)))
        .map_err(|e| e.to_string())
}

fn spec(opts: &Options) -> Result<Value, String> {
    sync_spec(&opts.nautobot)
}

/// The sample NautobotSync's spec for the generated cluster against `nautobot`.
pub(crate) fn sync_spec(nautobot: &str) -> Result<Value, String> {
    let obj: NautobotSync = serde_saphyr::from_str(SAMPLE_SYNC).map_err(|e| e.to_string())?;
    let mut spec = serde_json::to_value(&obj.spec).map_err(|e| e.to_string())?;
    spec["clusterName"] = json!(CLUSTER);
    spec["nautobot"]["url"] = json!(nautobot);
    spec["fullResyncInterval"] = json!("60m");
    Ok(spec)
}

/// The token Secret the NautobotSync names, in the operator's namespace.
pub(crate) fn token_secret(token: &str) -> Result<Value, String> {
    let secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("nautobot-token".into()),
            namespace: Some(NS.into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(
            "token".to_string(),
            ByteString(token.as_bytes().to_vec()),
        )])),
        ..Default::default()
    };
    serde_json::to_value(&secret).map_err(|e| e.to_string())
}

fn reset(opts: &Options) -> Result<(), String> {
    run_reset(&opts.reset)
}

/// Runs the shell command that empties Nautobot.
pub(crate) fn run_reset(command: &str) -> Result<(), String> {
    let status = std::process::Command::new("sh")
        .args(["-c", command])
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("{command}: {e}"))?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| format!("`{command}` failed: {status}"))
}

/// The Location the NautobotSync names, as a person would create it before installing.
pub(crate) async fn ensure_location(api: &HttpClient, name: &str) -> Result<(), String> {
    let e = |e: nbsync::nautobot::error::ApiError| e.to_string();
    if api
        .list("dcim/location-types/", &[("name", "Cluster Site".into())])
        .await
        .map_err(e)?
        .is_empty()
    {
        api.create(
            "dcim/location-types/",
            vec![json!({"name": "Cluster Site",
            "content_types": ["dcim.device", "virtualization.cluster"]})],
        )
        .await
        .map_err(e)?;
    }
    if api
        .list("dcim/locations/", &[("name", name.into())])
        .await
        .map_err(e)?
        .is_empty()
    {
        api.create(
            "dcim/locations/",
            vec![json!({"name": name,
            "location_type": {"name": "Cluster Site"}, "status": {"name": "Active"}})],
        )
        .await
        .map_err(e)?;
    }
    Ok(())
}

/// Writes `ops` raw: consecutive ops of one kind in bulk requests of 100, 2 at a time.
async fn raw_write(api: &HttpClient, ops: &[Op], update: bool) -> (usize, usize) {
    let (mut ok, mut failed) = (0, 0);
    for group in ops.chunk_by(|a, b| a.kind == b.kind) {
        let endpoint = group[0].kind.endpoint();
        let results: Vec<(usize, bool)> = futures::stream::iter(group.chunks(100))
            .map(|batch| async move {
                let bodies: Vec<Value> = batch
                    .iter()
                    .map(|o| Value::Object(o.body.clone()))
                    .collect();
                let r = if update {
                    api.update(endpoint, bodies).await
                } else {
                    api.create(endpoint, bodies).await
                };
                (batch.len(), r.is_ok())
            })
            .buffer_unordered(2)
            .collect()
            .await;
        for (n, good) in results {
            if good { ok += n } else { failed += n }
        }
    }
    (ok, failed)
}

/// Sum of a metric family's samples whose labels include all of `with`.
pub(crate) fn metric(text: &str, family: &str, with: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (name_labels, value) = l.rsplit_once(' ')?;
            let (name, labels) = name_labels.split_once('{').unwrap_or((name_labels, ""));
            (name == family
                && with
                    .iter()
                    .all(|(k, v)| labels.contains(&format!("{k}=\"{v}\""))))
            .then(|| value.parse::<f64>().ok())
            .flatten()
        })
        // not `sum()`: the sum of no f64 is -0.0 (a family a fresh operator has not written)
        .fold(0.0, |a, b| a + b)
}

/// Nautobot requests by method, from the operator's /metrics.
fn requests(text: &str) -> BTreeMap<&'static str, u64> {
    ["GET", "POST", "PATCH", "DELETE"]
        .into_iter()
        .map(|m| {
            (
                m,
                metric(text, "nbsync_nautobot_requests_total", &[("method", m)]) as u64,
            )
        })
        .collect()
}

fn delta(after: &BTreeMap<&'static str, u64>, before: &BTreeMap<&'static str, u64>) -> String {
    after
        .iter()
        .map(|(m, n)| format!("{m} {}", n - before.get(m).copied().unwrap_or(0)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn writes(text: &str) -> f64 {
    metric(text, "nbsync_writes_total", &[])
}

/// A running operator with its /metrics address.
pub(crate) struct Operator {
    child: tokio::process::Child,
    metrics: String,
    http: reqwest::Client,
}

impl Operator {
    pub(crate) fn start(
        operator: &std::path::Path,
        kubeconfig: &std::path::Path,
        log: &std::path::Path,
    ) -> Result<Self, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| e.to_string())?;
        let child = crate::cache::spawn_operator(
            operator,
            kubeconfig,
            &format!("127.0.0.1:{port}"),
            log,
            &[],
        )?;
        Ok(Operator {
            child,
            metrics: format!("http://127.0.0.1:{port}/metrics"),
            http: reqwest::Client::new(),
        })
    }

    pub(crate) async fn metrics(&self) -> String {
        match self.http.get(&self.metrics).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub(crate) async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        if tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

fn status(s: &StandIn) -> Value {
    s.get("nbsync.dev/v1alpha1", "NautobotSync", Some(NS), CLUSTER)
        .map(|o| o["status"].clone())
        .unwrap_or_default()
}

pub(crate) fn synced(st: &Value) -> bool {
    st["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Synced" && c["status"] == "True")
}

async fn wait(
    what: &str,
    limit: Duration,
    mut f: impl AsyncFnMut() -> bool,
) -> Result<Duration, String> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if f().await {
            return Ok(t0.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(format!("timed out after {limit:?} waiting for {what}"))
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The physical limit of a single change: one bare PATCH of an owned VM's `vcpus` (its own value,
/// the shape the operator sends), timed from here, in the same run as the single changes; and
/// how far each kind's single-change p50 is above it.
async fn bare_patches(
    api: &HttpClient,
    cfg: &SyncConfig,
    n: usize,
    p50s: &[(&str, Duration)],
) -> Result<String, String> {
    let endpoint = nbsync::model::Kind::VirtualMachine.endpoint();
    let vms = api
        .list(
            endpoint,
            &[
                ("cf_k8s_cluster", cfg.cluster_name.clone()),
                ("limit", n.to_string()),
            ],
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut times = Vec::new();
    for vm in vms.iter().cycle().take(n) {
        let body = json!({"id": vm["id"], "vcpus": vm["vcpus"]});
        let t = Instant::now();
        api.update(endpoint, vec![body])
            .await
            .map_err(|e| e.to_string())?;
        times.push(t.elapsed());
    }
    times.sort();
    let bare = percentile(&times, 0.5);
    let mut out = format!(
        "| bare PATCH of one VM (the limit) | {} | {} | {} | {} | 1 PATCH |\n\n",
        times.len(),
        ms(bare),
        ms(percentile(&times, 0.99)),
        ms(times.last().copied().unwrap_or_default()),
    );
    for (what, p50) in p50s {
        let above = p50.as_secs_f64() * 1000.0 - bare.as_secs_f64() * 1000.0;
        out.push_str(&format!(
            "- {what}: p50 {above:+.0} ms from one bare PATCH (target: within 100 ms)\n"
        ));
    }
    out.push('\n');
    Ok(out)
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// Edits one stand-in object in place (a whole-object write: a new resourceVersion, a MODIFIED event).
fn edit(s: &StandIn, mut obj: Value, f: impl FnOnce(&mut Value)) -> Result<Value, String> {
    f(&mut obj);
    if let Some(m) = obj["metadata"].as_object_mut() {
        m.remove("resourceVersion");
    }
    s.apply_json(obj).map_err(|e| format!("{e:?}"))
}

async fn run_async(opts: &Options) -> Result<String, String> {
    let mut out = String::new();
    say(
        &mut out,
        &format!(
            "machine: {}\nsnapshot: {}\nnautobot: {}\n\n",
            procfs::machine(),
            opts.source,
            opts.nautobot
        ),
    );
    let api = client(opts)?;
    let spec_json = spec(opts)?;
    let cfg = SyncConfig::from_spec(
        &serde_json::from_value(spec_json.clone()).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let location = spec_json["placement"]["location"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    // 1. the reference writer
    let mut index = ClusterIndex::new();
    opts.source.for_each(&mut |v| {
        let _ = index.apply_value(&v);
    })?;
    let projection = Projector::new(&cfg, &index).project_all();
    drop(index);
    reset(opts)?;
    ensure_location(&api, &location).await?;
    let resolver = nbsync::nautobot::bootstrap::bootstrap(&api, &cfg, &projection.records, false)
        .await
        .map_err(|e| e.to_string())?;
    let policy = nbsync::plan::Policy::new(&cfg, jiff_now(), false);
    let plan = nbsync::plan::diff(
        &projection.records,
        &projection.ips_unknown,
        &BTreeMap::new(),
        &policy,
        &resolver,
    );
    let before = api.stats();
    let t0 = Instant::now();
    let (created, failed) = raw_write(&api, &plan.creates, false).await;
    let (late, late_failed) = raw_write(&api, &plan.late_updates, true).await;
    let ref_time = t0.elapsed();
    let ref_requests = api.stats().since(&before);
    let ref_rate = created as f64 / ref_time.as_secs_f64();
    say(
        &mut out,
        &format!(
            "## 1. Initial sync\n\nreference writer: {created} objects created ({failed} failed) and {late} late updates ({late_failed} failed) in {:.1} s with {} POST and {} PATCH: **{ref_rate:.1} objects/s**\n",
            ref_time.as_secs_f64(),
            ref_requests.posts,
            ref_requests.patches
        ),
    );
    drop(projection);

    // 2. the operator into an empty Nautobot
    reset(opts)?;
    ensure_location(&api, &location).await?;
    let mut scratch = String::new();
    let s = crate::cache::stand_in(&opts.source, &mut scratch).await?;
    out.push_str(&scratch);
    let dir = std::env::temp_dir().join(format!("nbsync-bench-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let kubeconfig = dir.join("kubeconfig");
    s.write_kubeconfig(&kubeconfig).map_err(|e| e.to_string())?;
    let log = dir.join("operator.log");
    s.apply_json(token_secret(&opts.token)?)
        .map_err(|e| format!("{e:?}"))?;
    s.apply_json(
        json!({"apiVersion": "nbsync.dev/v1alpha1", "kind": "NautobotSync",
        "metadata": {"name": CLUSTER, "namespace": NS}, "spec": spec_json}),
    )
    .map_err(|e| format!("{e:?}"))?;
    let op = Operator::start(&opts.operator, &kubeconfig, &log)?;
    let initial = wait("the initial sync", Duration::from_secs(1800), async || {
        synced(&status(&s))
    })
    .await?;
    let m = op.metrics().await;
    let op_created = metric(&m, "nbsync_writes_total", &[("action", "create")]);
    let op_rate = op_created / initial.as_secs_f64();
    let st = status(&s);
    say(
        &mut out,
        &format!(
            "operator: Synced after {:.1} s from its start (caches, bootstrap, reads and writes), {op_created:.0} objects created, {} objects in sync; requests: {}: **{op_rate:.1} objects/s, ratio {:.2}**\n\n",
            initial.as_secs_f64(),
            st["objectsInSync"],
            delta(&requests(&m), &BTreeMap::new()),
            op_rate / ref_rate
        ),
    );

    // 3. single changes
    tokio::time::sleep(Duration::from_secs(3)).await;
    out.push_str("## 2-3. Single changes\n\n| change | n | p50 | p99 | max | Nautobot requests per change |\n| --- | ---: | ---: | ---: | ---: | --- |\n");
    let vms: Vec<Value> = s
        .list("kubevirt.io/v1", "VirtualMachine", None)
        .into_iter()
        .filter(|v| {
            v["spec"]["instancetype"].is_null()
                && v["spec"]["template"]["spec"]["domain"]["cpu"]["cores"].is_u64()
        })
        .collect();
    let deployments = s.list("apps/v1", "Deployment", None);
    let nodes = s.list("v1", "Node", None);
    let services = s.list("v1", "Service", None);
    let in_scope = |o: &Value| {
        cfg.namespaces
            .allows(o["metadata"]["namespace"].as_str().unwrap_or(""))
    };
    type Change = fn(&mut Value);
    let kinds: [(&str, Vec<Value>, Change); 4] = [
        (
            "VM: cpu cores + 1",
            vms.iter().filter(|o| in_scope(o)).cloned().collect(),
            |o| {
                let c = &mut o["spec"]["template"]["spec"]["domain"]["cpu"]["cores"];
                *c = json!(c.as_u64().unwrap_or(1) + 1);
            },
        ),
        (
            "Deployment: replicas + 1",
            deployments.into_iter().filter(|o| in_scope(o)).collect(),
            |o| {
                o["spec"]["replicas"] = json!(o["spec"]["replicas"].as_u64().unwrap_or(1) + 1);
            },
        ),
        ("Node: cordon", nodes, |o| {
            o["spec"]["unschedulable"] =
                json!(!o["spec"]["unschedulable"].as_bool().unwrap_or(false))
        }),
        (
            "Service: a port added",
            services
                .into_iter()
                .filter(|o| in_scope(o) && o["spec"]["type"] != "ExternalName")
                .collect(),
            |o| {
                if let Some(ports) = o["spec"]["ports"].as_array_mut() {
                    ports.push(json!({"name": "bench", "protocol": "TCP", "port": 9999, "targetPort": 9999}));
                }
            },
        ),
    ];
    let mut p50s = Vec::new();
    for (what, objects, change) in kinds {
        let mut latencies = Vec::new();
        let mut per_change: BTreeMap<String, usize> = BTreeMap::new();
        for obj in objects.into_iter().take(opts.singles) {
            let before_m = op.metrics().await;
            let w0 = writes(&before_m);
            let edited = edit(&s, obj, change)?;
            if edited["kind"] == "VirtualMachine" {
                live_update(&s, &edited)?;
            }
            let t = Instant::now();
            wait(what, Duration::from_secs(60), async || {
                writes(&op.metrics().await) > w0
            })
            .await?;
            latencies.push(t.elapsed());
            tokio::time::sleep(Duration::from_millis(2500)).await; // let the pass finish (debounce, late writes)
            *per_change
                .entry(delta(&requests(&op.metrics().await), &requests(&before_m)))
                .or_default() += 1;
        }
        latencies.sort();
        p50s.push((what, percentile(&latencies, 0.5)));
        say(
            &mut out,
            &format!(
                "| {what} | {} | {} | {} | {} | {} |\n",
                latencies.len(),
                ms(percentile(&latencies, 0.5)),
                ms(percentile(&latencies, 0.99)),
                ms(latencies.last().copied().unwrap_or_default()),
                per_change
                    .iter()
                    .map(|(k, n)| format!("{k} (x{n})"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        );
    }

    say(
        &mut out,
        &bare_patches(&api, &cfg, opts.singles.max(5), &p50s).await?,
    );

    // 3b. a rolling restart of a 10-replica Deployment
    say(&mut out, &rollout(&s, &op, &in_scope).await?);

    // 4. a burst of VM and pod changes
    let vms: Vec<Value> = s
        .list("kubevirt.io/v1", "VirtualMachine", None)
        .into_iter()
        .filter(|v| {
            in_scope(v)
                && v["spec"]["instancetype"].is_null()
                && v["spec"]["template"]["spec"]["domain"]["cpu"]["cores"].is_u64()
        })
        .collect();
    let pods: Vec<(String, String)> = s
        .list("v1", "Pod", None)
        .iter()
        .filter(|p| in_scope(p))
        .map(|p| {
            (
                p["metadata"]["namespace"].as_str().unwrap_or("").into(),
                p["metadata"]["name"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    let mut want: BTreeMap<(String, String), u64> = BTreeMap::new();
    let before_m = op.metrics().await;
    let period = Duration::from_secs_f64(1.0 / f64::from(opts.burst_rate.max(1)));
    let mut tick = tokio::time::interval(period);
    let t0 = Instant::now();
    let (mut n, mut max_queue, mut last_sample) = (0usize, 0f64, Instant::now());
    while t0.elapsed() < opts.burst && !vms.is_empty() {
        tick.tick().await;
        if n % 2 == 0 {
            let vm = &vms[(n / 2) % vms.len()];
            let key = (
                vm["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                vm["metadata"]["name"].as_str().unwrap_or("").to_string(),
            );
            let cur = s
                .get("kubevirt.io/v1", "VirtualMachine", Some(&key.0), &key.1)
                .ok_or("VM gone")?;
            let cpu = &cur["spec"]["template"]["spec"]["domain"]["cpu"];
            let cores = cpu["cores"].as_u64().unwrap_or(1) % 8 + 1;
            // what Nautobot should show: sockets x cores x threads
            let vcpus =
                cpu["sockets"].as_u64().unwrap_or(1) * cores * cpu["threads"].as_u64().unwrap_or(1);
            let edited = edit(&s, cur, |o| {
                o["spec"]["template"]["spec"]["domain"]["cpu"]["cores"] = json!(cores)
            })?;
            live_update(&s, &edited)?;
            want.insert(key, vcpus);
        } else if !pods.is_empty() {
            let (ns, name) = &pods[(n / 2) % pods.len()];
            if let Some(p) = s.get("v1", "Pod", Some(ns), name) {
                edit(&s, p, |o| {
                    o["metadata"]["annotations"]["bench/touched"] = json!(n.to_string())
                })?;
            }
        }
        n += 1;
        if last_sample.elapsed() >= Duration::from_secs(1) {
            last_sample = Instant::now();
            max_queue = max_queue.max(metric(&op.metrics().await, "nbsync_queue_depth", &[]));
        }
    }
    let burst_time = t0.elapsed();
    let converged = wait(
        "the burst to converge",
        Duration::from_secs(900),
        async || {
            let Ok(list) = api
                .list(
                    "virtualization/virtual-machines/",
                    &[
                        ("cf_k8s_cluster", CLUSTER.into()),
                        ("exclude_m2m", "true".into()),
                    ],
                )
                .await
            else {
                return false;
            };
            let have: BTreeMap<&str, u64> = list
                .iter()
                .filter_map(|v| Some((v["id"].as_str()?, v["vcpus"].as_u64()?)))
                .collect();
            want.iter().all(|((ns, name), cores)| {
                let id =
                    record_id(CLUSTER, Kind::VirtualMachine, &format!("{ns}/{name}")).to_string();
                have.get(id.as_str()) == Some(cores)
            })
        },
    )
    .await;
    let m = op.metrics().await;
    say(
        &mut out,
        &format!(
            "\n## 2. Burst\n\n{n} changes ({} VM, {} pod) at {}/s for {:.1} s; queue depth at most {max_queue:.0} (sampled each second); {}; requests during and after: {}\n\n",
            n.div_ceil(2),
            n / 2,
            opts.burst_rate,
            burst_time.as_secs_f64(),
            match converged {
                Ok(d) => format!(
                    "every changed VM right in Nautobot {:.1} s after the burst ended",
                    d.as_secs_f64()
                ),
                Err(e) => format!("NOT converged: {e}"),
            },
            delta(&requests(&m), &requests(&before_m))
        ),
    );

    // 5. idle
    tokio::time::sleep(Duration::from_secs(5)).await;
    let before_m = op.metrics().await;
    tokio::time::sleep(opts.idle).await;
    let m = op.metrics().await;
    say(
        &mut out,
        &format!(
            "## 4. Idle\n\nrequests in {:.0} s with nothing changing: {}\n\n",
            opts.idle.as_secs_f64(),
            delta(&requests(&m), &requests(&before_m))
        ),
    );

    // 6. a full re-diff with nothing changed
    let before_m = m;
    let full0 = metric(
        &before_m,
        "nbsync_sync_duration_seconds_sum",
        &[("mode", "full")],
    );
    let last_full = status(&s)["lastFullSyncTime"].clone();
    let obj = s
        .get("nbsync.dev/v1alpha1", "NautobotSync", Some(NS), CLUSTER)
        .ok_or("NautobotSync gone")?;
    edit(&s, obj, |o| o["spec"]["fullResyncInterval"] = json!("59m"))?;
    let took = wait("the full re-diff", Duration::from_secs(600), async || {
        status(&s)["lastFullSyncTime"] != last_full
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let m = op.metrics().await;
    say(
        &mut out,
        &format!(
            "## 5. Full re-diff, nothing changed\n\npass duration {:.2} s (sync_duration_seconds, mode=full; {:.1} s from the spec change to the status); requests: {}; writes: {:.0}\n\n",
            metric(&m, "nbsync_sync_duration_seconds_sum", &[("mode", "full")]) - full0,
            took.as_secs_f64(),
            delta(&requests(&m), &requests(&before_m)),
            writes(&m) - writes(&before_m)
        ),
    );

    // 7. restart
    op.stop().await;
    let last_full = status(&s)["lastFullSyncTime"].clone();
    let op = Operator::start(&opts.operator, &kubeconfig, &log)?;
    let back = wait(
        "the restarted operator's first full pass",
        Duration::from_secs(600),
        async || {
            let st = status(&s);
            st["lastFullSyncTime"] != last_full && synced(&st)
        },
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let m = op.metrics().await;
    say(
        &mut out,
        &format!(
            "## 7. Restart\n\nfrom process start to the first full pass done (Synced): {:.1} s; requests: {}; writes: {:.0}\n",
            back.as_secs_f64(),
            delta(&requests(&m), &BTreeMap::new()),
            writes(&m)
        ),
    );
    op.stop().await;
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    let warnings = log_text
        .lines()
        .filter(|l| l.contains("\"level\":\"WARN\"") || l.contains("\"level\":\"ERROR\""))
        .count();
    say(
        &mut out,
        &format!(
            "\noperator log: {} ({warnings} warnings/errors)\n",
            log.display()
        ),
    );
    s.shutdown().await;
    Ok(out)
}

/// A rolling restart of one Deployment at 10 replicas, as the Deployment controller does it
/// with `maxSurge: 25%` one pod at a time: a new pod appears Pending, is scheduled and becomes
/// Ready, the Deployment's status counts it, an old pod goes, the status counts again. Each
/// event is half a second apart (more than the worker's debounce, so none is coalesced away).
/// Reports the operator's Nautobot writes from the first event until it settles.
async fn rollout(
    s: &StandIn,
    op: &Operator,
    in_scope: &dyn Fn(&Value) -> bool,
) -> Result<String, String> {
    const REPLICAS: usize = 10;
    let pods = s.list("v1", "Pod", None);
    let Some(deploy) = s.list("apps/v1", "Deployment", None).into_iter().find(|d| {
        in_scope(d)
            && d["spec"]["strategy"]["type"] == "RollingUpdate"
            && pods.iter().any(|p| owned_by(p, d))
    }) else {
        return Ok("## 3. Rolling restart\n\nno Deployment to restart\n\n".into());
    };
    let ns = deploy["metadata"]["namespace"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let name = deploy["metadata"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let template = pods
        .iter()
        .find(|p| owned_by(p, &deploy))
        .cloned()
        .ok_or("no pod")?;
    let nodes: Vec<String> = s
        .list("v1", "Node", None)
        .iter()
        .filter_map(|n| n["metadata"]["name"].as_str().map(String::from))
        .collect();
    let pod = |hash: &str, k: usize, running: bool| {
        let mut p = template.clone();
        let rs = format!("{name}-{hash}");
        p["metadata"]["name"] = json!(format!("{rs}-r{k:03}"));
        p["metadata"]["uid"] = json!(format!(
            "00000000-0000-4000-8000-{:012}",
            k + if hash.starts_with("new") { 500 } else { 0 }
        ));
        p["metadata"]["labels"]["pod-template-hash"] = json!(hash);
        p["metadata"]["ownerReferences"][0]["name"] = json!(rs);
        if let Some(m) = p["metadata"].as_object_mut() {
            m.remove("resourceVersion");
        }
        if running {
            p["spec"]["nodeName"] = json!(nodes[k % nodes.len().max(1)]);
            p["status"]["phase"] = json!("Running");
            p["status"]["conditions"] = json!([{"type": "Ready", "status": "True"}]);
        } else {
            if let Some(m) = p["spec"].as_object_mut() {
                m.remove("nodeName");
            }
            p["status"] = json!({"phase": "Pending"});
        }
        p
    };
    let set_status = |ready: usize, updated: usize| -> Result<(), String> {
        let cur = s
            .get("apps/v1", "Deployment", Some(&ns), &name)
            .ok_or("Deployment gone")?;
        edit(s, cur, |o| {
            o["spec"]["replicas"] = json!(REPLICAS);
            o["status"]["replicas"] = json!(ready.max(REPLICAS));
            o["status"]["readyReplicas"] = json!(ready);
            o["status"]["availableReplicas"] = json!(ready);
            o["status"]["updatedReplicas"] = json!(updated);
        })
        .map(|_| ())
    };
    // the old ReplicaSet's pods at 10 replicas, settled
    for p in pods.iter().filter(|p| owned_by(p, &deploy)) {
        let _ = s.delete(
            "v1",
            "Pod",
            Some(&ns),
            p["metadata"]["name"].as_str().unwrap_or(""),
        );
    }
    for k in 0..REPLICAS {
        s.apply_json(pod("old0000000", k, true))
            .map_err(|e| format!("{e:?}"))?;
    }
    set_status(REPLICAS, REPLICAS)?;
    tokio::time::sleep(Duration::from_secs(5)).await;

    let before = op.metrics().await;
    let step = Duration::from_millis(500);
    let t0 = Instant::now();
    let mut events = 0;
    for k in 0..REPLICAS {
        s.apply_json(pod("new0000000", k, false))
            .map_err(|e| format!("{e:?}"))?;
        tokio::time::sleep(step).await;
        s.apply_json(pod("new0000000", k, true))
            .map_err(|e| format!("{e:?}"))?;
        tokio::time::sleep(step).await;
        set_status(REPLICAS + 1, k + 1)?;
        tokio::time::sleep(step).await;
        let old = pod("old0000000", k, true);
        s.delete(
            "v1",
            "Pod",
            Some(&ns),
            old["metadata"]["name"].as_str().unwrap_or(""),
        )
        .map_err(|e| format!("{e:?}"))?;
        tokio::time::sleep(step).await;
        set_status(REPLICAS, k + 1)?;
        tokio::time::sleep(step).await;
        events += 5;
    }
    let took = t0.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = op.metrics().await;
    Ok(format!(
        "## 3. Rolling restart\n\nDeployment {ns}/{name} at {REPLICAS} replicas restarted one pod at a time: {events} watch events in {:.1} s; Nautobot writes: **{:.0}**; requests: {}\n\n",
        took.as_secs_f64(),
        writes(&after) - writes(&before),
        delta(&requests(&after), &requests(&before))
    ))
}

/// What KubeVirt's live update does after a VM's CPU changes: the running VMI takes the new
/// topology and reports it (`status.currentCPUTopology`), which is what a running VM syncs.
fn live_update(s: &StandIn, vm: &Value) -> Result<(), String> {
    let ns = vm["metadata"]["namespace"].as_str().unwrap_or("");
    let name = vm["metadata"]["name"].as_str().unwrap_or("");
    let Some(vmi) = s.get("kubevirt.io/v1", "VirtualMachineInstance", Some(ns), name) else {
        return Ok(());
    };
    let cpu = vm["spec"]["template"]["spec"]["domain"]["cpu"].clone();
    edit(s, vmi, |o| {
        o["spec"]["domain"]["cpu"] = cpu.clone();
        let part = |k: &str| cpu.get(k).cloned().unwrap_or(json!(1));
        o["status"]["currentCPUTopology"] =
            json!({"sockets": part("sockets"), "cores": part("cores"), "threads": part("threads")});
    })
    .map(|_| ())
}

/// Whether a pod belongs to a Deployment (its ReplicaSet is named after it).
fn owned_by(pod: &Value, deploy: &Value) -> bool {
    pod["metadata"]["namespace"] == deploy["metadata"]["namespace"]
        && pod["metadata"]["ownerReferences"][0]["name"].as_str()
            == Some(&format!(
                "{}-{}",
                deploy["metadata"]["name"].as_str().unwrap_or(""),
                pod["metadata"]["labels"]["pod-template-hash"]
                    .as_str()
                    .unwrap_or("")
            ))
}

/// Adds to the report and prints it at once on stderr (a long run that fails still tells what it measured).
fn say(out: &mut String, text: &str) {
    eprint!("{text}");
    out.push_str(text);
}

fn jiff_now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}
