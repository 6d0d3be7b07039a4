//! Pod IPs (only with `sync.podIps`): each address of a running pod becomes an IP address
//! named like Kubernetes' pod DNS record (`10-128-2-5.<ns>.pod.<domain>`). Host-network pods
//! (their IP is the node's) and virt-launcher pods (their IP is the VM's) are skipped.

use crate::names;
use crate::snapshot::{PodOwner, pod_owner};

use super::ip::{is_unusable, parse_ip};
use super::{Projector, RootProjection, source_of};

impl Projector<'_> {
    pub(super) fn project_pod(&self, ns: &str, name: &str, out: &mut RootProjection) {
        let Some(pod) = self.index.pod(ns, name) else {
            return;
        };
        if !self.namespace_in_scope(ns) || matches!(pod_owner(pod), PodOwner::VirtLauncher(_)) {
            return;
        }
        if pod
            .spec
            .as_ref()
            .and_then(|s| s.host_network)
            .unwrap_or(false)
        {
            return;
        }
        let status = pod.status.as_ref();
        if matches!(
            status.and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        ) {
            return;
        }
        let source = source_of("Pod", &pod.metadata);
        let mut ips: Vec<String> = status
            .and_then(|s| s.pod_ips.as_ref())
            .into_iter()
            .flatten()
            .map(|p| p.ip.clone())
            .collect();
        if ips.is_empty() {
            ips.extend(status.and_then(|s| s.pod_ip.clone()));
        }
        let mut seen = Vec::new();
        for raw in ips {
            let Some(ip) = parse_ip(&raw).filter(|ip| !is_unusable(*ip)) else {
                continue;
            };
            if seen.contains(&ip) {
                continue;
            }
            seen.push(ip);
            let dashed = ip.to_string().replace([':', '.'], "-");
            let dns = names::dns_name(&format!("{dashed}.{ns}.pod.{}", self.cfg.cluster_domain));
            let mut recs = self.ip_records(ip, dns, format!("Pod {ns}/{name}"), &source);
            if let Some(ip_rec) = recs.last_mut() {
                self.mark_source(ip_rec, &pod.metadata, &source);
            }
            out.records.extend(recs);
        }
    }
}
