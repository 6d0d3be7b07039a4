//! OpenShift Routes and Ingresses: how traffic from outside reaches Services.
//!
//! Each becomes a CloudService of its own resource type ("OpenShift Route", "Kubernetes
//! Ingress") named `<cluster>/<namespace>/route/<name>`, with the hosts, paths, TLS
//! termination and target Services in `extra_config` and the URLs in the description, which
//! Nautobot's search reads (`nautobot/cloud/filters.py`, `CloudServiceFilterSet.q`): a person
//! who searches for a host name finds the Route. The hosts are also listed on the target
//! Service's record (`externalHosts`). They are never put on IP addresses: a Route's host
//! resolves to the router's address, shared by every Route, and an IPAddress has one
//! `dns_name`.
//!
//! Routes that OpenShift's ingress-to-route controller makes from an Ingress (a controller
//! ownerReference to it; openshift/route-controller-manager `pkg/route/ingress/ingress.go`)
//! are the Ingress's: only the Ingress, which is what people wrote, is recorded.

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

use crate::cluster::{IngressInfo, RouteInfo};
use crate::model::names;

use super::{Projector, RootProjection, source_of};

/// Resource type of Route CloudServices.
pub const ROUTE_TYPE: &str = "OpenShift Route";
/// Resource type of Ingress CloudServices.
pub const INGRESS_TYPE: &str = "Kubernetes Ingress";

fn port_json(p: Option<&IntOrString>) -> Value {
    match p {
        Some(IntOrString::Int(i)) => json!(i),
        Some(IntOrString::String(s)) => json!(s),
        None => Value::Null,
    }
}

/// `scheme://host/path` of a route or an ingress path.
fn url(tls: bool, host: &str, path: Option<&str>) -> String {
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{host}{}", path.unwrap_or(""))
}

/// The description: kind and key, then the URLs (as many as fit).
fn describe(kind: &str, ns: &str, name: &str, urls: &[String]) -> String {
    let mut d = format!("{kind} {ns}/{name}");
    if !urls.is_empty() {
        d.push_str(": ");
        d.push_str(&urls.join(" "));
    }
    names::truncate(&d, names::DESCRIPTION_MAX)
}

impl RouteInfo {
    /// Whether the Route serves TLS (any termination).
    fn tls(&self) -> bool {
        self.termination.is_some()
    }
    /// Whether it sends traffic to this Service.
    pub(super) fn targets(&self, service: &str) -> bool {
        self.backends.iter().any(|(s, _)| &**s == service)
    }
}

impl IngressInfo {
    /// Its hosts, sorted, without repeats.
    pub(super) fn hosts(&self) -> BTreeSet<&str> {
        self.paths
            .iter()
            .filter_map(|p| p.host.as_deref())
            .collect()
    }
}

impl Projector<'_> {
    pub(super) fn project_route(&self, ns: &str, name: &str, out: &mut RootProjection) {
        let Some(r) = self.index.route(ns, name) else {
            return;
        };
        if !self.namespace_in_scope(ns) || r.from_ingress {
            return;
        }
        let source = source_of("Route", &r.meta);
        let urls: Vec<String> = r
            .hosts
            .iter()
            .map(|h| url(r.tls(), h, r.path.as_deref()))
            .collect();
        let to: Vec<Value> = r
            .backends
            .iter()
            .map(|(svc, weight)| json!({"service": svc, "weight": weight.unwrap_or(100)}))
            .collect();
        let extra = json!({
            "kind": "Route",
            "namespace": ns,
            "name": name,
            "hosts": r.hosts,
            "path": r.path,
            "to": to,
            "targetPort": port_json(r.target_port.as_ref()),
            "tls": r.termination.as_ref().map(|t| json!({
                "termination": t,
                // the API's default when empty
                "insecureEdgeTerminationPolicy": r.insecure_policy.as_deref().unwrap_or("None"),
            })),
            "wildcardPolicy": r.wildcard_policy.as_deref().unwrap_or("None"),
            "admitted": r.admitted,
        });
        out.records.push(
            self.cloud_service("Route", &r.meta, ROUTE_TYPE, &source)
                .with("extra_config", extra)
                .with("description", describe("Route", ns, name, &urls)),
        );
    }

    pub(super) fn project_ingress(&self, ns: &str, name: &str, out: &mut RootProjection) {
        let Some(i) = self.index.ingress(ns, name) else {
            return;
        };
        if !self.namespace_in_scope(ns) {
            return;
        }
        let source = source_of("Ingress", &i.meta);
        let tls = |host: Option<&str>| host.is_some_and(|h| i.tls_hosts.iter().any(|t| &**t == h));
        let mut urls: Vec<String> = Vec::new();
        let rules: Vec<Value> = i
            .paths
            .iter()
            .map(|p| {
                if let Some(h) = p.host.as_deref() {
                    let u = url(tls(Some(h)), h, p.path.as_deref());
                    if !urls.contains(&u) {
                        urls.push(u);
                    }
                }
                json!({
                    "host": p.host,
                    "path": p.path,
                    "pathType": p.path_type,
                    "service": p.service,
                    "port": port_json(p.port.as_ref()),
                })
            })
            .collect();
        let extra = json!({
            "kind": "Ingress",
            "namespace": ns,
            "name": name,
            "ingressClassName": i.class,
            "hosts": i.hosts(),
            "rules": rules,
            "tlsHosts": i.tls_hosts,
            "addresses": i.addresses,
        });
        out.records.push(
            self.cloud_service("Ingress", &i.meta, INGRESS_TYPE, &source)
                .with("extra_config", extra)
                .with("description", describe("Ingress", ns, name, &urls)),
        );
    }

    /// The hosts of the Routes and Ingresses (synced, in scope) that send traffic to a Service.
    pub(super) fn service_hosts(&self, ns: &str, service: &str) -> BTreeSet<&str> {
        let mut hosts = BTreeSet::new();
        if !self.cfg.sync.routes {
            return hosts;
        }
        for r in self.index.routes_in(ns) {
            if !r.from_ingress && r.targets(service) {
                hosts.extend(r.hosts.iter().map(|h| &**h));
            }
        }
        for i in self.index.ingresses_in(ns) {
            for p in i.paths.iter() {
                if p.service.as_deref() == Some(service) {
                    hosts.extend(p.host.as_deref());
                }
            }
        }
        hosts
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{config, get, index, ns, project};
    use crate::model::{Kind, Ref};

    /// A Route as the API server and the router write it: `spec.host` allocated
    /// (`openshift.io/host.generated`), admitted by the default router, TLS with inline key
    /// material (openshift/api `route/v1/types.go`).
    fn route(name: &str, extra: serde_json::Value) -> serde_json::Value {
        let mut r = json!({"apiVersion": "route.openshift.io/v1", "kind": "Route",
            "metadata": {"name": name, "namespace": "shop", "uid": format!("route-{name}"),
                         "annotations": {"openshift.io/host.generated": "true"}},
            "spec": {"host": format!("{name}-shop.apps.ocp1.example.com"),
                     "to": {"kind": "Service", "name": "web", "weight": 100},
                     "port": {"targetPort": "http"},
                     "tls": {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect",
                             "certificate": "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----",
                             "key": "-----BEGIN PRIVATE KEY-----\nS3CR3TKEY\n-----END PRIVATE KEY-----"},
                     "wildcardPolicy": "None"},
            "status": {"ingress": [{"host": format!("{name}-shop.apps.ocp1.example.com"), "routerName": "default",
                                    "routerCanonicalHostname": "router-default.apps.ocp1.example.com",
                                    "wildcardPolicy": "None",
                                    "conditions": [{"type": "Admitted", "status": "True", "lastTransitionTime": "2026-11-01T10:00:00Z"}]}]}});
        json_patch::merge(&mut r, &extra);
        r
    }

    fn service() -> serde_json::Value {
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "shop", "uid": "svc-web"},
            "spec": {"type": "ClusterIP", "clusterIP": "172.30.10.10", "clusterIPs": ["172.30.10.10"],
                     "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}})
    }

    #[test]
    fn a_route_is_a_cloud_service_with_its_hosts_and_never_its_keys() {
        let cfg = config(json!({}));
        let p = project(
            &cfg,
            &index(vec![
                ns("shop"),
                service(),
                route(
                    "web",
                    json!({"spec": {"path": "/shop",
                    "alternateBackends": [{"kind": "Service", "name": "web-canary", "weight": 10}]}}),
                ),
            ]),
        );
        let r = get(&p, &cfg, Kind::CloudService, "Route/shop/web");
        assert_eq!(r.json("name"), Some(&json!("ocp-lab/shop/route/web")));
        assert_eq!(
            r.reference("cloud_resource_type"),
            Some(&Ref::CloudResourceType("OpenShift Route".into()))
        );
        assert_eq!(
            r.json("description"),
            Some(&json!(
                "Route shop/web: https://web-shop.apps.ocp1.example.com/shop"
            ))
        );
        let extra = r.json("extra_config").unwrap();
        assert_eq!(extra["hosts"], json!(["web-shop.apps.ocp1.example.com"]));
        assert_eq!(
            extra["to"],
            json!([{"service": "web", "weight": 100}, {"service": "web-canary", "weight": 10}])
        );
        assert_eq!(extra["targetPort"], json!("http"));
        assert_eq!(
            extra["tls"],
            json!({"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"})
        );
        assert_eq!(extra["admitted"], json!(true));
        let all = serde_json::to_string(&p).unwrap();
        assert!(
            !all.contains("S3CR3TKEY") && !all.contains("BEGIN"),
            "{all}"
        );
        // the Service lists the hosts it is reached on
        let svc = get(&p, &cfg, Kind::CloudService, "Service/shop/web");
        assert_eq!(
            svc.json("extra_config").unwrap()["externalHosts"],
            json!(["web-shop.apps.ocp1.example.com"])
        );
    }

    /// A Route with a `subdomain` has no `spec.host`: the router reports the host it serves
    /// in `status.ingress[].host`; one not admitted (yet) keeps `spec.host`.
    #[test]
    fn the_host_is_the_admitted_one() {
        let cfg = config(json!({}));
        let p = project(
            &cfg,
            &index(vec![
                ns("shop"),
                route(
                    "sub",
                    json!({"spec": {"host": null, "subdomain": "sub", "tls": null},
                    "status": {"ingress": [{"host": "sub.apps.ocp1.example.com", "routerName": "default",
                        "conditions": [{"type": "Admitted", "status": "True"}]}]}}),
                ),
                route(
                    "new",
                    json!({"status": {"ingress": [{"host": "new-shop.apps.ocp1.example.com",
                    "conditions": [{"type": "Admitted", "status": "False", "reason": "HostAlreadyClaimed"}]}]}}),
                ),
            ]),
        );
        let sub = get(&p, &cfg, Kind::CloudService, "Route/shop/sub");
        assert_eq!(
            sub.json("extra_config").unwrap()["hosts"],
            json!(["sub.apps.ocp1.example.com"])
        );
        assert_eq!(sub.json("extra_config").unwrap()["tls"], json!(null));
        assert_eq!(
            sub.json("description"),
            Some(&json!("Route shop/sub: http://sub.apps.ocp1.example.com"))
        );
        let new = get(&p, &cfg, Kind::CloudService, "Route/shop/new");
        let extra = new.json("extra_config").unwrap();
        assert_eq!(extra["hosts"], json!(["new-shop.apps.ocp1.example.com"]));
        assert_eq!(extra["admitted"], json!(false));
    }

    /// An Ingress is recorded once: the Routes OpenShift's ingress-to-route controller makes
    /// from it (named `<ingress>-<5 random>`, a controller ownerReference to the Ingress,
    /// openshift/route-controller-manager `pkg/route/ingress/ingress.go`) are not.
    #[test]
    fn an_ingress_is_recorded_once_and_not_as_its_generated_routes() {
        let cfg = config(json!({}));
        let ingress = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "shop", "namespace": "shop", "uid": "ing-shop"},
            "spec": {"ingressClassName": "openshift-default",
                     "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}],
                     "rules": [{"host": "shop.example.com", "http": {"paths": [
                                  {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
                                  {"path": "/api", "pathType": "Prefix", "backend": {"service": {"name": "api", "port": {"name": "http"}}}}]}},
                               {"host": "status.example.com", "http": {"paths": [
                                  {"path": "/", "pathType": "Exact", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]},
            "status": {"loadBalancer": {"ingress": [{"hostname": "router-default.apps.ocp1.example.com"}]}}});
        let generated = route(
            "shop-x7k2q",
            json!({"metadata": {"ownerReferences": [{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                    "name": "shop", "uid": "ing-shop", "controller": true}]},
                   "spec": {"host": "shop.example.com"}}),
        );
        let p = project(
            &cfg,
            &index(vec![ns("shop"), service(), ingress, generated]),
        );
        assert!(
            !p.records.values().any(|r| r.name.contains("/route/")),
            "generated Route recorded"
        );
        let i = get(&p, &cfg, Kind::CloudService, "Ingress/shop/shop");
        assert_eq!(
            i.reference("cloud_resource_type"),
            Some(&Ref::CloudResourceType("Kubernetes Ingress".into()))
        );
        assert_eq!(
            i.json("description"),
            Some(&json!(
                "Ingress shop/shop: https://shop.example.com/ https://shop.example.com/api http://status.example.com/"
            ))
        );
        let extra = i.json("extra_config").unwrap();
        assert_eq!(
            extra["hosts"],
            json!(["shop.example.com", "status.example.com"])
        );
        assert_eq!(extra["ingressClassName"], json!("openshift-default"));
        assert_eq!(
            extra["rules"][1],
            json!({"host": "shop.example.com", "path": "/api", "pathType": "Prefix", "service": "api", "port": "http"})
        );
        assert_eq!(extra["tlsHosts"], json!(["shop.example.com"]));
        assert_eq!(
            extra["addresses"],
            json!(["router-default.apps.ocp1.example.com"])
        );
        // the Service is reached on both hosts, once each
        let svc = get(&p, &cfg, Kind::CloudService, "Service/shop/web");
        assert_eq!(
            svc.json("extra_config").unwrap()["externalHosts"],
            json!(["shop.example.com", "status.example.com"])
        );
        // and routes can be turned off
        let off = config(json!({"sync": {"routes": false}}));
        let p = project(&off, &index(vec![ns("shop"), service()]));
        assert!(!p.records.values().any(|r| r.name.contains("/ingress/")));
    }
}
