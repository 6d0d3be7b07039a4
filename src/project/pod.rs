//! Pod IPs (only with `sync.podIps`): each address of a running pod becomes an IP address
//! named like Kubernetes' pod DNS record (`10-128-2-5.<ns>.pod.<domain>`). Host-network pods
//! (their IP is the node's) and virt-launcher pods (their IP is the VM's) are skipped.

use crate::cluster::PodOwner;
use crate::model::names;

use super::ip::{is_unusable, parse_ip};
use super::{Projector, RootProjection};

impl Projector<'_> {
    pub(super) fn project_pod(&self, ns: &str, name: &str, out: &mut RootProjection) {
        let Some(pod) = self.index.pod(ns, name) else {
            return;
        };
        if !self.namespace_in_scope(ns)
            || matches!(pod.owner, PodOwner::VirtLauncher(_))
            || pod.host_network
            || matches!(pod.phase.as_deref(), Some("Succeeded" | "Failed"))
        {
            return;
        }
        let source = format!("Pod {ns}/{name}");
        let mut seen = Vec::new();
        for raw in &pod.ips {
            let Some(ip) = parse_ip(raw).filter(|ip| !is_unusable(*ip)) else {
                continue;
            };
            if seen.contains(&ip) {
                continue;
            }
            seen.push(ip);
            let dashed = ip.to_string().replace([':', '.'], "-");
            let dns = names::dns_name(&format!("{dashed}.{ns}.pod.{}", self.cfg.cluster_domain));
            let mut recs = self.ip_records(
                &super::ip::Space::Cluster,
                ip,
                dns,
                format!("Pod {ns}/{name}"),
                &source,
            );
            if let Some(ip_rec) = recs.last_mut() {
                self.mark_source_with(ip_rec, pod.uid.as_deref(), |k| pod.labels.get(k), &source);
            }
            out.records.extend(recs);
        }
    }
}
