//! Namespaces become Tenants named `<cluster>/<namespace>` (tenant names are global in
//! Nautobot, so the cluster name keeps two clusters' `team-a` apart). OpenShift's display name
//! becomes the description, its description and requester the comments.

use crate::cluster::Meta;
use crate::model::names;
use crate::model::record_id;
use crate::model::{Field, Kind, Record, Ref};

use super::{Projector, RootProjection, source_of};

impl Projector<'_> {
    pub(super) fn project_namespace(&self, name: &str, out: &mut RootProjection) {
        let Some(ns) = self.index.namespace(name) else {
            return;
        };
        if !self.namespace_in_scope(name) {
            return;
        }
        let meta: &Meta = ns;
        let source = source_of("Namespace", meta);
        let get = |k: &str| {
            meta.annotation(k)
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
        };
        let description = get("openshift.io/display-name").unwrap_or(name);
        let mut comments = Vec::new();
        if let Some(d) = get("openshift.io/description") {
            comments.push(d.to_string());
        }
        if let Some(r) = get("openshift.io/requester") {
            comments.push(format!("Requested by: {r}"));
        }
        let mut r = Record::new(
            record_id(&self.cfg.cluster_name, Kind::Tenant, name),
            Kind::Tenant,
            format!("{}/{}", self.cfg.cluster_name, name),
            &source,
        )
        .with(
            "name",
            names::fit(
                &format!("{}/{}", self.cfg.cluster_name, name),
                names::NAME_MAX,
            ),
        )
        .with(
            "description",
            names::truncate(description, names::DESCRIPTION_MAX),
        )
        .with("comments", comments.join("\n\n"))
        .with(
            "tenant_group",
            self.cfg
                .tenant_group
                .clone()
                .map_or(Field::Json(serde_json::Value::Null), |g| {
                    Ref::TenantGroup(g).into()
                }),
        );
        self.mark_source(&mut r, meta, &source);
        // OpenShift's project page (a namespace is a project there)
        self.console_link(&mut r, &format!("/k8s/cluster/projects/{name}"));
        out.records.push(r);
    }
}
