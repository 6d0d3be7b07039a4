//! Minimal OpenShift `route.openshift.io/v1` Route type: only the fields the projection reads
//! (openshift/api `route/v1/types.go`). The TLS key material a Route may carry inline
//! (`certificate`, `key`, `caCertificate`, `destinationCACertificate`) is not a field here, so
//! it is never kept, logged or written anywhere.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use serde::{Deserialize, Serialize};

use super::kubevirt::null_as_default;

/// `route.openshift.io/v1` Route spec (subset).
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "route.openshift.io",
    version = "v1",
    kind = "Route",
    plural = "routes",
    namespaced,
    status = "RouteStatus",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase", default)]
pub struct RouteSpec {
    /// The host; the API server fills it (`<name>-<namespace>.<apps domain>`) when it is
    /// empty and no `subdomain` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// With a subdomain the router picks the host and reports it in `status.ingress[].host`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subdomain: Option<String>,
    /// Path the router matches (`/api`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The backend: a Service (`kind` defaults to Service).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<RouteTarget>,
    /// Up to three more Services sharing the traffic by weight.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub alternate_backends: Vec<RouteTarget>,
    /// The Service port (number or name) traffic goes to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<RoutePort>,
    /// TLS: termination and the insecure-traffic policy only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<RouteTls>,
    /// `None` or `Subdomain`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wildcard_policy: Option<String>,
}

/// A Route's backend.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RouteTarget {
    /// `Service` (the default and the only kind the router serves).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The Service's name.
    pub name: String,
    /// 0..256, default 100; 0 sends no traffic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

/// `spec.port`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RoutePort {
    /// A Service port's number or name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_port: Option<IntOrString>,
}

/// `spec.tls` without its key material.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RouteTls {
    /// `edge`, `passthrough` or `reencrypt`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub termination: Option<String>,
    /// `None`, `Allow` or `Redirect` (empty means None).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insecure_edge_termination_policy: Option<String>,
}

/// `status`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RouteStatus {
    /// One entry per router that has seen the Route.
    #[serde(deserialize_with = "null_as_default")]
    pub ingress: Vec<RouteIngress>,
}

/// `status.ingress[]`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RouteIngress {
    /// The host this router serves the Route on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The router (`default`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub router_name: Option<String>,
    /// `Admitted` (and `UnservableInFutureVersions`).
    #[serde(deserialize_with = "null_as_default")]
    pub conditions: Vec<RouteCondition>,
}

/// A Route ingress condition.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RouteCondition {
    /// `Admitted`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False`, `Unknown`.
    pub status: String,
}
