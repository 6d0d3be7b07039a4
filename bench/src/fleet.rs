//! `fleet`: several operators, each with its own generated cluster in its own stand-in, syncing
//! into one real Nautobot at once, while a probe plays a person reading a page of devices every
//! second (figure 10 of docs/benchmarks.md).
//!
//! 1. Nautobot is reset; the probe reads for `idle` with nothing else running: the idle page
//!    time.
//! 2. Every operator starts at once with its NautobotSync (clusterName `fleet-<i>`, the same
//!    spec otherwise, `maxRequestsPerSecond` when asked); the probe goes on reading.
//! 3. When every operator is Synced: total objects a second, each operator's time to Synced and
//!    objects a second (its share), its pace cuts, and the probe's page times during the sync
//!    as a ratio to idle.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::live::{Operator, ensure_location, metric, ms, percentile, run_reset, synced};
use crate::source::Source;
use crate::synth::Scale;

const NS: &str = "nautobot-sync";

/// Options of `fleet`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Operators (and clusters).
    pub operators: usize,
    /// Each cluster's size; cluster `i` is generated with seed `seed + i`.
    pub scale: Scale,
    pub seed: u64,
    /// The operator binary.
    pub operator: std::path::PathBuf,
    /// Nautobot base URL and token.
    pub nautobot: String,
    pub token: String,
    /// Shell command that empties Nautobot.
    pub reset: String,
    /// How long the probe reads before the operators start.
    pub idle: Duration,
    /// `spec.nautobot.maxRequestsPerSecond` of every NautobotSync (`None`: not set).
    pub max_per_second: Option<u32>,
}

/// Runs `fleet` and returns the report (Markdown).
pub fn run(opts: &Options) -> Result<String, String> {
    crate::cache::runtime_for(&opts.operator)?.block_on(run_async(opts))
}

/// The page a person loads: 50 devices with their related objects, as the UI's list does.
const PROBE: &str = "/api/dcim/devices/?limit=50&depth=1";

/// Reads [`PROBE`] once a second until `stop`; the time of each read.
async fn probe(
    http: reqwest::Client,
    url: String,
    token: String,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<Duration> {
    let mut times = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !*stop.borrow() {
        tick.tick().await;
        let t = Instant::now();
        let ok = http
            .get(format!("{url}{PROBE}"))
            .header("Authorization", format!("Token {token}"))
            .header("Accept", "application/json")
            .send()
            .await
            .and_then(|r| r.error_for_status());
        if let Ok(r) = ok
            && r.bytes().await.is_ok()
        {
            times.push(t.elapsed());
        }
    }
    times
}

async fn probe_for(opts: &Options, d: Duration) -> Vec<Duration> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(probe(
        reqwest::Client::new(),
        opts.nautobot.clone(),
        opts.token.clone(),
        rx,
    ));
    tokio::time::sleep(d).await;
    let _ = tx.send(true);
    task.await.unwrap_or_default()
}

fn summary(mut times: Vec<Duration>) -> (Duration, Duration, Duration, usize) {
    times.sort();
    (
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        times.last().copied().unwrap_or_default(),
        times.len(),
    )
}

struct Member {
    name: String,
    stand_in: kube_stand_in::StandIn,
    op: Operator,
    synced_after: Option<Duration>,
}

fn status(m: &Member) -> Value {
    m.stand_in
        .get("nbsync.dev/v1alpha1", "NautobotSync", Some(NS), &m.name)
        .map(|o| o["status"].clone())
        .unwrap_or_default()
}

async fn run_async(opts: &Options) -> Result<String, String> {
    let mut out = String::new();
    out.push_str(&format!(
        "machine: {}\nfleet: {} operators, each cluster {} (seeds {}..{}), into {}{}\n\n",
        crate::procfs::machine(),
        opts.operators,
        Source::Generated {
            scale: opts.scale,
            seed: opts.seed
        },
        opts.seed,
        opts.seed + opts.operators as u64 - 1,
        opts.nautobot,
        opts.max_per_second
            .map_or(String::new(), |r| format!(", maxRequestsPerSecond {r}"))
    ));
    run_reset(&opts.reset)?;
    let api = nbsync::nautobot::HttpClient::new(nbsync::nautobot::ClientConfig::new(
        &opts.nautobot,
        nbsync::nautobot::Token::new(&opts.token),
    ))
    .map_err(|e| e.to_string())?;
    let spec = crate::live::sync_spec(&opts.nautobot)?;
    ensure_location(
        &api,
        spec["placement"]["location"].as_str().unwrap_or_default(),
    )
    .await?;

    // 1. the idle page time
    let idle = summary(probe_for(opts, opts.idle).await);
    out.push_str(&format!(
        "probe `GET {PROBE}` once a second, idle: p50 {}, p95 {}, max {} ({} reads)\n\n",
        ms(idle.0),
        ms(idle.1),
        ms(idle.2),
        idle.3
    ));

    // 2. the stand-ins, loaded before any operator starts
    let dir = std::env::temp_dir().join(format!("nbsync-bench-fleet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut loaded = Vec::new();
    for i in 0..opts.operators {
        let source = Source::Generated {
            scale: opts.scale,
            seed: opts.seed + i as u64,
        };
        let mut scratch = String::new();
        let s = crate::cache::stand_in(&source, &mut scratch).await?;
        let name = format!("fleet-{i}");
        let mut spec = spec.clone();
        spec["clusterName"] = json!(name);
        if let Some(r) = opts.max_per_second {
            spec["nautobot"]["maxRequestsPerSecond"] = json!(r);
        }
        s.apply_json(crate::live::token_secret(&opts.token)?)
            .map_err(|e| format!("{e:?}"))?;
        s.apply_json(
            json!({"apiVersion": "nbsync.dev/v1alpha1", "kind": "NautobotSync",
            "metadata": {"name": name, "namespace": NS}, "spec": spec}),
        )
        .map_err(|e| format!("{e:?}"))?;
        let kubeconfig = dir.join(format!("kubeconfig-{i}"));
        s.write_kubeconfig(&kubeconfig).map_err(|e| e.to_string())?;
        loaded.push((name, s, kubeconfig));
    }
    out.push_str(&format!(
        "{} stand-ins loaded; every operator starts now\n\n",
        loaded.len()
    ));

    // 3. every operator at once, the probe reading meanwhile
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let probing = tokio::spawn(probe(
        reqwest::Client::new(),
        opts.nautobot.clone(),
        opts.token.clone(),
        stop_rx,
    ));
    let t0 = Instant::now();
    let mut fleet = Vec::new();
    for (i, (name, stand_in, kubeconfig)) in loaded.into_iter().enumerate() {
        let op = Operator::start(
            &opts.operator,
            &kubeconfig,
            &dir.join(format!("operator-{i}.log")),
        )?;
        fleet.push(Member {
            name,
            stand_in,
            op,
            synced_after: None,
        });
    }
    let limit = Duration::from_secs(3600);
    while fleet.iter().any(|m| m.synced_after.is_none()) {
        if t0.elapsed() > limit {
            return Err(format!(
                "not every operator Synced within {limit:?}; logs in {}",
                dir.display()
            ));
        }
        for m in fleet.iter_mut().filter(|m| m.synced_after.is_none()) {
            if synced(&status(m)) {
                m.synced_after = Some(t0.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let all = t0.elapsed();
    let _ = stop_tx.send(true);
    let during = summary(probing.await.unwrap_or_default());

    out.push_str("| operator | Synced after | objects created | objects/s | pace cuts (slow, overloaded, failed) | Nautobot requests |\n| --- | ---: | ---: | ---: | --- | ---: |\n");
    let mut total = 0.0;
    let mut rates = Vec::new();
    for m in &fleet {
        let text = m.op.metrics().await;
        let created = metric(&text, "nbsync_writes_total", &[("action", "create")]);
        let after = m.synced_after.unwrap_or_default();
        let rate = created / after.as_secs_f64();
        total += created;
        rates.push(rate);
        let cuts: Vec<String> = ["slow", "overloaded", "failed"]
            .iter()
            .map(|r| {
                format!(
                    "{:.0}",
                    metric(&text, "nbsync_nautobot_pace_cuts_total", &[("reason", r)])
                )
            })
            .collect();
        out.push_str(&format!(
            "| {} | {:.1} s | {created:.0} | {rate:.1} | {} | {:.0} |\n",
            m.name,
            after.as_secs_f64(),
            cuts.join(", "),
            metric(&text, "nbsync_nautobot_requests_total", &[])
        ));
    }
    let fastest = rates.iter().copied().fold(0.0, f64::max);
    let slowest = rates.iter().copied().fold(f64::INFINITY, f64::min);
    let ratio = |d: Duration| d.as_secs_f64() / idle.0.as_secs_f64().max(1e-3);
    out.push_str(&format!(
        "\nall Synced after {:.1} s: **{:.1} objects/s in total**; the slowest operator wrote at {:.2} of the fastest's rate\n\n\
         probe during the sync: p50 {} (**{:.1}x idle**), p95 {} ({:.1}x), max {} ({:.1}x) ({} reads)\n",
        all.as_secs_f64(),
        total / all.as_secs_f64(),
        slowest / fastest.max(1e-9),
        ms(during.0),
        ratio(during.0),
        ms(during.1),
        ratio(during.1),
        ms(during.2),
        ratio(during.2),
        during.3
    ));
    for m in fleet {
        m.op.stop().await;
    }
    Ok(out)
}
