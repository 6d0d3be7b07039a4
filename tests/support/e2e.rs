//! End-to-end harness: the real operator binary against the Kubernetes API stand-in loaded
//! with the sample cluster, and a real Nautobot.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use kube::CustomResourceExt;
use kube_stand_in::{Options, StandIn};
use serde_json::{Value, json};

use super::nautobot::{TEST_TOKEN, sample_snapshot};

/// The namespace the operator runs in and serves.
pub const NS: &str = "nautobot-sync";

/// A minimal CRD object for a KubeVirt kind (the stand-in serves a kind once its CRD exists).
pub fn crd(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {"group": group, "scope": if namespaced { "Namespaced" } else { "Cluster" },
                 "names": {"kind": kind, "plural": plural, "singular": kind.to_lowercase()},
                 "versions": [{"name": version, "served": true, "storage": true,
                               "subresources": {"status": {}},
                               "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    })
}

/// KubeVirt's CRDs.
pub fn kubevirt_crds() -> Vec<Value> {
    vec![
        crd(
            "kubevirt.io",
            "v1",
            "VirtualMachine",
            "virtualmachines",
            true,
        ),
        crd(
            "kubevirt.io",
            "v1",
            "VirtualMachineInstance",
            "virtualmachineinstances",
            true,
        ),
        crd(
            "instancetype.kubevirt.io",
            "v1beta1",
            "VirtualMachineClusterInstancetype",
            "virtualmachineclusterinstancetypes",
            false,
        ),
        crd(
            "cdi.kubevirt.io",
            "v1beta1",
            "DataVolume",
            "datavolumes",
            true,
        ),
    ]
}

/// A stand-in with the operator's CRD, the sample cluster (with or without KubeVirt), the
/// operator namespace, the token Secret and the sample NautobotSync.
pub async fn cluster(kubevirt: bool, nautobot_url: &str, spec_patch: Value) -> StandIn {
    let s = StandIn::start_with(Options {
        openshift: true,
        ..Options::default()
    })
    .await;
    s.apply_json(serde_json::to_value(nbsync::api::NautobotSync::crd()).unwrap())
        .unwrap();
    let mut items: Vec<Value> = Vec::new();
    if kubevirt {
        items.extend(kubevirt_crds());
    }
    let snap = sample_snapshot();
    for i in snap["items"].as_array().unwrap() {
        let group = i["apiVersion"].as_str().unwrap_or("");
        if !kubevirt
            && (group.starts_with("kubevirt.io")
                || group.starts_with("instancetype.kubevirt.io")
                || group.starts_with("cdi.kubevirt.io"))
        {
            continue;
        }
        items.push(i.clone());
    }
    s.load_list(json!({"apiVersion": "v1", "kind": "List", "items": items}))
        .unwrap();
    s.apply_json(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}))
        .unwrap();
    s.apply_json(token_secret("nautobot-token", TEST_TOKEN))
        .unwrap();
    let text = std::fs::read_to_string(repo("examples/nautobotsync.yaml")).unwrap();
    let mut obj: Value =
        serde_json::to_value(serde_saphyr::from_str::<nbsync::api::NautobotSync>(&text).unwrap())
            .unwrap();
    obj["spec"]["nautobot"]["url"] = json!(nautobot_url);
    obj["metadata"]["namespace"] = json!(NS);
    obj["metadata"]["generation"] = json!(1);
    json_patch::merge(&mut obj["spec"], &spec_patch);
    s.apply_json(obj).unwrap();
    s
}

/// A token Secret in the operator namespace.
pub fn token_secret(name: &str, token: &str) -> Value {
    secret(name, "token", token)
}

/// A Secret in the operator namespace with one key.
pub fn secret(name: &str, key: &str, value: &str) -> Value {
    use base64_like::encode;
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": NS},
           "type": "Opaque", "data": {key: encode(value.as_bytes())}})
}

/// Tiny base64 (standard alphabet, padded): no crate needed for test Secrets.
mod base64_like {
    pub fn encode(input: &[u8]) -> String {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for c in input.chunks(3) {
            let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= c.len() {
                    out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

fn repo(p: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// A running operator process; killed on drop.
pub struct Operator {
    child: tokio::process::Child,
    pub log: PathBuf,
    _dir: TempDir,
}

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Operator {
    /// Starts `nautobot-sync-operator run` against the stand-in.
    pub fn start(stand_in: &StandIn, identity: &str, extra: &[&str]) -> Operator {
        let dir = std::env::temp_dir().join(format!(
            "nbsync-e2e-{}-{identity}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let kubeconfig = dir.join("kubeconfig");
        stand_in.write_kubeconfig(&kubeconfig).unwrap();
        let log = dir.join("operator.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_nautobot-sync-operator"))
            .args([
                "run",
                "--namespaces",
                NS,
                "--pod-namespace",
                NS,
                "--identity",
                identity,
                "--metrics-addr",
                "127.0.0.1:0",
                "--discovery-interval-seconds",
                "1",
                "--log-format",
                "text",
            ])
            .args(extra)
            .env("KUBECONFIG", &kubeconfig)
            .env(
                "LOG_LEVEL",
                std::env::var("NBSYNC_E2E_LOG")
                    .unwrap_or_else(|_| "info,nbsync=debug,kube=warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        Operator {
            child,
            log,
            _dir: TempDir(dir),
        }
    }

    /// The log so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process is still running (not exited, not crashed).
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the process at once (SIGKILL).
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// Stops it with SIGTERM and waits (at most 30 s, a pod's default grace period); its exit
    /// status, `None` when it did not exit in time.
    pub async fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000
}

/// Reads an object from the stand-in, lets `f` change it, and writes it back (as a controller or a
/// person editing it would).
pub fn edit_object(
    s: &StandIn,
    api_version: &str,
    kind: &str,
    ns: Option<&str>,
    name: &str,
    f: impl FnOnce(&mut Value),
) {
    let mut o = s
        .get(api_version, kind, ns, name)
        .unwrap_or_else(|| panic!("no {kind} {name} in the stand-in"));
    f(&mut o);
    s.apply_json(o).unwrap();
}

/// Edits the sample VM shop-prod/fedora-db-01's VMI template spec.
///
/// The VM runs, so the same edit reaches its VMI as KubeVirt's live update does (CPU and memory
/// hotplug, `LiveUpdate` rollout): the VMI's spec changes and it reports the topology and memory
/// it now runs with (`status.currentCPUTopology`, `status.memory.guestCurrent`), which is what
/// the operator syncs for a running VM.
pub fn edit_fedora_vm(s: &StandIn, f: impl Fn(&mut Value)) {
    edit_object(
        s,
        "kubevirt.io/v1",
        "VirtualMachine",
        Some("shop-prod"),
        "fedora-db-01",
        |vm| f(&mut vm["spec"]["template"]["spec"]),
    );
    edit_object(
        s,
        "kubevirt.io/v1",
        "VirtualMachineInstance",
        Some("shop-prod"),
        "fedora-db-01",
        |vmi| {
            f(&mut vmi["spec"]);
            let cpu = vmi["spec"]["domain"]["cpu"].clone();
            if cpu.is_object() {
                let part = |k: &str| cpu.get(k).cloned().unwrap_or(json!(1));
                vmi["status"]["currentCPUTopology"] = json!({"sockets": part("sockets"), "cores": part("cores"), "threads": part("threads")});
            }
            if let Some(guest) = vmi["spec"]["domain"]["memory"]["guest"]
                .as_str()
                .map(String::from)
            {
                vmi["status"]["memory"]["guestCurrent"] = json!(guest);
                vmi["status"]["memory"]["guestRequested"] = json!(guest);
            }
        },
    );
}

/// Edits the sample NautobotSync (`ocp-lab` in the operator namespace), as a person would.
pub fn edit_nbsync(s: &StandIn, f: impl FnOnce(&mut Value)) {
    edit_object(
        s,
        "nbsync.dev/v1alpha1",
        "NautobotSync",
        Some(NS),
        "ocp-lab",
        f,
    );
}

/// The NautobotSync's status from the stand-in.
pub fn nbsync_status(s: &StandIn) -> Value {
    s.get("nbsync.dev/v1alpha1", "NautobotSync", Some(NS), "ocp-lab")
        .map(|o| o["status"].clone())
        .unwrap_or(Value::Null)
}

/// A condition's (status, reason).
pub fn condition(status: &Value, type_: &str) -> Option<(String, String)> {
    status["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .map(|c| {
            (
                c["status"].as_str().unwrap_or("").to_string(),
                c["reason"].as_str().unwrap_or("").to_string(),
            )
        })
}

/// The message of the condition `type_` in a status ("" when there is none).
pub fn condition_message(status: &Value, type_: &str) -> String {
    status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == type_)
        .and_then(|c| c["message"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// Polls `check` every 200 ms until it is true or `timeout` passes; panics with `what` and the
/// operator log on timeout.
pub async fn wait_for(
    what: &str,
    timeout: Duration,
    op: &Operator,
    mut check: impl AsyncFnMut() -> bool,
) {
    let started = std::time::Instant::now();
    while started.elapsed() < timeout {
        if check().await {
            eprintln!("{what}: after {:.1}s", started.elapsed().as_secs_f64());
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let logs = op.logs();
    let keep = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-failed-operator.log");
    let _ = std::fs::write(&keep, &logs);
    eprintln!("full operator log: {}", keep.display());
    let tail: Vec<&str> = logs
        .lines()
        .rev()
        .take(60)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    panic!(
        "timed out after {timeout:?} waiting for {what}; operator log tail:\n{}",
        tail.join("\n")
    );
}

/// The address the operator serves /metrics on, from its "serving /metrics" log line.
pub fn metrics_addr(op: &Operator) -> String {
    op.logs()
        .lines()
        .find(|l| l.contains("serving /metrics"))
        .and_then(|l| l.split("addr=").nth(1))
        .map(|a| {
            a.split_whitespace()
                .next()
                .unwrap_or("")
                .trim_matches(|c: char| !c.is_ascii_digit() && c != '.' && c != ':')
                .to_string()
        })
        .expect("metrics address logged")
}

/// Installs KubeVirt late: its CRDs, then the VMs and VMIs of the sample.
pub fn install_kubevirt(s: &StandIn) {
    let snap = sample_snapshot();
    let mut items = kubevirt_crds();
    items.extend(
        snap["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| {
                i["apiVersion"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("kubevirt.io"))
            })
            .cloned(),
    );
    s.load_list(json!({"apiVersion": "v1", "kind": "List", "items": items}))
        .unwrap();
}
