//! How traffic from outside reaches Services: OpenShift Routes and Kubernetes Ingresses, in the
//! compact forms the index keeps. No TLS key material and no Secret contents are ever read;
//! an Ingress's TLS Secret is kept by name only.

use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::openshift::Route;
use super::stored::{HasMeta, Meta, non_empty};

/// A Route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteInfo {
    /// Metadata.
    pub meta: Meta,
    /// The hosts it is served on: `status.ingress[].host` of the routers that admitted it,
    /// else `spec.host` (a Route with a `subdomain` has its host in the status only).
    pub hosts: Box<[Box<str>]>,
    /// `spec.path`.
    pub path: Option<Box<str>>,
    /// `spec.to` then `spec.alternateBackends`: (Service name, weight).
    pub backends: Box<[(Box<str>, Option<i32>)]>,
    /// `spec.port.targetPort`.
    pub target_port: Option<IntOrString>,
    /// `spec.tls.termination`.
    pub termination: Option<Box<str>>,
    /// `spec.tls.insecureEdgeTerminationPolicy`.
    pub insecure_policy: Option<Box<str>>,
    /// `spec.wildcardPolicy`.
    pub wildcard_policy: Option<Box<str>>,
    /// Whether OpenShift's ingress-to-route controller made it from an Ingress (a controller
    /// ownerReference to an Ingress): the Ingress is the object people wrote.
    pub from_ingress: bool,
    /// Whether any router admitted it.
    pub admitted: bool,
}

impl From<Route> for RouteInfo {
    fn from(r: Route) -> Self {
        let from_ingress = r.metadata.owner_references.iter().flatten().any(|o| {
            o.kind == "Ingress"
                && o.controller == Some(true)
                && (o.api_version.starts_with("networking.k8s.io/")
                    || o.api_version.starts_with("extensions/"))
        });
        let admitted_hosts: Vec<Box<str>> = r
            .status
            .iter()
            .flat_map(|s| &s.ingress)
            .filter(|i| {
                i.conditions
                    .iter()
                    .any(|c| c.type_ == "Admitted" && c.status == "True")
            })
            .filter_map(|i| i.host.clone().filter(|h| !h.is_empty()))
            .map(String::into_boxed_str)
            .collect();
        let admitted = !admitted_hosts.is_empty();
        let mut hosts = admitted_hosts;
        if hosts.is_empty() {
            hosts.extend(non_empty(r.spec.host.clone()));
        }
        hosts.sort();
        hosts.dedup();
        let spec = r.spec;
        let backends = spec
            .to
            .into_iter()
            .chain(spec.alternate_backends)
            .filter(|t| {
                t.kind
                    .as_deref()
                    .is_none_or(|k| k.is_empty() || k == "Service")
            })
            .map(|t| (t.name.into_boxed_str(), t.weight))
            .collect();
        let tls = spec.tls.unwrap_or_default();
        RouteInfo {
            meta: Meta::from(r.metadata),
            hosts: hosts.into_boxed_slice(),
            path: non_empty(spec.path),
            backends,
            target_port: spec.port.and_then(|p| p.target_port),
            termination: non_empty(tls.termination),
            insecure_policy: non_empty(tls.insecure_edge_termination_policy),
            wildcard_policy: non_empty(spec.wildcard_policy),
            from_ingress,
            admitted,
        }
    }
}

/// One path of an Ingress rule (a rule with no paths, or the default backend, is one with no
/// host or no path).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngressPath {
    /// `rules[].host`; `None` for every host.
    pub host: Option<Box<str>>,
    /// `paths[].path`.
    pub path: Option<Box<str>>,
    /// `Exact`, `Prefix` or `ImplementationSpecific`.
    pub path_type: Option<Box<str>>,
    /// The backend Service.
    pub service: Option<Box<str>>,
    /// Its port, by number or name.
    pub port: Option<IntOrString>,
}

/// An Ingress.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngressInfo {
    /// Metadata.
    pub meta: Meta,
    /// `spec.ingressClassName`, else the `kubernetes.io/ingress.class` annotation.
    pub class: Option<Box<str>>,
    /// Every path of every rule, then the default backend (no host, no path).
    pub paths: Box<[IngressPath]>,
    /// The hosts of `spec.tls[]` (served with TLS at the ingress controller).
    pub tls_hosts: Box<[Box<str>]>,
    /// `status.loadBalancer.ingress[]`: IPs, or hostnames (OpenShift writes the router's
    /// canonical hostname here).
    pub addresses: Box<[Box<str>]>,
}

impl From<Ingress> for IngressInfo {
    fn from(i: Ingress) -> Self {
        let class_annotation = i
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("kubernetes.io/ingress.class").cloned());
        let spec = i.spec.unwrap_or_default();
        let port = |p: Option<k8s_openapi::api::networking::v1::ServiceBackendPort>| {
            p.and_then(|p| match (p.number, p.name) {
                (Some(n), _) => Some(IntOrString::Int(n)),
                (None, Some(n)) => Some(IntOrString::String(n)),
                _ => None,
            })
        };
        let mut paths = Vec::new();
        for rule in spec.rules.into_iter().flatten() {
            let host = non_empty(rule.host);
            for p in rule.http.map(|h| h.paths).unwrap_or_default() {
                let svc = p.backend.service;
                paths.push(IngressPath {
                    host: host.clone(),
                    path: non_empty(p.path),
                    path_type: non_empty(Some(p.path_type)),
                    service: svc.as_ref().map(|s| s.name.clone().into_boxed_str()),
                    port: port(svc.and_then(|s| s.port)),
                });
            }
        }
        if let Some(svc) = spec.default_backend.and_then(|b| b.service) {
            paths.push(IngressPath {
                service: Some(svc.name.into_boxed_str()),
                port: port(svc.port),
                ..IngressPath::default()
            });
        }
        let mut tls_hosts: Vec<Box<str>> = spec
            .tls
            .into_iter()
            .flatten()
            .flat_map(|t| t.hosts.unwrap_or_default())
            .map(String::into_boxed_str)
            .collect();
        tls_hosts.sort();
        tls_hosts.dedup();
        let addresses = i
            .status
            .and_then(|s| s.load_balancer)
            .and_then(|l| l.ingress)
            .into_iter()
            .flatten()
            .filter_map(|a| a.ip.or(a.hostname))
            .map(String::into_boxed_str)
            .collect();
        IngressInfo {
            meta: Meta::from(i.metadata),
            class: non_empty(spec.ingress_class_name).or_else(|| non_empty(class_annotation)),
            paths: paths.into_boxed_slice(),
            tls_hosts: tls_hosts.into_boxed_slice(),
            addresses,
        }
    }
}

impl HasMeta for RouteInfo {
    fn meta(&self) -> &Meta {
        &self.meta
    }
}
impl HasMeta for IngressInfo {
    fn meta(&self) -> &Meta {
        &self.meta
    }
}
