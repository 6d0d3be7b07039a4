//! A synthetic but realistic OpenShift + KubeVirt cluster, in the shapes of
//! `examples/snapshot.json` (what `oc get ... -o json` prints), deterministic for a seed.
//!
//! Objects carry what real clusters carry and the operator throws away: managedFields,
//! `kubectl.kubernetes.io/last-applied-configuration`, the OVN and multus annotations, full
//! container specs (env, probes, resources, volume mounts), node images and cpu-feature labels.
//! That is what makes the memory figures honest: the watch cache must strip it.
//!
//! Pods: `Scale::pods` counts the pods of Deployments, DaemonSets and Jobs; the virt-launcher
//! pods of running VMs come on top (one per running VM, two for a migrating one).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::{Map, Value, json};

use crate::rng::Rng;

/// How big a cluster to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    /// Namespaces, system ones (`openshift-*`, `kube-*`, `default`, `openshift`) included.
    pub namespaces: usize,
    /// Nodes (3 control-plane, the rest workers).
    pub nodes: usize,
    /// Pods of Deployments, DaemonSets and Jobs (virt-launcher pods come on top).
    pub pods: usize,
    /// Deployments.
    pub deployments: usize,
    /// Services.
    pub services: usize,
    /// KubeVirt VirtualMachines (about 10% stopped; running ones get a VMI and a launcher pod).
    pub vms: usize,
}

impl Scale {
    /// Issue 6's S scale.
    pub const S: Scale = Scale {
        namespaces: 200,
        nodes: 50,
        pods: 5_000,
        deployments: 500,
        services: 500,
        vms: 500,
    };
    /// Issue 6's L scale.
    pub const L: Scale = Scale {
        namespaces: 1_000,
        nodes: 1_000,
        pods: 50_000,
        deployments: 2_000,
        services: 5_000,
        vms: 5_000,
    };

    /// `S`, `L`, or either divided or multiplied by an integer: `L/2`, `S*4`.
    pub fn parse(s: &str) -> Result<Scale, String> {
        let (base, op) = match s.find(['/', '*']) {
            Some(i) => (&s[..i], Some((&s[i..i + 1], &s[i + 1..]))),
            None => (s, None),
        };
        let base = match base {
            "S" | "s" => Scale::S,
            "L" | "l" => Scale::L,
            other => {
                return Err(format!(
                    "unknown scale {other:?} (S, L, L/2, S*4 or custom)"
                ));
            }
        };
        let Some((op, n)) = op else { return Ok(base) };
        let n: usize = n
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("bad factor in {s:?}"))?;
        let f = |v: usize| if op == "/" { v.div_ceil(n) } else { v * n };
        Ok(Scale {
            namespaces: f(base.namespaces),
            nodes: f(base.nodes),
            pods: f(base.pods),
            deployments: f(base.deployments),
            services: f(base.services),
            vms: f(base.vms),
        })
    }
}

/// How many objects of each kind were generated.
pub type Counts = BTreeMap<&'static str, usize>;

/// The cluster's name (node names start with it).
pub const CLUSTER: &str = "ocp-bench";

const SYSTEM_NAMESPACES: [&str; 28] = [
    "default",
    "kube-system",
    "openshift",
    "openshift-cnv",
    "openshift-monitoring",
    "openshift-ingress",
    "openshift-dns",
    "openshift-multus",
    "openshift-ovn-kubernetes",
    "openshift-machine-config-operator",
    "openshift-image-registry",
    "openshift-ingress-canary",
    "openshift-console",
    "openshift-etcd",
    "openshift-apiserver",
    "openshift-kube-apiserver",
    "openshift-kube-controller-manager",
    "openshift-kube-scheduler",
    "openshift-authentication",
    "openshift-machine-api",
    "openshift-marketplace",
    "openshift-operator-lifecycle-manager",
    "openshift-network-diagnostics",
    "openshift-cluster-version",
    "openshift-storage",
    "openshift-virtualization-os-images",
    "kube-public",
    "kube-node-lease",
];

/// System namespaces that run Deployments.
const SYSTEM_DEPLOYMENT_NAMESPACES: [&str; 6] = [
    "openshift-monitoring",
    "openshift-console",
    "openshift-ingress",
    "openshift-image-registry",
    "openshift-cnv",
    "openshift-marketplace",
];

/// DaemonSets on every node: (namespace, name, image, host network).
const DAEMONSETS: [(&str, &str, &str, bool); 10] = [
    (
        "openshift-ovn-kubernetes",
        "ovnkube-node",
        "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:9c1e4b5a",
        true,
    ),
    (
        "openshift-multus",
        "multus",
        "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:4f2d8e1b",
        true,
    ),
    (
        "openshift-multus",
        "network-metrics-daemon",
        "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:77aa01c3",
        false,
    ),
    (
        "openshift-dns",
        "dns-default",
        "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:0be3c4d2",
        false,
    ),
    (
        "openshift-dns",
        "node-resolver",
        "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:a1d39e7f",
        true,
    ),
    (
        "openshift-machine-config-operator",
        "machine-config-daemon",
        "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:5d6e7f80",
        true,
    ),
    (
        "openshift-monitoring",
        "node-exporter",
        "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:e0f1a2b3",
        true,
    ),
    (
        "openshift-image-registry",
        "node-ca",
        "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:c4d5e6f7",
        true,
    ),
    (
        "openshift-ingress-canary",
        "ingress-canary",
        "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:18293a4b",
        false,
    ),
    (
        "openshift-cnv",
        "virt-handler",
        "registry.redhat.io/container-native-virtualization/virt-handler-rhel9@sha256:5c6d7e8f",
        false,
    ),
];

const TEAMS: [&str; 16] = [
    "shop",
    "payments",
    "data",
    "ml",
    "vdi",
    "search",
    "billing",
    "identity",
    "logistics",
    "media",
    "crm",
    "erp",
    "iot",
    "risk",
    "hr",
    "analytics",
];
const ENVS: [&str; 4] = ["prod", "staging", "dev", "test"];
const APPS: [&str; 16] = [
    "storefront",
    "cart-api",
    "checkout",
    "catalog",
    "etl-worker",
    "etl-api",
    "gateway",
    "auth",
    "notifier",
    "scheduler",
    "reporting",
    "ingest",
    "frontend",
    "backend",
    "worker",
    "indexer",
];

/// Cluster instancetypes: (name, vCPUs, memory).
const INSTANCETYPES: [(&str, u64, &str); 8] = [
    ("u1.small", 1, "2Gi"),
    ("u1.medium", 1, "4Gi"),
    ("u1.large", 2, "8Gi"),
    ("u1.xlarge", 4, "16Gi"),
    ("u1.2xlarge", 8, "32Gi"),
    ("cx1.large", 2, "4Gi"),
    ("cx1.xlarge", 4, "8Gi"),
    ("m1.large", 2, "16Gi"),
];

/// Guest OSes: (name prefix, `vm.kubevirt.io/os`, guest agent name, version id, preference).
const OSES: [(&str, &str, &str, &str, &str); 6] = [
    ("fedora", "fedora", "Fedora Linux", "40", "fedora"),
    (
        "rhel9",
        "rhel9",
        "Red Hat Enterprise Linux",
        "9.4",
        "rhel.9",
    ),
    (
        "rhel8",
        "rhel8",
        "Red Hat Enterprise Linux",
        "8.10",
        "rhel.8",
    ),
    (
        "centos",
        "centos-stream9",
        "CentOS Stream",
        "9",
        "centos.stream9",
    ),
    (
        "win2k22",
        "windows2k22",
        "Microsoft Windows Server 2022 Datacenter",
        "2022",
        "windows.2k22",
    ),
    ("ubuntu", "ubuntu", "Ubuntu", "22.04", "ubuntu"),
];

const LAUNCHER_IMAGE: &str = "registry.redhat.io/container-native-virtualization/virt-launcher-rhel9@sha256:871bdede978b0007775c5e6b53fa66ec69db0d29844e78b7154b5a37c56b5cf4";

struct NodeInfo {
    name: String,
    ip: String,
    ipv6: Option<String>,
    /// First address of the node's pod subnet (a /23).
    subnet: u32,
    /// Next host in the subnet.
    next: u32,
}

struct NsInfo {
    name: String,
    system: bool,
    team: &'static str,
    env: &'static str,
}

struct DeploymentInfo {
    ns: String,
    name: String,
    app: String,
    port: u64,
}

struct VmInfo {
    ns: String,
    name: String,
    app: String,
}

/// The generator state.
pub struct Generator<'a> {
    rng: Rng,
    scale: Scale,
    emit: &'a mut dyn FnMut(Value),
    counts: Counts,
    nodes: Vec<NodeInfo>,
    namespaces: Vec<NsInfo>,
    deployments: Vec<DeploymentInfo>,
    running_vms: Vec<VmInfo>,
    service_ip: u32,
    public_ip: u32,
    multus_ip: u32,
    namespaced_instancetypes: BTreeSet<String>,
    /// Indexes of the user namespaces and of the worker nodes.
    user_namespaces: Vec<usize>,
    workers: Vec<usize>,
}

/// Generates the cluster, handing each object to `emit` (so that no big list is built).
pub fn generate(scale: &Scale, seed: u64, emit: &mut dyn FnMut(Value)) -> Counts {
    let mut g = Generator {
        rng: Rng::new(seed),
        scale: *scale,
        emit,
        counts: Counts::new(),
        nodes: Vec::new(),
        namespaces: Vec::new(),
        deployments: Vec::new(),
        running_vms: Vec::new(),
        service_ip: 0,
        public_ip: 0,
        multus_ip: 0,
        namespaced_instancetypes: BTreeSet::new(),
        user_namespaces: Vec::new(),
        workers: Vec::new(),
    };
    g.cluster();
    g.namespaces();
    g.nodes();
    g.workloads();
    g.vms();
    g.services();
    g.counts
}

/// Turns an object into the `fieldsV1` set a managedFields entry holds for it.
fn fields_v1(v: &Value) -> Value {
    let Value::Object(m) = v else {
        return json!({});
    };
    let mut out = Map::new();
    for (k, v) in m {
        let inner = match v {
            Value::Object(_) => {
                let mut f = fields_v1(v);
                f[".".to_string()] = json!({});
                f
            }
            Value::Array(items) => {
                let mut am = Map::new();
                for it in items {
                    if let Some(name) = it.get("name").and_then(Value::as_str) {
                        let mut f = fields_v1(it);
                        f[".".to_string()] = json!({});
                        am.insert(format!("k:{{\"name\":\"{name}\"}}"), f);
                    } else if let Some(s) = it.as_str() {
                        am.insert(format!("v:\"{s}\""), json!({}));
                    } else if let Some(t) = it.get("type").and_then(Value::as_str) {
                        am.insert(format!("k:{{\"type\":\"{t}\"}}"), fields_v1(it));
                    }
                }
                Value::Object(am)
            }
            _ => json!({}),
        };
        out.insert(format!("f:{k}"), inner);
    }
    Value::Object(out)
}

fn managed(
    manager: &str,
    api_version: &str,
    time: &str,
    fields: Value,
    subresource: Option<&str>,
) -> Value {
    let mut e = json!({"apiVersion": api_version, "fieldsType": "FieldsV1", "fieldsV1": fields,
                       "manager": manager, "operation": "Update", "time": time});
    if let Some(s) = subresource {
        e["subresource"] = json!(s);
    }
    e
}

fn ipv4(n: u32) -> String {
    std::net::Ipv4Addr::from(n).to_string()
}

fn mac(n: u64) -> String {
    let b = n.to_be_bytes();
    format!(
        "02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[3], b[4], b[5], b[6], b[7]
    )
}

fn labels_of(v: &Value) -> Map<String, Value> {
    v["metadata"]["labels"]
        .as_object()
        .cloned()
        .unwrap_or_default()
}

impl Generator<'_> {
    fn put(&mut self, kind: &'static str, v: Value) {
        *self.counts.entry(kind).or_default() += 1;
        (self.emit)(v);
    }

    fn cluster(&mut self) {
        let big = self.scale.nodes > 500;
        let cluster_cidr = if big {
            "10.128.0.0/12"
        } else {
            "10.128.0.0/14"
        };
        let t = self.rng.time();
        let net = json!({"apiVersion": "config.openshift.io/v1", "kind": "Network",
          "metadata": {"annotations": {"include.release.openshift.io/self-managed-high-availability": "true"},
                       "creationTimestamp": t, "generation": 3, "name": "cluster", "resourceVersion": "48312127",
                       "uid": self.rng.uid()},
          "spec": {"clusterNetwork": [{"cidr": cluster_cidr, "hostPrefix": 23}],
                   "externalIP": {"policy": {"allowedCIDRs": ["198.51.100.0/24"]}},
                   "networkType": "OVNKubernetes", "serviceNetwork": ["172.30.0.0/16"]},
          "status": {"clusterNetwork": [{"cidr": cluster_cidr, "hostPrefix": 23}], "clusterNetworkMTU": 8901,
                     "networkType": "OVNKubernetes", "serviceNetwork": ["172.30.0.0/16"]}});
        self.put("Network", net);
        let cv = json!({"apiVersion": "config.openshift.io/v1", "kind": "ClusterVersion",
          "metadata": {"creationTimestamp": t, "generation": 4, "name": "version", "resourceVersion": "48314669",
                       "uid": self.rng.uid()},
          "spec": {"channel": "stable-4.16", "clusterID": self.rng.uid()},
          "status": {"availableUpdates": null,
                     "conditions": [{"lastTransitionTime": t, "message": "Done applying 4.16.12", "status": "True", "type": "Available"},
                                    {"lastTransitionTime": t, "status": "False", "type": "Failing"},
                                    {"lastTransitionTime": t, "message": "Cluster version is 4.16.12", "status": "False", "type": "Progressing"}],
                     "desired": {"channels": ["candidate-4.16", "eus-4.16", "fast-4.16", "stable-4.16"],
                                 "image": "quay.io/openshift-release-dev/ocp-release@sha256:b715ccf75cfe5622393731a6eba68a49a2f11039f6b58942be78f9bdf3522298",
                                 "url": "https://access.redhat.com/errata/RHBA-2024:6824", "version": "4.16.12"},
                     "history": [{"completionTime": t, "image": "quay.io/openshift-release-dev/ocp-release@sha256:b715ccf75cfe5622393731a6eba68a49a2f11039f6b58942be78f9bdf3522298",
                                  "startedTime": t, "state": "Completed", "verified": false, "version": "4.16.12"}],
                     "observedGeneration": 4, "versionHash": "xfbhfzvkz26"}});
        self.put("ClusterVersion", cv);
        for (name, cpu, mem) in INSTANCETYPES {
            let it = json!({"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineClusterInstancetype",
              "metadata": {"annotations": {"instancetype.kubevirt.io/description": "The U Series is quite neutral and provides resources for\ngeneral purpose applications.",
                                           "instancetype.kubevirt.io/displayName": "General Purpose"},
                           "creationTimestamp": t, "generation": 1,
                           "labels": {"app.kubernetes.io/component": "compute", "app.kubernetes.io/managed-by": "virt-operator",
                                      "instancetype.kubevirt.io/cpu": cpu.to_string(), "instancetype.kubevirt.io/memory": mem,
                                      "instancetype.kubevirt.io/vendor": "kubevirt.io"},
                           "name": name, "resourceVersion": "48315761", "uid": self.rng.uid()},
              "spec": {"cpu": {"guest": cpu}, "memory": {"guest": mem}}});
            self.put("VirtualMachineClusterInstancetype", it);
        }
    }

    fn namespaces(&mut self) {
        let n = self.scale.namespaces;
        let system_count = SYSTEM_NAMESPACES.len().min(n / 4 + 4);
        for i in 0..n {
            let (name, system, team, env) =
                if let Some(sys) = SYSTEM_NAMESPACES.get(i).filter(|_| i < system_count) {
                    (sys.to_string(), true, "platform", "prod")
                } else {
                    let team = *self.rng.pick(&TEAMS);
                    let env = *self.rng.pick(&ENVS);
                    (format!("{team}-{env}-{i:04}"), false, team, env)
                };
            let t = self.rng.time();
            let uid = self.rng.uid();
            let mcs = format!("s0:c{},c{}", self.rng.range(1, 40), self.rng.range(1, 40));
            let range = 1_000_000_000 + self.rng.below(1000) * 10_000;
            let mut labels = json!({"kubernetes.io/metadata.name": name,
                "pod-security.kubernetes.io/audit": "restricted", "pod-security.kubernetes.io/audit-version": "v1.24",
                "pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/warn-version": "v1.24"});
            let mut annotations = json!({"openshift.io/sa.scc.mcs": mcs,
                "openshift.io/sa.scc.supplemental-groups": format!("{range}/10000"),
                "openshift.io/sa.scc.uid-range": format!("{range}/10000")});
            if system {
                labels["openshift.io/cluster-monitoring"] = json!("true");
                labels["openshift.io/run-level"] = json!("0");
                annotations["openshift.io/node-selector"] = json!("");
                annotations["workload.openshift.io/allowed"] = json!("management");
            } else {
                labels["app.kubernetes.io/part-of"] = json!(team);
                labels["team"] = json!(team);
                labels["environment"] = json!(env);
                let display = if i % 17 == 0 {
                    format!("Données & Analytique — {team} {env} 📊")
                } else {
                    format!("{} ({env})", team.to_uppercase())
                };
                annotations["openshift.io/display-name"] = json!(display);
                annotations["openshift.io/description"] =
                    json!(format!("Workloads of team {team}, {env} environment"));
                annotations["openshift.io/requester"] = json!(format!("{team}-lead@example.com"));
            }
            let meta_fields =
                fields_v1(&json!({"metadata": {"labels": labels, "annotations": annotations}}));
            let ns = json!({"apiVersion": "v1", "kind": "Namespace",
              "metadata": {"annotations": annotations, "creationTimestamp": t, "labels": labels,
                           "managedFields": [managed("openshift-controller-manager", "v1", &t, meta_fields, None)],
                           "name": name, "resourceVersion": "48220488", "uid": uid},
              "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
            self.put("Namespace", ns);
            if !system {
                self.user_namespaces.push(self.namespaces.len());
            }
            self.namespaces.push(NsInfo {
                name,
                system,
                team,
                env,
            });
        }
    }

    fn nodes(&mut self) {
        let n = self.scale.nodes;
        for i in 0..n {
            let master = i < 3.min(n);
            let name = if master {
                format!("{CLUSTER}-master-{i}")
            } else {
                format!("{CLUSTER}-worker-{:04}", i - 3)
            };
            let host = (i as u32 / 250) * 256 + (i as u32 % 250) + 10;
            let ip = ipv4(u32::from(std::net::Ipv4Addr::new(10, 0, 0, 0)) + host);
            let ipv6 = (i % 10 == 4).then(|| format!("2001:db8:1::{:x}", host));
            let subnet = u32::from(std::net::Ipv4Addr::new(10, 128, 0, 0)) + (i as u32) * 512;
            let t = self.rng.time();
            let infra = !master && i % 20 == 5;
            let cordoned = !master && i % 50 == 7;
            let not_ready = !master && i % 100 == 13;
            let itype = if i % 7 == 3 {
                None
            } else if master {
                Some("m5.2xlarge")
            } else {
                Some(
                    *self
                        .rng
                        .pick(&["m5.metal", "m6i.metal", "c5.metal", "r5.metal"]),
                )
            };
            let mut labels = json!({"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                "node.openshift.io/os_id": "rhcos", "topology.kubernetes.io/region": "us-east-1",
                "topology.kubernetes.io/zone": format!("us-east-1{}", ["a", "b", "c"][i % 3])});
            if let Some(t) = itype {
                labels["node.kubernetes.io/instance-type"] = json!(t);
                labels["beta.kubernetes.io/instance-type"] = json!(t);
            }
            if master {
                labels["node-role.kubernetes.io/master"] = json!("");
                labels["node-role.kubernetes.io/control-plane"] = json!("");
            } else {
                labels["node-role.kubernetes.io/worker"] = json!("");
                labels["kubevirt.io/schedulable"] = json!(if not_ready { "false" } else { "true" });
                labels["cpu-model.node.kubevirt.io/Cascadelake-Server-noTSX"] = json!("true");
                labels["cpu-vendor.node.kubevirt.io/Intel"] = json!("true");
                labels["host-model-cpu.node.kubevirt.io/Cascadelake-Server-noTSX"] = json!("true");
                labels["machine-type.node.kubevirt.io/pc-q35-rhel9.4.0"] = json!("true");
                labels["scheduling.node.kubevirt.io/tsc-frequency-2999998000"] = json!("true");
                for f in [
                    "abm",
                    "adx",
                    "aes",
                    "avx",
                    "avx2",
                    "avx512bw",
                    "avx512cd",
                    "avx512dq",
                    "avx512f",
                    "avx512vl",
                    "avx512vnni",
                    "bmi1",
                    "bmi2",
                    "clflushopt",
                    "clwb",
                    "erms",
                    "f16c",
                    "fma",
                    "fsgsbase",
                    "hypervisor",
                    "invpcid",
                    "lahf_lm",
                    "md-clear",
                    "movbe",
                    "pcid",
                    "pclmuldq",
                    "pdpe1gb",
                    "popcnt",
                    "pku",
                    "rdrand",
                    "rdseed",
                    "sha-ni",
                    "smap",
                    "smep",
                    "spec-ctrl",
                    "ssbd",
                    "sse4.1",
                    "sse4.2",
                    "ssse3",
                    "tsc-deadline",
                    "vme",
                    "x2apic",
                    "xsave",
                    "xsavec",
                    "xsaveopt",
                    "xsaves",
                ] {
                    labels[format!("cpu-feature.node.kubevirt.io/{f}")] = json!("true");
                }
                if infra {
                    labels["node-role.kubernetes.io/infra"] = json!("");
                }
            }
            let mut host_cidrs = vec![format!("{ip}/24")];
            let mut addresses = vec![json!({"address": ip, "type": "InternalIP"})];
            if let Some(v6) = &ipv6 {
                host_cidrs.push(format!("{v6}/64"));
                addresses.push(json!({"address": v6, "type": "InternalIP"}));
            }
            addresses.push(json!({"address": name, "type": "Hostname"}));
            let annotations = json!({
                "k8s.ovn.org/host-cidrs": serde_json::to_string(&host_cidrs).unwrap(),
                "k8s.ovn.org/node-chassis-id": self.rng.uid(),
                "k8s.ovn.org/node-primary-ifaddr": format!("{{\"ipv4\":\"{ip}/24\"}}"),
                "k8s.ovn.org/node-subnets": format!("{{\"default\":[\"{}/23\"]}}", ipv4(subnet)),
                "k8s.ovn.org/zone-name": name,
                "kubevirt.io/heartbeat": "2024-10-07T09:40:44Z",
                "machine.openshift.io/machine": format!("openshift-machine-api/{name}"),
                "machineconfiguration.openshift.io/controlPlaneTopology": "HighlyAvailable",
                "machineconfiguration.openshift.io/currentConfig": "rendered-worker-523c6e596d69d8de1b1511b70036dec1",
                "machineconfiguration.openshift.io/desiredConfig": "rendered-worker-523c6e596d69d8de1b1511b70036dec1",
                "machineconfiguration.openshift.io/reason": "",
                "machineconfiguration.openshift.io/state": "Done",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true"});
            let (ready_status, ready_reason) = if not_ready {
                ("Unknown", "NodeStatusUnknown")
            } else {
                ("True", "KubeletReady")
            };
            let conditions: Vec<Value> = [
                ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
                ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
                ("PIDPressure", "False", "KubeletHasSufficientPID"),
                ("Ready", ready_status, ready_reason),
            ]
            .iter()
            .map(|(ty, st, reason)| {
                json!({"lastHeartbeatTime": "2024-10-07T09:40:51Z", "lastTransitionTime": t,
                       "message": format!("kubelet condition {ty}"), "reason": reason, "status": st, "type": ty})
            })
            .collect();
            let images: Vec<Value> = (0..30)
                .map(|k| {
                    let d = self.rng.hex(64);
                    json!({"names": [format!("quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:{d}"),
                                     format!("quay.io/openshift-release-dev/ocp-v4.0-art-dev:component-{k}")],
                           "sizeBytes": 400_000_000 + self.rng.below(900_000_000)})
                })
                .collect();
            let (cpu, mem) = if master {
                ("8", "32601820Ki")
            } else {
                ("96", "394741272Ki")
            };
            let mut spec =
                json!({"providerID": format!("aws:///us-east-1a/i-0{}", self.rng.hex(16))});
            let mut taints = Vec::new();
            if master {
                taints
                    .push(json!({"effect": "NoSchedule", "key": "node-role.kubernetes.io/master"}));
            }
            if cordoned {
                spec["unschedulable"] = json!(true);
                taints.push(json!({"effect": "NoSchedule", "key": "node.kubernetes.io/unschedulable", "timeAdded": t}));
            }
            if not_ready {
                taints.push(json!({"effect": "NoSchedule", "key": "node.kubernetes.io/unreachable", "timeAdded": t}));
                taints.push(json!({"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "timeAdded": t}));
            }
            if !taints.is_empty() {
                spec["taints"] = json!(taints);
            }
            let status = json!({"addresses": addresses,
                "allocatable": {"cpu": "95500m", "devices.kubevirt.io/kvm": "1k", "devices.kubevirt.io/tun": "1k",
                                "devices.kubevirt.io/vhost-net": "1k", "ephemeral-storage": "229807412946",
                                "hugepages-1Gi": "0", "hugepages-2Mi": "0", "memory": mem, "pods": "250"},
                "capacity": {"cpu": cpu, "devices.kubevirt.io/kvm": "1k", "devices.kubevirt.io/tun": "1k",
                             "devices.kubevirt.io/vhost-net": "1k", "ephemeral-storage": "250525164Ki",
                             "hugepages-1Gi": "0", "hugepages-2Mi": "0", "memory": mem, "pods": "250"},
                "conditions": conditions,
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "images": images,
                "nodeInfo": {"architecture": "amd64", "bootID": self.rng.uid(),
                             "containerRuntimeVersion": "cri-o://1.29.8-5.rhaos4.16.git7032128.el9",
                             "kernelVersion": "5.14.0-427.37.1.el9_4.x86_64", "kubeProxyVersion": "v1.29.8+f10c92d",
                             "kubeletVersion": "v1.29.8+f10c92d", "machineID": self.rng.hex(32),
                             "operatingSystem": "linux",
                             "osImage": "Red Hat Enterprise Linux CoreOS 416.94.202409191851-0 (Plow)",
                             "systemUUID": self.rng.uid()}});
            let mf = vec![
                managed(
                    "machine-config-daemon",
                    "v1",
                    &t,
                    fields_v1(&json!({"metadata": {"annotations": annotations}})),
                    None,
                ),
                managed(
                    "kubelet",
                    "v1",
                    &t,
                    fields_v1(&json!({"metadata": {"labels": labels}})),
                    None,
                ),
                managed(
                    "kubelet",
                    "v1",
                    &t,
                    fields_v1(&json!({"status": status})),
                    Some("status"),
                ),
            ];
            let node = json!({"apiVersion": "v1", "kind": "Node",
              "metadata": {"annotations": annotations, "creationTimestamp": t, "labels": labels,
                           "managedFields": mf, "name": name, "resourceVersion": "48230641", "uid": self.rng.uid()},
              "spec": spec, "status": status});
            self.put("Node", node);
            if !master {
                self.workers.push(self.nodes.len());
            }
            self.nodes.push(NodeInfo {
                name,
                ip,
                ipv6,
                subnet,
                next: 3,
            });
        }
    }

    /// A random worker node (any node when there are no workers).
    fn pick_worker(&mut self) -> Option<usize> {
        if self.workers.is_empty() {
            return (!self.nodes.is_empty())
                .then(|| self.rng.below(self.nodes.len() as u64) as usize);
        }
        Some(self.workers[self.rng.below(self.workers.len() as u64) as usize])
    }

    /// The next pod address on a node.
    fn pod_ip(&mut self, node: usize) -> String {
        let n = &mut self.nodes[node];
        let ip = n.subnet + 3 + (n.next - 3) % 508;
        n.next += 1;
        ipv4(ip)
    }

    /// A user namespace, skewed so that a few namespaces are big.
    fn user_namespace(&mut self) -> Option<usize> {
        if self.user_namespaces.is_empty() {
            return None;
        }
        let u = self.rng.unit();
        let n = self.user_namespaces.len();
        Some(self.user_namespaces[(((u * u) * n as f64) as usize).min(n - 1)])
    }

    fn namespace_index(&self, name: &str) -> Option<usize> {
        self.namespaces.iter().position(|n| n.name == name)
    }

    fn app_container(&mut self, name: &str, image: &str, ns: &NsInfo, port: u64) -> Value {
        json!({"name": name, "image": image, "imagePullPolicy": "IfNotPresent",
          "ports": [{"containerPort": port, "name": "http", "protocol": "TCP"},
                    {"containerPort": 9090, "name": "metrics", "protocol": "TCP"}],
          "env": [{"name": "APP_ENV", "value": ns.env},
                  {"name": "LOG_LEVEL", "value": "info"},
                  {"name": "DATABASE_URL", "value": format!("postgres://app@db.{}.svc:5432/{}", ns.name, ns.team)},
                  {"name": "CACHE_URL", "value": format!("redis://redis.{}.svc:6379/0", ns.name)},
                  {"name": "STRIPE_API_KEY", "value": "s3cr3t-do-not-sync"},
                  {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"key": "token", "name": format!("{name}-secrets")}}},
                  {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
                  {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
                  {"name": "JAVA_OPTS", "value": "-XX:MaxRAMPercentage=75 -XX:+UseG1GC -Dfile.encoding=UTF-8"},
                  {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://otel-collector.observability.svc:4317"}],
          "resources": {"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "250m", "memory": "256Mi"}},
          "livenessProbe": {"failureThreshold": 3, "httpGet": {"path": "/healthz", "port": port, "scheme": "HTTP"},
                            "initialDelaySeconds": 15, "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1},
          "readinessProbe": {"failureThreshold": 3, "httpGet": {"path": "/readyz", "port": port, "scheme": "HTTP"},
                             "initialDelaySeconds": 5, "periodSeconds": 5, "successThreshold": 1, "timeoutSeconds": 1},
          "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": true},
          "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
          "volumeMounts": [{"mountPath": "/etc/app", "name": "config", "readOnly": true},
                           {"mountPath": "/var/run/secrets/app", "name": "secrets", "readOnly": true},
                           {"mountPath": "/tmp", "name": "tmp"}]})
    }

    fn ovn_annotations(&mut self, ip: &str, node: usize) -> Map<String, Value> {
        let gw = ipv4(self.nodes[node].subnet + 1);
        let m = mac(self.rng.next_u64());
        let mut a = Map::new();
        a.insert(
            "k8s.ovn.org/pod-networks".into(),
            json!(format!(
                "{{\"default\":{{\"ip_addresses\":[\"{ip}/23\"],\"mac_address\":\"{m}\",\"gateway_ips\":[\"{gw}\"],\
                 \"routes\":[{{\"dest\":\"10.128.0.0/14\",\"nextHop\":\"{gw}\"}},{{\"dest\":\"172.30.0.0/16\",\"nextHop\":\"{gw}\"}},\
                 {{\"dest\":\"169.254.169.5/32\",\"nextHop\":\"{gw}\"}},{{\"dest\":\"100.64.0.0/16\",\"nextHop\":\"{gw}\"}}],\
                 \"ip_address\":\"{ip}/23\",\"gateway_ip\":\"{gw}\",\"role\":\"primary\"}}}}"
            )),
        );
        a.insert(
            "k8s.v1.cni.cncf.io/network-status".into(),
            json!(format!(
                "[\n    {{\n        \"name\": \"ovn-kubernetes\",\n        \"interface\": \"eth0\",\n        \"ips\": [\n            \"{ip}\"\n        ],\n        \"mac\": \"{m}\",\n        \"default\": true,\n        \"dns\": {{}}\n    }}\n]"
            )),
        );
        a
    }

    /// A pod object. `ip` None: the pod is Pending (no node, no address).
    #[allow(clippy::too_many_arguments)]
    fn pod(
        &mut self,
        ns: usize,
        name: String,
        generate_name: String,
        labels: Value,
        mut annotations: Map<String, Value>,
        owner: Value,
        node: Option<usize>,
        host_network: bool,
        containers: Vec<Value>,
        phase: &str,
        last_applied: bool,
    ) -> Value {
        let nsname = self.namespaces[ns].name.clone();
        let t = self.rng.time();
        let ip = node.map(|n| {
            if host_network {
                self.nodes[n].ip.clone()
            } else {
                self.pod_ip(n)
            }
        });
        if let (Some(ip), Some(n), false) = (&ip, node, host_network) {
            annotations.extend(self.ovn_annotations(ip, n));
        }
        annotations.insert("openshift.io/scc".into(), json!("restricted-v2"));
        annotations.insert(
            "seccomp.security.alpha.kubernetes.io/pod".into(),
            json!("runtime/default"),
        );
        let token_vol = format!("kube-api-access-{}", self.rng.suffix(5));
        let mut containers = containers;
        for c in &mut containers {
            if let Some(m) = c["volumeMounts"].as_array_mut() {
                m.push(json!({"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": token_vol, "readOnly": true}));
            }
        }
        let mut spec = json!({"containers": containers, "dnsPolicy": "ClusterFirst", "enableServiceLinks": true,
            "imagePullSecrets": [{"name": format!("default-dockercfg-{}", self.rng.suffix(5))}],
            "preemptionPolicy": "PreemptLowerPriority", "priority": 0,
            "restartPolicy": if phase == "Succeeded" { "OnFailure" } else { "Always" },
            "schedulerName": "default-scheduler",
            "securityContext": {"fsGroup": 1000680000, "seLinuxOptions": {"level": "s0:c26,c15"},
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "serviceAccount": "default", "serviceAccountName": "default", "terminationGracePeriodSeconds": 30,
            "tolerations": [{"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
                            {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300}],
            "volumes": [{"configMap": {"defaultMode": 420, "name": format!("{generate_name}config")}, "name": "config"},
                        {"name": "secrets", "secret": {"defaultMode": 420, "secretName": format!("{generate_name}secrets")}},
                        {"emptyDir": {}, "name": "tmp"},
                        {"name": token_vol, "projected": {"defaultMode": 420, "sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                            {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
                            {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}},
                            {"configMap": {"items": [{"key": "service-ca.crt", "path": "service-ca.crt"}], "name": "openshift-service-ca.crt"}}]}}]});
        if let Some(n) = node {
            spec["nodeName"] = json!(self.nodes[n].name);
        }
        if host_network {
            spec["hostNetwork"] = json!(true);
        }
        let ready = phase == "Running";
        let container_statuses: Vec<Value> = containers
            .iter()
            .map(|c| {
                let state = if phase == "Succeeded" {
                    json!({"terminated": {"containerID": format!("cri-o://{}", self.rng.hex(64)), "exitCode": 0,
                                          "finishedAt": t, "reason": "Completed", "startedAt": t}})
                } else if ready {
                    json!({"running": {"startedAt": t}})
                } else {
                    json!({"waiting": {"reason": "ContainerCreating"}})
                };
                json!({"containerID": format!("cri-o://{}", self.rng.hex(64)), "image": c["image"],
                       "imageID": format!("{}@sha256:{}", c["image"].as_str().unwrap_or("").split('@').next().unwrap_or(""), self.rng.hex(64)),
                       "lastState": {}, "name": c["name"], "ready": ready, "restartCount": self.rng.below(3),
                       "started": ready, "state": state})
            })
            .collect();
        let cond = |ty: &str, st: bool| json!({"lastProbeTime": null, "lastTransitionTime": t, "status": if st { "True" } else { "False" }, "type": ty});
        let mut status = json!({"conditions": [cond("PodReadyToStartContainers", node.is_some()), cond("Initialized", true),
                                               cond("Ready", ready), cond("ContainersReady", ready), cond("PodScheduled", node.is_some())],
                                "phase": phase, "qosClass": "Burstable"});
        if let (Some(n), Some(ip)) = (node, &ip) {
            let node = &self.nodes[n];
            status["containerStatuses"] = json!(container_statuses);
            status["hostIP"] = json!(node.ip);
            let mut host_ips = vec![json!({"ip": node.ip})];
            let mut pod_ips = vec![json!({"ip": ip})];
            if let Some(v6) = &node.ipv6 {
                host_ips.push(json!({"ip": v6}));
                if host_network {
                    pod_ips.push(json!({"ip": v6}));
                }
            }
            status["hostIPs"] = json!(host_ips);
            status["podIP"] = json!(ip);
            status["podIPs"] = json!(pod_ips);
            status["startTime"] = json!(t);
        }
        let mut meta = json!({"annotations": annotations, "creationTimestamp": t, "generateName": generate_name,
                              "labels": labels, "name": name, "namespace": nsname,
                              "ownerReferences": [owner], "resourceVersion": "48238692", "uid": self.rng.uid()});
        if last_applied {
            let applied = json!({"apiVersion": "v1", "kind": "Pod",
                                 "metadata": {"annotations": {}, "labels": meta["labels"], "name": name, "namespace": meta["namespace"]},
                                 "spec": {"containers": spec["containers"], "volumes": spec["volumes"]}});
            meta["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
                json!(format!("{applied}\n"));
        }
        let mf = vec![
            managed(
                "kube-controller-manager",
                "v1",
                &t,
                fields_v1(
                    &json!({"metadata": {"generateName": "", "labels": meta["labels"], "ownerReferences": meta["ownerReferences"]},
                                      "spec": spec}),
                ),
                None,
            ),
            managed(
                "ovnkube-controller",
                "v1",
                &t,
                fields_v1(&json!({"metadata": {"annotations": {"k8s.ovn.org/pod-networks": ""}}})),
                None,
            ),
            managed(
                "multus-daemon",
                "v1",
                &t,
                fields_v1(
                    &json!({"metadata": {"annotations": {"k8s.v1.cni.cncf.io/network-status": ""}}}),
                ),
                Some("status"),
            ),
            managed(
                "kubelet",
                "v1",
                &t,
                fields_v1(&json!({"status": status})),
                Some("status"),
            ),
        ];
        meta["managedFields"] = json!(mf);
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status})
    }

    fn workloads(&mut self) {
        let p = self.scale.pods;
        let nodes = self.nodes.len();
        let ds_per_node = (p / 4)
            .checked_div(nodes)
            .map_or(0, |n| DAEMONSETS.len().min(n));
        let jobs = p * 3 / 100;
        let mut deployment_pods = p - ds_per_node * nodes - jobs;
        // DaemonSet pods
        for (k, (ns, ds, image, host)) in DAEMONSETS.iter().enumerate().take(ds_per_node) {
            let Some(nsi) = self.namespace_index(ns) else {
                deployment_pods += nodes;
                continue;
            };
            let ds_uid = self.rng.uid();
            let rev = self.rng.suffix(9);
            for node in 0..nodes {
                let name = format!("{ds}-{}", self.rng.suffix(5));
                let labels = json!({"app": ds, "component": "network", "controller-revision-hash": rev,
                                    "kubernetes.io/os": "linux", "pod-template-generation": (k + 1).to_string(),
                                    "openshift.io/component": "network", "type": "infra"});
                let owner = json!({"apiVersion": "apps/v1", "blockOwnerDeletion": true, "controller": true,
                                   "kind": "DaemonSet", "name": ds, "uid": ds_uid});
                let c = self.app_container(
                    ds,
                    image,
                    &NsInfo {
                        name: ns.to_string(),
                        system: true,
                        team: "platform",
                        env: "prod",
                    },
                    9100,
                );
                let pod = self.pod(
                    nsi,
                    name,
                    format!("{ds}-"),
                    labels,
                    Map::new(),
                    owner,
                    Some(node),
                    *host,
                    vec![c],
                    "Running",
                    false,
                );
                self.put("Pod", pod);
            }
            self.daemonset(ns, ds, &ds_uid, image, k, nodes);
        }
        // Deployments (every tenth a StatefulSet) and their pods
        let d = self.scale.deployments;
        let mut replicas: Vec<usize> = (0..d)
            .map(|i| deployment_pods / d.max(1) + usize::from(i < deployment_pods % d.max(1)))
            .collect();
        for i in 0..d.saturating_sub(1) {
            let moved = self.rng.below(replicas[i] as u64 / 2 + 1) as usize;
            let moved = moved.min(replicas[i].saturating_sub(1));
            replicas[i] -= moved;
            replicas[i + 1] += moved;
        }
        if d == 0 {
            // no Deployments: the pods are standalone
            for _ in 0..deployment_pods {
                let Some(ns) = self.user_namespace() else {
                    break;
                };
                let node = self.pick_worker();
                let name = format!("standalone-{}", self.rng.suffix(5));
                let nsinfo = NsInfo {
                    name: self.namespaces[ns].name.clone(),
                    system: false,
                    team: self.namespaces[ns].team,
                    env: self.namespaces[ns].env,
                };
                let c = self.app_container("app", "quay.io/acme/app:1.0", &nsinfo, 8080);
                let pod = self.pod(
                    ns,
                    name,
                    String::new(),
                    json!({"app": "standalone"}),
                    Map::new(),
                    Value::Null,
                    node,
                    false,
                    vec![c],
                    "Running",
                    true,
                );
                self.put("Pod", pod);
            }
        }
        for (i, reps) in replicas.into_iter().enumerate() {
            let system = i % 20 == 19;
            let ns = if system {
                let name = SYSTEM_DEPLOYMENT_NAMESPACES[i % SYSTEM_DEPLOYMENT_NAMESPACES.len()];
                self.namespace_index(name).or_else(|| self.user_namespace())
            } else {
                self.user_namespace()
            };
            let Some(ns) = ns.or_else(|| (!self.namespaces.is_empty()).then_some(0)) else {
                break;
            };
            let nsinfo = NsInfo {
                name: self.namespaces[ns].name.clone(),
                system: self.namespaces[ns].system,
                team: self.namespaces[ns].team,
                env: self.namespaces[ns].env,
            };
            let app = format!("{}-{i}", self.rng.pick(&APPS));
            let version = format!(
                "{}.{}.{}",
                self.rng.below(4),
                self.rng.below(20),
                self.rng.below(10)
            );
            let image = if i % 9 == 4 {
                format!(
                    "quay.io/acme-{}/{app}@sha256:{}",
                    nsinfo.team,
                    self.rng.hex(64)
                )
            } else {
                format!("quay.io/acme-{}/{app}:{version}", nsinfo.team)
            };
            let port = *self.rng.pick(&[8080u64, 8443, 3000, 5000, 8000]);
            let applied = i % 2 == 0;
            let hash_len = self.rng.range(9, 10) as usize;
            let hash = self.rng.suffix(hash_len);
            let rs = format!("{app}-{hash}");
            let rs_uid = self.rng.uid();
            let mut labels = json!({"app": app, "app.kubernetes.io/name": app, "app.kubernetes.io/version": version});
            if !nsinfo.system {
                labels["app.kubernetes.io/part-of"] = json!(nsinfo.team);
            }
            let mut containers = vec![self.app_container(&app, &image, &nsinfo, port)];
            if i % 10 == 3 {
                containers.push(self.app_container(
                    "oauth-proxy",
                    "registry.redhat.io/openshift4/ose-oauth-proxy@sha256:2b53b45f",
                    &nsinfo,
                    8443,
                ));
            }
            let stateful = i % 10 == 6;
            let not_ready = i % 20 == 7 && reps > 0;
            let mut ready = 0;
            for k in 0..reps {
                let node = self.pick_worker();
                let mut pl = labels.clone();
                let (owner, pod_name) = if stateful {
                    pl["controller-revision-hash"] = json!(rs);
                    pl["statefulset.kubernetes.io/pod-name"] = json!(format!("{app}-{k}"));
                    pl["apps.kubernetes.io/pod-index"] = json!(k.to_string());
                    (
                        json!({"apiVersion": "apps/v1", "blockOwnerDeletion": true, "controller": true,
                               "kind": "StatefulSet", "name": app, "uid": rs_uid}),
                        format!("{app}-{k}"),
                    )
                } else {
                    pl["pod-template-hash"] = json!(hash);
                    (
                        json!({"apiVersion": "apps/v1", "blockOwnerDeletion": true, "controller": true,
                               "kind": "ReplicaSet", "name": rs, "uid": rs_uid}),
                        format!("{rs}-{}", self.rng.suffix(5)),
                    )
                };
                let phase = if not_ready && k == 0 {
                    "Pending"
                } else {
                    "Running"
                };
                let node = if phase == "Pending" { None } else { node };
                if phase == "Running" {
                    ready += 1;
                }
                let pod = self.pod(
                    ns,
                    pod_name,
                    if stateful {
                        String::new()
                    } else {
                        format!("{rs}-")
                    },
                    pl,
                    Map::new(),
                    owner,
                    node,
                    false,
                    containers.clone(),
                    phase,
                    applied,
                );
                self.put("Pod", pod);
            }
            let t = self.rng.time();
            if stateful {
                self.statefulset(
                    &nsinfo.name,
                    &app,
                    &rs_uid,
                    &rs,
                    &labels,
                    &containers,
                    reps,
                    ready,
                    &t,
                );
                self.deployments.push(DeploymentInfo {
                    ns: nsinfo.name,
                    name: app.clone(),
                    app,
                    port,
                });
                continue;
            }
            let template_containers: Vec<Value> = containers.clone();
            let spec = json!({"progressDeadlineSeconds": 600, "replicas": reps, "revisionHistoryLimit": 10,
                "selector": {"matchLabels": {"app": app, "app.kubernetes.io/name": app}},
                "strategy": if i % 11 == 5 { json!({"type": "Recreate"}) } else { json!({"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"}) },
                "template": {"metadata": {"creationTimestamp": null, "labels": labels},
                             "spec": {"containers": template_containers, "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
                                      "schedulerName": "default-scheduler", "securityContext": {}, "serviceAccountName": "default",
                                      "terminationGracePeriodSeconds": 30,
                                      "volumes": [{"configMap": {"defaultMode": 420, "name": format!("{app}-config")}, "name": "config"},
                                                  {"name": "secrets", "secret": {"defaultMode": 420, "secretName": format!("{app}-secrets")}},
                                                  {"emptyDir": {}, "name": "tmp"}]}}});
            let mut status = json!({"conditions": [
                    {"lastTransitionTime": t, "lastUpdateTime": t, "message": "Deployment has minimum availability.", "reason": "MinimumReplicasAvailable", "status": if ready == reps { "True" } else { "False" }, "type": "Available"},
                    {"lastTransitionTime": t, "lastUpdateTime": t, "message": format!("ReplicaSet \"{rs}\" has successfully progressed."), "reason": "NewReplicaSetAvailable", "status": "True", "type": "Progressing"}],
                "observedGeneration": 5, "replicas": reps, "updatedReplicas": reps});
            if ready > 0 {
                status["readyReplicas"] = json!(ready);
                status["availableReplicas"] = json!(ready);
            }
            if ready < reps {
                status["unavailableReplicas"] = json!(reps - ready);
            }
            let mut annotations = json!({"deployment.kubernetes.io/revision": "4"});
            if applied {
                let a = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                               "metadata": {"annotations": {}, "labels": labels, "name": app, "namespace": nsinfo.name}, "spec": spec});
                annotations["kubectl.kubernetes.io/last-applied-configuration"] =
                    json!(format!("{a}\n"));
            }
            let mf = vec![
                managed(
                    "kubectl-client-side-apply",
                    "apps/v1",
                    &t,
                    fields_v1(&json!({"metadata": {"labels": labels}, "spec": spec})),
                    None,
                ),
                managed(
                    "kube-controller-manager",
                    "apps/v1",
                    &t,
                    fields_v1(&json!({"status": status})),
                    Some("status"),
                ),
            ];
            let dep = json!({"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"annotations": annotations, "creationTimestamp": t, "generation": 5, "labels": labels,
                           "managedFields": mf, "name": app, "namespace": nsinfo.name, "resourceVersion": "48235343",
                           "uid": self.rng.uid()},
              "spec": spec, "status": status});
            self.put("Deployment", dep);
            self.deployments.push(DeploymentInfo {
                ns: nsinfo.name,
                name: app.clone(),
                app,
                port,
            });
        }
        // Job pods (completed)
        for i in 0..jobs {
            let Some(ns) = self.user_namespace() else {
                break;
            };
            let nsinfo = NsInfo {
                name: self.namespaces[ns].name.clone(),
                system: false,
                team: self.namespaces[ns].team,
                env: self.namespaces[ns].env,
            };
            let job = format!("{}-nightly-{}", self.rng.pick(&APPS), 28_800_000 + i);
            let job_uid = self.rng.uid();
            let labels = json!({"batch.kubernetes.io/controller-uid": job_uid, "batch.kubernetes.io/job-name": job,
                                "controller-uid": job_uid, "job-name": job});
            let owner = json!({"apiVersion": "batch/v1", "blockOwnerDeletion": true, "controller": true,
                               "kind": "Job", "name": job, "uid": job_uid});
            let node = self.pick_worker();
            let c = self.app_container("job", "quay.io/acme/batch:3.1", &nsinfo, 8080);
            let pod_name = format!("{job}-{}", self.rng.suffix(5));
            let pod = self.pod(
                ns,
                pod_name,
                format!("{job}-"),
                labels,
                Map::new(),
                owner,
                node,
                false,
                vec![c],
                "Succeeded",
                true,
            );
            self.put("Pod", pod);
        }
    }

    fn vms(&mut self) {
        for i in 0..self.scale.vms {
            let ns = if i % 100 == 99 {
                self.namespace_index("openshift-cnv")
                    .or_else(|| self.user_namespace())
            } else {
                self.user_namespace()
            };
            let Some(ns) = ns.or_else(|| (!self.namespaces.is_empty()).then_some(0)) else {
                break;
            };
            self.vm(ns, i);
        }
    }

    fn vm(&mut self, ns: usize, i: usize) {
        let nsname = self.namespaces[ns].name.clone();
        let team = self.namespaces[ns].team;
        let system = self.namespaces[ns].system;
        let (os_prefix, os, os_name, os_version, preference) = *self.rng.pick(&OSES);
        let windows = os_prefix.starts_with("win");
        let role = *self
            .rng
            .pick(&["db", "app", "web", "build", "vdi", "cache"]);
        let name = format!("{os_prefix}-{role}-{i:05}");
        let app = format!("{name}-svc");
        let stopped = self.rng.chance(10);
        let migrating = !stopped && i % 100 == 42;
        let multus = self.rng.chance(20);
        let with_instancetype = self.rng.chance(40);
        let vm_uid = self.rng.uid();
        let vmi_uid = self.rng.uid();
        let t = self.rng.time();
        // sizing
        let mut vm_spec_extra = Map::new();
        let mut instancetype_name: Option<String> = None;
        let (domain_cpu, domain_mem, vcpus, mem): (Option<Value>, Option<Value>, u64, String) =
            if with_instancetype {
                let namespaced = self.rng.chance(10);
                if namespaced {
                    if self.namespaced_instancetypes.insert(nsname.clone()) {
                        let it = json!({"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineInstancetype",
                      "metadata": {"creationTimestamp": t, "generation": 1, "name": "custom-medium", "namespace": nsname,
                                   "resourceVersion": "48315761", "uid": self.rng.uid()},
                      "spec": {"cpu": {"guest": 3}, "memory": {"guest": "6Gi"}}});
                        self.put("VirtualMachineInstancetype", it);
                    }
                    vm_spec_extra.insert("instancetype".into(), json!({"kind": "VirtualMachineInstancetype", "name": "custom-medium",
                                                                    "revisionName": format!("{name}-custom-medium-{}-1", self.rng.uid())}));
                    instancetype_name = Some("custom-medium".into());
                    (None, None, 3, "6Gi".into())
                } else {
                    let (it, cpu, mem) = *self.rng.pick(&INSTANCETYPES);
                    vm_spec_extra.insert("instancetype".into(), json!({"kind": "VirtualMachineClusterInstancetype", "name": it,
                                                                    "revisionName": format!("{name}-{it}-{}-1", self.rng.uid())}));
                    vm_spec_extra.insert("preference".into(), json!({"kind": "VirtualMachineClusterPreference", "name": preference,
                                                                  "revisionName": format!("{name}-{preference}-{}-1", self.rng.uid())}));
                    instancetype_name = Some(it.into());
                    (None, None, cpu, mem.into())
                }
            } else {
                let (s, c, th) = *self.rng.pick(&[
                    (1u64, 2u64, 1u64),
                    (1, 4, 1),
                    (2, 2, 2),
                    (1, 1, 1),
                    (2, 4, 1),
                    (4, 1, 1),
                ]);
                let mem = self
                    .rng
                    .pick(&["2Gi", "4Gi", "8Gi", "16Gi", "1536Mi"])
                    .to_string();
                let m = if self.rng.chance(30) {
                    None // memory from resources.requests
                } else {
                    Some(json!({"guest": mem}))
                };
                let cpu = if self.rng.chance(15) {
                    json!({"cores": c})
                } else {
                    json!({"cores": c, "sockets": s, "threads": th})
                };
                let v = if cpu.get("sockets").is_some() {
                    s * c * th
                } else {
                    c
                };
                (Some(cpu), m, v, mem)
            };
        let mut template_labels = json!({"kubevirt.io/domain": name, "kubevirt.io/size": "small", "app": app,
                                         format!("os.template.kubevirt.io/{os}"): "true"});
        if !system {
            template_labels["app.kubernetes.io/part-of"] = json!(team);
        }
        let pod_mac = mac(self.rng.next_u64());
        let mut interfaces = vec![
            json!({"macAddress": pod_mac, "masquerade": {}, "model": "virtio", "name": "default"}),
        ];
        let mut networks = vec![json!({"name": "default", "pod": {}})];
        let vlan = 100 + self.rng.below(32);
        let multus_mac = mac(self.rng.next_u64());
        if multus {
            interfaces.push(json!({"bridge": {}, "macAddress": multus_mac, "model": "virtio", "name": format!("nic-vlan{vlan}")}));
            networks.push(json!({"multus": {"networkName": format!("vlan{vlan}")}, "name": format!("nic-vlan{vlan}")}));
        }
        let disk_size = format!("{}Gi", *self.rng.pick(&[20u64, 30, 40, 50, 100, 200]));
        let mut domain = json!({"devices": {"disks": [{"bootOrder": 1, "disk": {"bus": "virtio"}, "name": "rootdisk"},
                                                      {"disk": {"bus": "virtio"}, "name": "cloudinitdisk"}],
                                            "interfaces": interfaces, "networkInterfaceMultiqueue": true, "rng": {}},
                                "features": {"acpi": {}, "smm": {"enabled": true}},
                                "firmware": {"bootloader": {"efi": {}}},
                                "machine": {"type": "pc-q35-rhel9.4.0"}, "resources": {}});
        if let Some(c) = &domain_cpu {
            domain["cpu"] = c.clone();
        }
        if let Some(m) = &domain_mem {
            domain["memory"] = m.clone();
        } else if !with_instancetype {
            domain["resources"] = json!({"requests": {"memory": mem}});
        }
        let template_spec = json!({"domain": domain, "evictionStrategy": "LiveMigrate", "networks": networks,
            "terminationGracePeriodSeconds": 180,
            "volumes": [{"dataVolume": {"name": name}, "name": "rootdisk"},
                        {"cloudInitNoCloud": {"userData": format!("#cloud-config\nuser: cloud-user\npassword: s3cr3t-do-not-sync-vm\nchpasswd: {{ expire: False }}\nssh_authorized_keys:\n  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{} ops@example.com\n", self.rng.hex(43))},
                         "name": "cloudinitdisk"}]});
        let printable = if stopped {
            "Stopped"
        } else if migrating {
            "Migrating"
        } else {
            "Running"
        };
        let mut vm_spec = json!({"dataVolumeTemplates": [{"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume",
                "metadata": {"creationTimestamp": null, "name": name},
                "spec": {"sourceRef": {"kind": "DataSource", "name": os, "namespace": "openshift-virtualization-os-images"},
                         "storage": {"resources": {"requests": {"storage": disk_size}}}}}],
            "runStrategy": if stopped { "Halted" } else { "Always" },
            "template": {"metadata": {"annotations": {"vm.kubevirt.io/flavor": "small", "vm.kubevirt.io/os": os, "vm.kubevirt.io/workload": "server"},
                                      "creationTimestamp": null, "labels": template_labels},
                         "spec": template_spec}});
        for (k, v) in vm_spec_extra {
            vm_spec[k] = v;
        }
        let ready_cond = if stopped {
            json!({"lastProbeTime": t, "lastTransitionTime": t, "message": "VMI does not exist", "reason": "VMINotExists", "status": "False", "type": "Ready"})
        } else {
            json!({"lastProbeTime": null, "lastTransitionTime": t, "status": "True", "type": "Ready"})
        };
        let vm_status = json!({"conditions": [ready_cond,
                {"lastProbeTime": null, "lastTransitionTime": null, "message": "All of the VMI's DVs are bound and not running", "reason": "AllDVsReady", "status": "True", "type": "DataVolumesReady"},
                {"lastProbeTime": null, "lastTransitionTime": null, "status": "True", "type": "LiveMigratable"}],
            "created": !stopped, "desiredGeneration": 2, "observedGeneration": 2, "printableStatus": printable,
            "ready": !stopped, "runStrategy": if stopped { "Halted" } else { "Always" },
            "volumeSnapshotStatuses": [{"enabled": true, "name": "rootdisk"},
                                       {"enabled": false, "name": "cloudinitdisk", "reason": "Snapshot is not supported for this volumeSource type [cloudinitdisk]"}]});
        let vm_labels = json!({"app": name, "app.kubernetes.io/part-of": team, format!("os.template.kubevirt.io/{os}"): "true",
                               "vm.kubevirt.io/template": format!("{os}-server-small"), "vm.kubevirt.io/template.namespace": "openshift",
                               "vm.kubevirt.io/template.revision": "1", "vm.kubevirt.io/template.version": "v0.29.1"});
        let vm_annotations = json!({"description": format!("{role} server for {team}"),
            "kubevirt.io/latest-observed-api-version": "v1", "kubevirt.io/storage-observed-api-version": "v1",
            "vm.kubevirt.io/validations": "[\n  {\n    \"name\": \"minimal-required-memory\",\n    \"path\": \"jsonpath::.spec.domain.memory.guest\",\n    \"rule\": \"integer\",\n    \"message\": \"This VM requires more memory.\",\n    \"min\": 1073741824\n  }\n]\n"});
        let mf = vec![
            managed(
                "Mozilla",
                "kubevirt.io/v1",
                &t,
                fields_v1(
                    &json!({"metadata": {"annotations": vm_annotations, "labels": vm_labels}, "spec": vm_spec}),
                ),
                None,
            ),
            managed(
                "virt-controller",
                "kubevirt.io/v1",
                &t,
                fields_v1(&json!({"status": vm_status})),
                Some("status"),
            ),
        ];
        let vm = json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
            "metadata": {"annotations": vm_annotations, "creationTimestamp": t, "finalizers": ["kubevirt.io/virtualMachineControllerFinalize"],
                         "generation": 2, "labels": vm_labels, "managedFields": mf, "name": name, "namespace": nsname,
                         "resourceVersion": "48259182", "uid": vm_uid},
            "spec": vm_spec, "status": vm_status});
        self.put("VirtualMachine", vm);
        self.root_disk(&nsname, &name, vm_uid.as_str(), &disk_size, os, &t);
        if stopped {
            return;
        }
        // the VMI and its launcher pod(s)
        let Some(node) = self.pick_worker() else {
            return;
        };
        let mut labels = template_labels.clone();
        labels["kubevirt.io"] = json!("virt-launcher");
        labels["kubevirt.io/created-by"] = json!(vmi_uid);
        labels["vm.kubevirt.io/name"] = json!(name);
        let mut launcher_annotations = Map::new();
        launcher_annotations.insert("kubevirt.io/domain".into(), json!(name));
        launcher_annotations.insert(
            "kubectl.kubernetes.io/default-container".into(),
            json!("compute"),
        );
        launcher_annotations.insert("kubevirt.io/migrationTransportUnix".into(), json!("true"));
        launcher_annotations.insert("kubevirt.io/vm-generation".into(), json!("2"));
        launcher_annotations.insert("post.hook.backup.velero.io/command".into(),
            json!(format!("[\"/usr/bin/virt-freezer\", \"--unfreeze\", \"--name\", \"{name}\", \"--namespace\", \"{nsname}\"]")));
        launcher_annotations.insert("pre.hook.backup.velero.io/command".into(),
            json!(format!("[\"/usr/bin/virt-freezer\", \"--freeze\", \"--name\", \"{name}\", \"--namespace\", \"{nsname}\"]")));
        let owner = json!({"apiVersion": "kubevirt.io/v1", "blockOwnerDeletion": true, "controller": true,
                           "kind": "VirtualMachineInstance", "name": name, "uid": vmi_uid});
        let compute = json!({"name": "compute", "image": LAUNCHER_IMAGE, "imagePullPolicy": "IfNotPresent",
            "command": ["/usr/bin/virt-launcher-monitor", "--qemu-timeout", "303s", "--name", name, "--uid", vmi_uid,
                        "--namespace", nsname, "--kubevirt-share-dir", "/var/run/kubevirt", "--ephemeral-disk-dir",
                        "/var/run/kubevirt-ephemeral-disks", "--container-disk-dir", "/var/run/kubevirt/container-disks",
                        "--grace-period-seconds", "195", "--hook-sidecars", "0", "--ovmf-path", "/usr/share/OVMF", "--run-as-nonroot"],
            "env": [{"name": "XDG_CACHE_HOME", "value": "/var/run/kubevirt-private"},
                    {"name": "XDG_CONFIG_HOME", "value": "/var/run/kubevirt-private"},
                    {"name": "XDG_RUNTIME_DIR", "value": "/var/run"},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
            "resources": {"limits": {"devices.kubevirt.io/kvm": "1", "devices.kubevirt.io/tun": "1", "devices.kubevirt.io/vhost-net": "1"},
                          "requests": {"cpu": "100m", "devices.kubevirt.io/kvm": "1", "devices.kubevirt.io/tun": "1",
                                       "devices.kubevirt.io/vhost-net": "1", "ephemeral-storage": "50M", "memory": "2342Mi"}},
            "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
                                "privileged": false, "runAsGroup": 107, "runAsNonRoot": true, "runAsUser": 107},
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
            "volumeMounts": [{"mountPath": "/var/run/kubevirt-private", "name": "private"},
                             {"mountPath": "/var/run/kubevirt", "name": "public"},
                             {"mountPath": "/var/run/kubevirt-ephemeral-disks", "name": "ephemeral-disks"},
                             {"mountPath": "/var/run/kubevirt/container-disks", "mountPropagation": "HostToContainer", "name": "container-disks"},
                             {"mountPath": "/var/run/libvirt", "name": "libvirt-runtime"},
                             {"mountPath": "/var/run/kubevirt/sockets", "name": "sockets"},
                             {"mountPath": "/var/run/kubevirt/hotplug-disks", "mountPropagation": "HostToContainer", "name": "hotplug-disks"},
                             {"mountPath": "/var/run/kubevirt-private/vmi-disks/rootdisk", "name": "rootdisk"}]});
        let gen_name = format!("virt-launcher-{name}-");
        let pod_name = format!("{gen_name}{}", self.rng.suffix(5));
        let pod = self.pod(
            ns,
            pod_name,
            gen_name.clone(),
            labels.clone(),
            launcher_annotations.clone(),
            owner.clone(),
            Some(node),
            false,
            vec![compute.clone()],
            "Running",
            false,
        );
        let pod_ip = pod["status"]["podIP"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let pod_uid = pod["metadata"]["uid"].clone();
        self.put("Pod", pod);
        let mut vmi_labels = labels_of(&json!({"metadata": {"labels": template_labels}}));
        vmi_labels.insert("kubevirt.io/nodeName".into(), json!(self.nodes[node].name));
        let mut active = Map::new();
        active.insert(
            pod_uid.as_str().unwrap_or_default().to_string(),
            json!(self.nodes[node].name),
        );
        let mut migration_state = Value::Null;
        if migrating {
            let target = self.pick_worker().unwrap_or(node);
            let mut tl = labels.clone();
            tl["kubevirt.io/migrationJobUID"] = json!(self.rng.uid());
            let pod_name = format!("{gen_name}{}", self.rng.suffix(5));
            let tpod = self.pod(
                ns,
                pod_name,
                gen_name,
                tl,
                launcher_annotations,
                owner,
                Some(target),
                false,
                vec![compute],
                "Running",
                false,
            );
            active.insert(
                tpod["metadata"]["uid"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                json!(self.nodes[target].name),
            );
            self.put("Pod", tpod);
            vmi_labels.insert(
                "kubevirt.io/migrationTargetNodeName".into(),
                json!(self.nodes[target].name),
            );
            migration_state = json!({"migrationUid": self.rng.uid(), "sourceNode": self.nodes[node].name,
                                     "targetNode": self.nodes[target].name, "mode": "PreCopy", "startTimestamp": t,
                                     "targetPod": format!("virt-launcher-{name}-x")});
        }
        // VMI
        let mut vmi_domain = template_spec["domain"].clone();
        if with_instancetype
            || domain_cpu
                .as_ref()
                .is_some_and(|c| c.get("sockets").is_none())
        {
            vmi_domain["cpu"] = json!({"cores": 1, "model": "host-model", "sockets": vcpus, "threads": 1, "maxSockets": vcpus * 4});
        } else {
            vmi_domain["cpu"]["model"] = json!("host-model");
            vmi_domain["cpu"]["maxSockets"] = json!(4);
        }
        vmi_domain["memory"] = json!({"guest": mem, "maxGuest": "64Gi"});
        vmi_domain["firmware"]["uuid"] = json!(self.rng.uid());
        let mut vmi_spec = template_spec.clone();
        vmi_spec["domain"] = vmi_domain;
        vmi_spec["architecture"] = json!("amd64");
        let mut ifaces = vec![
            json!({"infoSource": "domain, guest-agent", "interfaceName": "eth0", "ipAddress": pod_ip,
            "ipAddresses": [pod_ip, format!("fe80::{:x}:{:x}ff:fe00:{:x}", self.rng.below(0xffff), self.rng.below(0xff), self.rng.below(0xffff))],
            "linkState": "up", "mac": pod_mac, "name": "default", "queueCount": 2}),
        ];
        if multus {
            let c = self.multus_ip;
            self.multus_ip += 1;
            let v4 = format!("192.168.{}.{}", 100 + c / 250, c % 250 + 2);
            let mut ips = vec![json!(v4)];
            if c.is_multiple_of(2) {
                ips.push(json!(format!("2001:db8:100::{:x}", c + 16)));
            }
            ips.push(json!("fe80::1a:2bff:fe00:23"));
            ifaces.push(json!({"infoSource": "domain, guest-agent, multus-status", "interfaceName": "eth1", "ipAddress": v4,
                               "ipAddresses": ips, "mac": multus_mac, "name": format!("nic-vlan{vlan}"), "queueCount": 1}));
        }
        if self.rng.chance(20) {
            ifaces.push(json!({"infoSource": "guest-agent", "interfaceName": "docker0", "ipAddress": "172.17.0.1",
                               "ipAddresses": ["172.17.0.1"], "mac": mac(self.rng.next_u64())}));
        }
        if windows {
            for k in 0..10 {
                ifaces.push(json!({"infoSource": "guest-agent", "interfaceName": format!("vEthernet (nat {k})"),
                                   "ipAddress": format!("172.22.{k}.1"), "ipAddresses": [format!("172.22.{k}.1"), "fe80::5d2:1b4e:9a3c:7f01"],
                                   "mac": mac(self.rng.next_u64())}));
            }
        }
        let mut vmi_annotations = json!({"kubevirt.io/latest-observed-api-version": "v1", "kubevirt.io/storage-observed-api-version": "v1",
                                         "kubevirt.io/vm-generation": "2", "vm.kubevirt.io/flavor": "small", "vm.kubevirt.io/os": os,
                                         "vm.kubevirt.io/workload": "server"});
        let mut status = json!({"activePods": active,
            "conditions": [{"lastProbeTime": null, "lastTransitionTime": t, "status": "True", "type": "Ready"},
                           {"lastProbeTime": null, "lastTransitionTime": null, "status": "True", "type": "LiveMigratable"},
                           {"lastProbeTime": t, "lastTransitionTime": null, "status": "True", "type": "AgentConnected"}],
            "currentCPUTopology": {"cores": 1, "sockets": vcpus, "threads": 1},
            "guestOSInfo": {"id": os_prefix, "kernelRelease": "6.8.5-301.fc40.x86_64", "machine": "x86_64", "name": os_name,
                            "prettyName": format!("{os_name} {os_version}"), "version": os_version, "versionId": os_version},
            "interfaces": ifaces, "launcherContainerImageVersion": LAUNCHER_IMAGE,
            "machine": {"type": "pc-q35-rhel9.4.0"},
            "memory": {"guestAtBoot": mem, "guestCurrent": mem, "guestRequested": mem},
            "migrationMethod": "BlockMigration", "migrationTransport": "Unix", "nodeName": self.nodes[node].name,
            "phase": "Running",
            "phaseTransitionTimestamps": [{"phase": "Pending", "phaseTransitionTimestamp": t},
                                          {"phase": "Scheduling", "phaseTransitionTimestamp": t},
                                          {"phase": "Scheduled", "phaseTransitionTimestamp": t},
                                          {"phase": "Running", "phaseTransitionTimestamp": t}],
            "qosClass": "Burstable", "runtimeUser": 107,
            "selinuxContext": "system_u:object_r:container_file_t:s0:c15,c26",
            "virtualMachineRevisionName": format!("revision-start-vm-{vm_uid}-2"),
            "volumeStatus": [{"name": "rootdisk", "persistentVolumeClaimInfo": {"claimName": name}, "target": "vda"},
                             {"name": "cloudinitdisk", "target": "vdb"}]});
        if !migration_state.is_null() {
            status["migrationState"] = migration_state;
        }
        if let Some(it) = &instancetype_name {
            let key = if it == "custom-medium" {
                "kubevirt.io/instancetype-name"
            } else {
                "kubevirt.io/cluster-instancetype-name"
            };
            vmi_annotations[key] = json!(it);
        }
        let vmi_mf = vec![
            managed(
                "virt-controller",
                "kubevirt.io/v1",
                &t,
                fields_v1(&json!({"metadata": {"labels": vmi_labels}, "spec": vmi_spec})),
                None,
            ),
            managed(
                "virt-handler",
                "kubevirt.io/v1",
                &t,
                fields_v1(&json!({"status": status})),
                None,
            ),
        ];
        let vmi = json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"annotations": vmi_annotations, "creationTimestamp": t,
                         "finalizers": ["kubevirt.io/virtualMachineControllerFinalize", "foregroundDeleteVirtualMachine"],
                         "generation": 18, "labels": vmi_labels, "managedFields": vmi_mf, "name": name, "namespace": nsname,
                         "ownerReferences": [{"apiVersion": "kubevirt.io/v1", "blockOwnerDeletion": true, "controller": true,
                                              "kind": "VirtualMachine", "name": name, "uid": vm_uid}],
                         "resourceVersion": "48261524", "uid": vmi_uid},
            "spec": vmi_spec, "status": status});
        self.put("VirtualMachineInstance", vmi);
        self.running_vms.push(VmInfo {
            ns: nsname,
            name,
            app,
        });
    }

    fn next_service_ip(&mut self) -> String {
        let c = self.service_ip;
        self.service_ip += 1;
        format!("172.30.{}.{}", 1 + c / 250, c % 250 + 2)
    }

    fn next_public_ip(&mut self) -> String {
        let c = self.public_ip;
        self.public_ip += 1;
        match c / 250 {
            0 => format!("192.0.2.{}", c % 250 + 2),
            1 => format!("198.51.100.{}", c % 250 + 2),
            2 => format!("203.0.113.{}", c % 250 + 2),
            k => format!("100.64.{}.{}", k - 3, c % 250 + 2),
        }
    }

    fn services(&mut self) {
        let n = self.scale.services;
        let mut used: HashSet<(String, String)> = HashSet::new();
        let mut made = 0;
        if n > 0 && self.namespace_index("default").is_some() {
            let ip = self.next_service_ip();
            let s = json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"creationTimestamp": "2024-09-23T14:05:00Z", "labels": {"component": "apiserver", "provider": "kubernetes"},
                             "name": "kubernetes", "namespace": "default", "resourceVersion": "231", "uid": self.rng.uid()},
                "spec": {"clusterIP": ip, "clusterIPs": [ip], "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"],
                         "ipFamilyPolicy": "SingleStack", "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
                         "sessionAffinity": "None", "type": "ClusterIP"},
                "status": {"loadBalancer": {}}});
            used.insert(("default".into(), "kubernetes".into()));
            self.put("Service", s);
            made += 1;
        }
        let mut i = 0usize;
        while made < n {
            let slot = i % 20;
            i += 1;
            let d = (!self.deployments.is_empty()).then(|| (i / 2) % self.deployments.len());
            let v = (!self.running_vms.is_empty()).then(|| (i * 7) % self.running_vms.len());
            let (ns, base, selector, port, target): (String, String, Option<Value>, u64, Value) =
                match (slot, d, v) {
                    (13 | 14, _, Some(v)) => {
                        let vm = &self.running_vms[v];
                        if slot == 13 {
                            (
                                vm.ns.clone(),
                                format!("{}-ssh", vm.name),
                                Some(json!({"kubevirt.io/domain": vm.name})),
                                22,
                                json!(22),
                            )
                        } else {
                            (
                                vm.ns.clone(),
                                vm.app.clone(),
                                Some(json!({"app": vm.app})),
                                5432,
                                json!(5432),
                            )
                        }
                    }
                    (15 | 16, _, _) | (_, None, _) => {
                        let Some(ns) = self
                            .user_namespace()
                            .or_else(|| (!self.namespaces.is_empty()).then_some(0))
                        else {
                            break;
                        };
                        (
                            self.namespaces[ns].name.clone(),
                            if slot == 15 {
                                "payments-gateway".into()
                            } else {
                                "legacy-billing".into()
                            },
                            None,
                            443,
                            json!(443),
                        )
                    }
                    (_, Some(d), _) => {
                        let dep = &self.deployments[d];
                        let target = if slot == 19 {
                            json!("http")
                        } else {
                            json!(dep.port)
                        };
                        (
                            dep.ns.clone(),
                            dep.name.clone(),
                            Some(json!({"app": dep.app})),
                            80,
                            target,
                        )
                    }
                };
            let mut name = match slot {
                10 => format!("{base}-headless"),
                11 => format!("{base}-nodeport"),
                12 => format!("{base}-public"),
                _ => base,
            };
            if used.contains(&(ns.clone(), name.clone())) {
                name = format!("{name}-{i}");
            }
            used.insert((ns.clone(), name.clone()));
            let t = self.rng.time();
            let mut spec = json!({"internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "ports": [{"name": "http", "port": port, "protocol": "TCP", "targetPort": target}],
                "sessionAffinity": "None", "type": "ClusterIP"});
            if slot != 15 && slot != 13 && slot != 14 {
                spec["ports"].as_array_mut().unwrap().push(
                    json!({"name": "metrics", "port": 9090, "protocol": "TCP", "targetPort": 9090}),
                );
            }
            if let Some(s) = &selector {
                spec["selector"] = s.clone();
            }
            let mut status = json!({"loadBalancer": {}});
            match slot {
                10 => {
                    spec["clusterIP"] = json!("None");
                    spec["clusterIPs"] = json!(["None"]);
                }
                15 => {
                    spec = json!({"externalName": "payments.example.net", "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443}],
                                  "sessionAffinity": "None", "type": "ExternalName"});
                }
                17 => {
                    let ip = self.next_service_ip();
                    let v6 = format!("fd02::{:x}", self.service_ip);
                    spec["clusterIP"] = json!(ip);
                    spec["clusterIPs"] = json!([ip, v6]);
                    spec["ipFamilies"] = json!(["IPv4", "IPv6"]);
                    spec["ipFamilyPolicy"] = json!("RequireDualStack");
                }
                _ => {
                    let ip = self.next_service_ip();
                    spec["clusterIP"] = json!(ip);
                    spec["clusterIPs"] = json!([ip]);
                }
            }
            match slot {
                11 | 13 => {
                    spec["type"] = json!("NodePort");
                    spec["externalTrafficPolicy"] =
                        json!(if slot == 11 { "Local" } else { "Cluster" });
                    for (k, p) in spec["ports"].as_array_mut().unwrap().iter_mut().enumerate() {
                        p["nodePort"] = json!(30000 + (i * 2 + k) % 2768);
                    }
                }
                12 => {
                    spec["type"] = json!("LoadBalancer");
                    spec["externalTrafficPolicy"] = json!("Cluster");
                    spec["allocateLoadBalancerNodePorts"] = json!(true);
                    for (k, p) in spec["ports"].as_array_mut().unwrap().iter_mut().enumerate() {
                        p["nodePort"] = json!(30000 + (i * 2 + k) % 2768);
                    }
                    let ip = self.next_public_ip();
                    status = json!({"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"}]}});
                }
                18 => {
                    spec["externalIPs"] = json!([self.next_public_ip()]);
                }
                _ => {}
            }
            let mut labels = json!({"app": name});
            if let Some(nsi) = self.namespace_index(&ns).map(|k| &self.namespaces[k])
                && !nsi.system
            {
                labels["app.kubernetes.io/part-of"] = json!(nsi.team);
            }
            let mf = vec![managed(
                "kubectl-client-side-apply",
                "v1",
                &t,
                fields_v1(&json!({"metadata": {"labels": labels}, "spec": spec})),
                None,
            )];
            let s = json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"creationTimestamp": t, "labels": labels, "managedFields": mf, "name": name, "namespace": ns,
                             "resourceVersion": "48286101", "uid": self.rng.uid()},
                "spec": spec, "status": status});
            self.put("Service", s);
            if i % 4 == 1 && type_is_cluster_ip(&spec) {
                self.route(&ns, &name, &t);
            } else if i % 16 == 3 && type_is_cluster_ip(&spec) {
                self.ingress(&ns, &name, &t);
            }
            made += 1;
        }
    }

    /// The DataVolume KubeVirt makes from a VM's template and the claim CDI makes for it, as
    /// they write them (owner references, CDI's labels and annotations, bound).
    fn root_disk(&mut self, ns: &str, name: &str, vm_uid: &str, size: &str, os: &str, t: &str) {
        let dv_uid = self.rng.uid();
        let dv = json!({"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume",
            "metadata": {"annotations": {"cdi.kubevirt.io/storage.usePopulator": "true"}, "creationTimestamp": t,
                         "generation": 1, "labels": {"kubevirt.io/created-by": vm_uid}, "name": name, "namespace": ns,
                         "ownerReferences": [{"apiVersion": "kubevirt.io/v1", "blockOwnerDeletion": true, "controller": true,
                                              "kind": "VirtualMachine", "name": name, "uid": vm_uid}],
                         "resourceVersion": "48259101", "uid": dv_uid},
            "spec": {"sourceRef": {"kind": "DataSource", "name": os, "namespace": "openshift-virtualization-os-images"},
                     "storage": {"resources": {"requests": {"storage": size}}}},
            "status": {"claimName": name, "conditions": [
                    {"lastHeartbeatTime": t, "lastTransitionTime": t, "message": "PVC Bound", "reason": "Bound", "status": "True", "type": "Bound"},
                    {"lastHeartbeatTime": t, "lastTransitionTime": t, "status": "True", "type": "Ready"},
                    {"lastHeartbeatTime": t, "lastTransitionTime": t, "message": "Clone Complete", "reason": "Completed", "status": "False", "type": "Running"}],
                "phase": "Succeeded", "progress": "100.0%"}});
        self.put("DataVolume", dv);
        let pvc_uid = self.rng.uid();
        let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"annotations": {"cdi.kubevirt.io/clonePhase": "Succeeded", "cdi.kubevirt.io/cloneType": "csi-clone",
                                         "cdi.kubevirt.io/createdForDataVolume": dv_uid, "cdi.kubevirt.io/dataSourceNamespace": "openshift-virtualization-os-images",
                                         "cdi.kubevirt.io/storage.clone.token": format!("eyJhbGciOiJQUzI1NiJ9.{}", self.rng.hex(180)),
                                         "cdi.kubevirt.io/storage.condition.running": "false", "cdi.kubevirt.io/storage.contentType": "kubevirt",
                                         "cdi.kubevirt.io/storage.pod.phase": "Succeeded", "cdi.kubevirt.io/storage.pod.restarts": "0",
                                         "cdi.kubevirt.io/storage.populator.progress": "100.0%", "cdi.kubevirt.io/storage.usePopulator": "true",
                                         "pv.kubernetes.io/bind-completed": "yes", "volume.beta.kubernetes.io/storage-provisioner": "openshift-storage.rbd.csi.ceph.com",
                                         "volume.kubernetes.io/storage-provisioner": "openshift-storage.rbd.csi.ceph.com"},
                         "creationTimestamp": t, "finalizers": ["kubernetes.io/pvc-protection"],
                         "labels": {"app": "containerized-data-importer", "app.kubernetes.io/component": "storage",
                                    "app.kubernetes.io/managed-by": "cdi-controller", "kubevirt.io/created-by": vm_uid},
                         "name": name, "namespace": ns,
                         "ownerReferences": [{"apiVersion": "cdi.kubevirt.io/v1beta1", "blockOwnerDeletion": true, "controller": true,
                                              "kind": "DataVolume", "name": name, "uid": dv_uid}],
                         "resourceVersion": "48259120", "uid": pvc_uid},
            "spec": {"accessModes": ["ReadWriteMany"], "dataSource": {"apiGroup": "cdi.kubevirt.io", "kind": "VolumeCloneSource", "name": format!("volume-clone-source-{dv_uid}")},
                     "resources": {"requests": {"storage": size}}, "storageClassName": "ocs-storagecluster-ceph-rbd-virtualization",
                     "volumeMode": "Block", "volumeName": format!("pvc-{pvc_uid}")},
            "status": {"accessModes": ["ReadWriteMany"], "capacity": {"storage": size}, "phase": "Bound"}});
        self.put("PersistentVolumeClaim", pvc);
    }

    /// A DaemonSet as the API server and its controller write it (one pod per node).
    #[allow(clippy::too_many_arguments)]
    fn daemonset(&mut self, ns: &str, name: &str, uid: &str, image: &str, k: usize, nodes: usize) {
        let t = self.rng.time();
        let labels = json!({"app": name, "component": "network", "openshift.io/component": "network", "type": "infra"});
        let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"annotations": {"deprecated.daemonset.template.generation": (k + 1).to_string(),
                                         "kubernetes.io/description": format!("{name} runs on every node")},
                         "creationTimestamp": t, "generation": k + 1, "labels": labels, "name": name, "namespace": ns,
                         "resourceVersion": "48235377", "uid": uid},
            "spec": {"revisionHistoryLimit": 10, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": name, "image": image, "resources": {"requests": {"cpu": "10m", "memory": "50Mi"}}}],
                                           "hostNetwork": k.is_multiple_of(2), "priorityClassName": "system-node-critical",
                                           "tolerations": [{"operator": "Exists"}]}},
                     "updateStrategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "10%"}, "type": "RollingUpdate"}},
            "status": {"currentNumberScheduled": nodes, "desiredNumberScheduled": nodes, "numberAvailable": nodes,
                       "numberMisscheduled": 0, "numberReady": nodes, "observedGeneration": k + 1, "updatedNumberScheduled": nodes,
                       "conditions": []}});
        self.put("DaemonSet", ds);
    }

    /// A StatefulSet with its claim template, as the API server and its controller write it.
    #[allow(clippy::too_many_arguments)]
    fn statefulset(
        &mut self,
        ns: &str,
        name: &str,
        uid: &str,
        revision: &str,
        labels: &Value,
        containers: &[Value],
        reps: usize,
        ready: usize,
        t: &str,
    ) {
        let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"creationTimestamp": t, "generation": 3, "labels": labels, "name": name, "namespace": ns,
                         "resourceVersion": "48235391", "uid": uid},
            "spec": {"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                     "podManagementPolicy": "OrderedReady", "replicas": reps, "revisionHistoryLimit": 10,
                     "selector": {"matchLabels": {"app": labels["app"]}}, "serviceName": name,
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": containers, "terminationGracePeriodSeconds": 30}},
                     "updateStrategy": {"rollingUpdate": {"partition": 0}, "type": "RollingUpdate"},
                     "volumeClaimTemplates": [{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                         "metadata": {"name": "data"},
                         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}},
                                  "storageClassName": "ocs-storagecluster-ceph-rbd", "volumeMode": "Filesystem"},
                         "status": {"phase": "Pending"}}]},
            "status": {"availableReplicas": ready, "collisionCount": 0, "currentReplicas": reps, "currentRevision": revision,
                       "observedGeneration": 3, "readyReplicas": ready, "replicas": reps, "updateRevision": revision,
                       "updatedReplicas": reps}});
        self.put("StatefulSet", sts);
    }

    /// An Ingress to a Service and the Route OpenShift's ingress-to-route controller makes from
    /// it (owned by the Ingress, a generated name).
    fn ingress(&mut self, ns: &str, service: &str, t: &str) {
        let host = format!("{service}.{ns}.bench.example.com");
        let uid = self.rng.uid();
        let ing = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"annotations": {"route.openshift.io/termination": "edge"}, "creationTimestamp": t, "generation": 1,
                         "labels": {"app": service}, "name": service, "namespace": ns, "resourceVersion": "48286150", "uid": uid},
            "spec": {"ingressClassName": "openshift-default",
                     "rules": [{"host": host, "http": {"paths": [{"backend": {"service": {"name": service, "port": {"name": "http"}}},
                                                                   "path": "/", "pathType": "Prefix"}]}}],
                     "tls": [{"hosts": [host], "secretName": format!("{service}-tls")}]},
            "status": {"loadBalancer": {"ingress": [{"hostname": "router-default.apps.bench.example.com"}]}}});
        self.put("Ingress", ing);
        let r = json!({"apiVersion": "route.openshift.io/v1", "kind": "Route",
            "metadata": {"creationTimestamp": t, "labels": {"app": service}, "name": format!("{service}-{}", self.rng.suffix(5)),
                         "namespace": ns, "ownerReferences": [{"apiVersion": "networking.k8s.io/v1", "controller": true,
                                                               "kind": "Ingress", "name": service, "uid": uid}],
                         "resourceVersion": "48286151", "uid": self.rng.uid()},
            "spec": {"host": host, "path": "/", "port": {"targetPort": "http"}, "tls": {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"},
                     "to": {"kind": "Service", "name": service, "weight": 100}, "wildcardPolicy": "None"},
            "status": {"ingress": [{"conditions": [{"lastTransitionTime": t, "status": "True", "type": "Admitted"}],
                                    "host": host, "routerCanonicalHostname": "router-default.apps.bench.example.com",
                                    "routerName": "default", "wildcardPolicy": "None"}]}});
        self.put("Route", r);
    }

    /// An edge Route to a Service, admitted by the default router, as the API server and the
    /// router write it (host allocated, with inline certificate and key).
    fn route(&mut self, ns: &str, service: &str, t: &str) {
        let host = format!("{service}-{ns}.apps.bench.example.com");
        let r = json!({"apiVersion": "route.openshift.io/v1", "kind": "Route",
            "metadata": {"annotations": {"openshift.io/host.generated": "true"}, "creationTimestamp": t,
                         "labels": {"app": service}, "name": service, "namespace": ns,
                         "resourceVersion": "48286140", "uid": self.rng.uid()},
            "spec": {"host": host, "port": {"targetPort": "http"},
                     "tls": {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect",
                             "certificate": format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----", self.rng.hex(1200)),
                             "key": format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----", self.rng.hex(1600))},
                     "to": {"kind": "Service", "name": service, "weight": 100}, "wildcardPolicy": "None"},
            "status": {"ingress": [{"conditions": [{"lastTransitionTime": t, "status": "True", "type": "Admitted"}],
                                    "host": host, "routerCanonicalHostname": "router-default.apps.bench.example.com",
                                    "routerName": "default", "wildcardPolicy": "None"}]}});
        self.put("Route", r);
    }
}

fn type_is_cluster_ip(spec: &Value) -> bool {
    spec["type"].as_str().is_none_or(|t| t == "ClusterIP")
}
