//! The cluster root: the Nautobot Cluster, the CloudAccount that holds Deployments and
//! Services, and prefixes for the cluster's known pod and service networks.

use serde_json::Value;

use crate::model::names;
use crate::model::record_id;
use crate::model::{CF_SOURCE, CF_UID, CF_VERSION, Kind, Record, Ref};

use super::{Projector, RootProjection};

impl Projector<'_> {
    pub(super) fn project_cluster(&self, out: &mut RootProjection) {
        let cfg = self.cfg;
        let source = format!("Cluster {}", cfg.cluster_name);
        let mut cluster = Record::new(self.cluster_id(), Kind::Cluster, &cfg.cluster_name, &source)
            .with("name", names::fit(&cfg.cluster_name, names::NAME_MAX))
            .with("cluster_type", Ref::ClusterType(cfg.cluster_type.clone()))
            .with(
                "cluster_group",
                cfg.cluster_group
                    .clone()
                    .map_or(crate::model::Field::Json(Value::Null), |g| {
                        Ref::ClusterGroup(g).into()
                    }),
            );
        // where the cluster is (its nodes' Location); left empty when the location's type does
        // not allow clusters (bootstrap, `location_type_allows`)
        cluster = cluster.with(
            "location",
            cfg.location
                .clone()
                .map_or(crate::model::Field::Json(Value::Null), |l| {
                    Ref::Location(l).into()
                }),
        );
        self.mark(&mut cluster);
        if let Some(id) = &self.info.cluster_id {
            cluster
                .custom_fields
                .insert(CF_UID.into(), Value::String(id.clone()));
        }
        cluster
            .custom_fields
            .insert(CF_SOURCE.into(), Value::String(source.clone()));
        // the console itself (its landing page)
        self.console_link(&mut cluster, "/");
        // OpenShift's version (ClusterVersion `status.desired.version`)
        cluster.custom_fields.insert(
            CF_VERSION.into(),
            self.info
                .version
                .as_deref()
                .map_or(Value::Null, |v| Value::String(names::truncate(v, 255))),
        );
        out.records.push(cluster);

        if cfg.sync.deployments
            || cfg.sync.stateful_sets
            || cfg.sync.daemon_sets
            || cfg.sync.services
            || cfg.sync.routes
            || cfg.sync.volumes
        {
            out.records.push(self.cloud_account(&source));
        }

        let pod_nets = self
            .info
            .cluster_networks
            .iter()
            .map(|c| (c, "pod network"));
        let svc_nets = self
            .info
            .service_networks
            .iter()
            .map(|c| (c, "service network"));
        for (cidr, what) in pod_nets.chain(svc_nets) {
            match super::Cidr::parse(cidr) {
                Some(c) => {
                    let mut p =
                        self.prefix_record(&super::ip::Space::Cluster, c, "container", &source);
                    p.fields.insert(
                        "description",
                        names::truncate(
                            &format!("{} {what}", cfg.cluster_name),
                            names::DESCRIPTION_MAX,
                        )
                        .into(),
                    );
                    out.records.push(p);
                }
                None => out.warnings.push(super::Warning {
                    source: source.clone(),
                    message: format!("{what} {cidr:?} is not a CIDR; ignored"),
                }),
            }
        }
    }

    /// The id of the cluster's CloudAccount.
    pub(super) fn cloud_account_id(&self) -> uuid::Uuid {
        record_id(&self.cfg.cluster_name, Kind::CloudAccount, "")
    }

    fn cloud_account(&self, source: &str) -> Record {
        let cfg = self.cfg;
        let number = self
            .info
            .cluster_id
            .clone()
            .unwrap_or_else(|| cfg.cluster_name.clone());
        let mut r = Record::new(
            self.cloud_account_id(),
            Kind::CloudAccount,
            &cfg.cluster_name,
            source,
        )
        .with("name", names::fit(&cfg.cluster_name, names::NAME_MAX))
        .with("account_number", names::fit(&number, names::NAME_MAX))
        .with("provider", Ref::Manufacturer(cfg.cloud_provider.clone()));
        self.mark(&mut r);
        r
    }
}
