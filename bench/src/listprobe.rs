//! `list-probe`: what one pod list costs the operator's process, by page size and by the type
//! it is read into.
//!
//! The operator's watchers list with `resourceVersion=0` (`watcher::Config::any_semantic()`) and
//! `limit=500`. A real API server serves such a list from its watch cache, and up to Kubernetes
//! 1.30 (OpenShift 4.16 is 1.29) it ignores `limit` there: the whole collection comes in one
//! response (kubernetes/enhancements#2467). The stand-in always honours `limit`, so `cache`
//! measures the paged case only. This probe fetches the pod list as kube's client does (the
//! body as one `String`) with and without a limit, then times and counts (counting allocator)
//! what deserialising it costs: into `DeserializeGuard<Pod>` and stripped, as the operator did
//! first, and into the slim pod type the operator reads now (`nbsync::cluster::wire::SlimPod`: only the
//! fields the projection reads; serde skips the rest without allocating).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::core::{DeserializeGuard, ObjectList};
use serde::Deserialize;

use crate::alloc;
use crate::source::Source;

/// Options of `list-probe`.
#[derive(Debug, Clone)]
pub struct Options {
    /// What the stand-in serves.
    pub source: Source,
}

use nbsync::cluster::wire::KEPT_ANNOTATIONS;
use nbsync::cluster::wire::SlimPod;

/// How the operator stripped a pod before it read slim types (`nbsync::cluster::wire`): the full type is
/// read, then cut down. Kept here to measure the difference.
fn strip_full_pod(p: &mut Pod) {
    p.metadata.managed_fields = None;
    if let Some(a) = p.metadata.annotations.as_mut() {
        a.retain(|k, _| KEPT_ANNOTATIONS.contains(&k.as_str()));
    }
    if let Some(s) = p.spec.as_mut() {
        *s = k8s_openapi::api::core::v1::PodSpec {
            node_name: s.node_name.take(),
            host_network: s.host_network,
            ..Default::default()
        };
    }
    if let Some(s) = p.status.as_mut() {
        *s = k8s_openapi::api::core::v1::PodStatus {
            phase: s.phase.take(),
            pod_ip: s.pod_ip.take(),
            pod_ips: s.pod_ips.take(),
            ..Default::default()
        };
    }
}

#[derive(Deserialize)]
struct SlimList {
    items: Vec<SlimPod>,
}

/// A compact pod: only what the projection reads, with namespace, node and label-key strings
/// shared (interned) and the owner resolved at watch time (as `snapshot::pod_owner` does).
#[allow(dead_code)]
struct PodInfo {
    name: Box<str>,
    namespace: Arc<str>,
    uid: Box<str>,
    labels: Box<[(Arc<str>, Box<str>)]>,
    owner: Owner,
    domain: Option<Box<str>>,
    node: Option<Arc<str>>,
    host_network: bool,
    running: bool,
    ips: Box<[IpAddr]>,
}

#[allow(dead_code)]
enum Owner {
    VirtLauncher(Box<str>),
    Deployment(Box<str>),
    Other,
}

#[derive(Default)]
struct Interner(HashMap<Box<str>, Arc<str>>);

impl Interner {
    fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.0.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.0.insert(Box::from(s), a.clone());
        a
    }
}

fn compact(p: SlimPod, interner: &mut Interner) -> PodInfo {
    let m = p.metadata;
    let labels = m.labels.unwrap_or_default();
    let owners = m.owner_references.unwrap_or_default();
    let owner = if labels.get("kubevirt.io").map(String::as_str) == Some("virt-launcher") {
        owners
            .iter()
            .find(|o| o.kind == "VirtualMachineInstance")
            .map(|o| o.uid.as_str())
            .or(labels.get("kubevirt.io/created-by").map(String::as_str))
            .map_or(Owner::Other, |u| Owner::VirtLauncher(u.into()))
    } else {
        match (
            owners
                .iter()
                .find(|o| o.kind == "ReplicaSet" && o.controller == Some(true)),
            labels.get("pod-template-hash"),
        ) {
            (Some(rs), Some(h)) => rs
                .name
                .strip_suffix(&format!("-{h}"))
                .map_or(Owner::Other, |d| Owner::Deployment(d.into())),
            _ => Owner::Other,
        }
    };
    let spec = p.spec;
    let status = p.status;
    PodInfo {
        name: m.name.unwrap_or_default().into(),
        namespace: interner.get(m.namespace.as_deref().unwrap_or("")),
        uid: m.uid.unwrap_or_default().into(),
        labels: labels
            .into_iter()
            .map(|(k, v)| (interner.get(&k), v.into_boxed_str()))
            .collect(),
        owner,
        domain: m
            .annotations
            .and_then(|mut a| a.remove("kubevirt.io/domain"))
            .map(String::into_boxed_str),
        node: spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .map(|n| interner.get(n)),
        host_network: spec.and_then(|s| s.host_network).unwrap_or(false),
        running: status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"),
        ips: status
            .and_then(|s| s.pod_ips)
            .unwrap_or_default()
            .iter()
            .filter_map(|ip| ip.ip.parse().ok())
            .collect(),
    }
}

struct Row {
    what: String,
    items: usize,
    ms: f64,
    peak: usize,
    held: usize,
}

/// Runs the probe and returns the report (Markdown).
pub fn run(opts: &Options) -> Result<String, String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let mut out = String::new();
        out.push_str(&format!("machine: {}\n", crate::procfs::machine()));
        out.push_str(&format!("snapshot: {}\n", opts.source));
        let s = crate::cache::stand_in(&opts.source, &mut out).await?;
        let client = s.client();
        let mut rows = Vec::new();
        let mut body_mib = Vec::new();
        for limit in [Some(500u32), None] {
            let lp = ListParams {
                limit,
                resource_version: Some("0".into()),
                version_match: Some(kube::api::VersionMatch::NotOlderThan),
                ..ListParams::default()
            };
            let req = kube::core::Request::new("/api/v1/pods")
                .list(&lp)
                .map_err(|e| e.to_string())?;
            let text = client.request_text(req).await.map_err(|e| e.to_string())?;
            let label = match limit {
                Some(l) => format!("one page (limit={l})"),
                None => "whole list (limit ignored, as a real API server does for resourceVersion=0)".into(),
            };
            body_mib.push(format!("{label}: {:.1} MiB of JSON", alloc::mib(text.len())));

            // as the operator does today: full typed pods, then stripped one by one
            let base = alloc::live();
            alloc::reset_peak();
            let t0 = Instant::now();
            let mut list: ObjectList<DeserializeGuard<Pod>> =
                serde_json::from_str(&text).map_err(|e| e.to_string())?;
            let parsed = (t0.elapsed(), alloc::live() - base);
            for g in list.items.iter_mut() {
                if let Ok(p) = g.0.as_mut() {
                    strip_full_pod(p);
                }
            }
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            rows.push(Row {
                what: format!("{label}: DeserializeGuard<Pod> as parsed"),
                items: list.items.len(),
                ms: parsed.0.as_secs_f64() * 1000.0,
                peak: alloc::peak() - base,
                held: parsed.1,
            });
            rows.push(Row {
                what: format!("{label}: DeserializeGuard<Pod>, then stripped (the operator before slim types)"),
                items: list.items.len(),
                ms,
                peak: alloc::peak() - base,
                held: alloc::live() - base,
            });
            drop(list);

            // the same, and annotation maps that the strip emptied are dropped
            let base = alloc::live();
            alloc::reset_peak();
            let t0 = Instant::now();
            let mut list: ObjectList<DeserializeGuard<Pod>> =
                serde_json::from_str(&text).map_err(|e| e.to_string())?;
            for g in list.items.iter_mut() {
                if let Ok(p) = g.0.as_mut() {
                    strip_full_pod(p);
                    if p.metadata.annotations.as_ref().is_some_and(|a| a.is_empty()) {
                        p.metadata.annotations = None;
                    }
                }
            }
            rows.push(Row {
                what: format!("{label}: DeserializeGuard<Pod>, stripped, emptied annotation maps dropped"),
                items: list.items.len(),
                ms: t0.elapsed().as_secs_f64() * 1000.0,
                peak: alloc::peak() - base,
                held: alloc::live() - base,
            });
            drop(list);

            // a slim type: serde skips what it does not declare
            let base = alloc::live();
            alloc::reset_peak();
            let t0 = Instant::now();
            let slim: SlimList = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            rows.push(Row {
                what: format!("{label}: slim pod type `nbsync::cluster::wire::SlimPod` (the operator now)"),
                items: slim.items.len(),
                ms: t0.elapsed().as_secs_f64() * 1000.0,
                peak: alloc::peak() - base,
                held: alloc::live() - base,
            });
            drop(slim);
            // the same, turned into compact pods (what the index would hold): the slim list is
            // consumed, so what is left above the base is the compact pods and the interner
            let base = alloc::live();
            alloc::reset_peak();
            let t0 = Instant::now();
            let slim: SlimList = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            let mut interner = Interner::default();
            let pods: Vec<PodInfo> = slim
                .items
                .into_iter()
                .map(|p| compact(p, &mut interner))
                .collect();
            rows.push(Row {
                what: format!("{label}: slim pod type, then compact PodInfo (interned strings)"),
                items: pods.len(),
                ms: t0.elapsed().as_secs_f64() * 1000.0,
                peak: alloc::peak() - base,
                held: alloc::live() - base,
            });
            drop(pods);
            drop(interner);
            drop(text);
        }
        s.shutdown().await;
        out.push_str(&format!(
            "response bodies: {}\n\n(kube's client holds the body as one String while it deserialises it: add that, and the copies it makes while reading it, to the peaks below)\n\n",
            body_mib.join("; ")
        ));
        out.push_str("| pod list read into | pods | wall ms | heap peak MiB | heap held after MiB | bytes held per pod |\n| --- | ---: | ---: | ---: | ---: | ---: |\n");
        for r in rows {
            out.push_str(&format!(
                "| {} | {} | {:.0} | {:.1} | {:.1} | {} |\n",
                r.what,
                r.items,
                r.ms,
                alloc::mib(r.peak),
                alloc::mib(r.held),
                r.held / r.items.max(1)
            ));
        }
        Ok(out)
    })
}
