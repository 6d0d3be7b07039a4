#!/usr/bin/env bash
# The local demo: a real Nautobot, a Kubernetes API (the project's stand-in, since no real
# kube-apiserver runs here) loaded with the sample OpenShift + KubeVirt cluster, and the operator
# syncing it; then a few live changes made with kubectl and followed into Nautobot.
#
#   scripts/demo.sh          bring it all up and run the scenario (leaves everything running)
#   scripts/demo.sh down     stop the operator and the API stand-in (Nautobot: scripts/nautobot.sh down)
#
# Needs a Rust toolchain; installs PostgreSQL, Redis and kubectl from Debian when missing (root).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
RUN=$REPO/.work/demo
NS=nautobot-sync

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
stop() {
  for p in operator standin; do
    if [[ -s $RUN/$p.pid ]] && kill -0 "$(<"$RUN/$p.pid")" 2>/dev/null; then
      kill "$(<"$RUN/$p.pid")" 2>/dev/null || true
    fi
    rm -f "$RUN/$p.pid"
  done
}
if [[ ${1:-up} == down ]]; then stop; echo "demo stopped"; exit 0; fi

mkdir -p "$RUN"
stop
command -v kubectl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client; }

say "Building the operator and the Kubernetes API stand-in"
cargo build --locked --quiet --bin nautobot-sync-operator
cargo build --locked --quiet -p kube-stand-in --example serve
BIN=$REPO/target/debug/nautobot-sync-operator

say "Starting Nautobot 3.2.7 (first run installs PostgreSQL, Redis and Nautobot: about a minute)"
bash scripts/nautobot.sh up
eval "$(bash scripts/nautobot.sh env)"
api() { curl -sf -H "Authorization: Token $NAUTOBOT_TOKEN" -H "Accept: application/json; version=3.2" \
  -H "Content-Type: application/json" "$@"; }
count() { python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])'; }

say "Creating the Location for node devices (a person does this once in Nautobot)"
if [[ $(api "$NAUTOBOT_URL/api/dcim/location-types/?name=Cluster%20Site" | count) == 0 ]]; then
  api -X POST "$NAUTOBOT_URL/api/dcim/location-types/" \
    -d '{"name":"Cluster Site","content_types":["dcim.device","virtualization.cluster"]}' >/dev/null
fi
if [[ $(api "$NAUTOBOT_URL/api/dcim/locations/?name=ocp-lab-dc1" | count) == 0 ]]; then
  api -X POST "$NAUTOBOT_URL/api/dcim/locations/" \
    -d '{"name":"ocp-lab-dc1","location_type":{"name":"Cluster Site"},"status":{"name":"Active"}}' >/dev/null
fi

say "Starting the Kubernetes API stand-in with the sample cluster (examples/snapshot.json)"
export KUBECONFIG=$RUN/kubeconfig
rm -f "$KUBECONFIG"
"$REPO/target/debug/examples/serve" "$KUBECONFIG" examples/kubevirt-crds.json examples/snapshot.json \
  >"$RUN/standin.log" 2>&1 &
echo $! >"$RUN/standin.pid"
for _ in $(seq 100); do [[ -s $KUBECONFIG ]] && break; sleep 0.1; done
kubectl get nodes
kubectl get vm -A

say "Installing the NautobotSync CRD, the token Secret and a NautobotSync"
# server-side apply everywhere: the API stand-in speaks JSON, not the protobuf kubectl uses for
# `create` of built-in kinds, and it serves no OpenAPI document for client-side validation
ssa() { kubectl apply --server-side --validate=false "$@" >/dev/null; }
ssa -f crds/nbsync.dev_nautobotsyncs.yaml
printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n' "$NS" | ssa -f -
printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: nautobot-token, namespace: %s}\nstringData: {token: %s}\n' \
  "$NS" "$NAUTOBOT_TOKEN" | ssa -f -
sed "s#url: .*#url: $NAUTOBOT_URL#" examples/nautobotsync.yaml | ssa -f -
kubectl -n "$NS" get nautobotsync

say "Starting the operator (log: .work/demo/operator.log)"
"$BIN" run --namespaces "$NS" --pod-namespace "$NS" --metrics-addr 127.0.0.1:9090 --log-format text \
  >"$RUN/operator.log" 2>&1 &
echo $! >"$RUN/operator.pid"

wait_for() { # wait_for DESCRIPTION SECONDS COMMAND...
  local what=$1 secs=$2; shift 2
  for _ in $(seq $((secs * 5))); do "$@" >/dev/null 2>&1 && { echo "  $what"; return 0; }; sleep 0.2; done
  echo "  timed out waiting for: $what (see $RUN/operator.log)" >&2; tail -20 "$RUN/operator.log" >&2; return 1
}
ready() { [[ $(kubectl -n "$NS" get nautobotsync ocp-lab -o jsonpath='{.status.conditions[?(@.type=="Synced")].status}') == True ]]; }
wait_for "NautobotSync ocp-lab is Ready and Synced" 180 ready
kubectl -n "$NS" get nautobotsync -o wide

vm_field() { api "$NAUTOBOT_URL/api/virtualization/virtual-machines/?cf_k8s_cluster=ocp-lab&name=$1" |
  python3 -c "import json,sys; r=json.load(sys.stdin)['results']; print(r[0]['$2'] if r else '')"; }
echo
echo "  In Nautobot: $(api "$NAUTOBOT_URL/api/virtualization/virtual-machines/?cf_k8s_cluster=ocp-lab" | count) VMs," \
  "$(api "$NAUTOBOT_URL/api/dcim/devices/?cf_k8s_cluster=ocp-lab" | count) devices," \
  "$(api "$NAUTOBOT_URL/api/tenancy/tenants/?cf_k8s_cluster=ocp-lab" | count) tenants," \
  "$(api "$NAUTOBOT_URL/api/ipam/ip-addresses/?cf_k8s_cluster=ocp-lab" | count) IP addresses"

say "Live change 1: scale Deployment shop-prod/cart-api to 6 replicas"
kubectl -n shop-prod patch deployment cart-api --type=merge -p '{"spec":{"replicas":6}}'
replicas() { api "$NAUTOBOT_URL/api/cloud/cloud-services/?name=ocp-lab/shop-prod/deployment/cart-api" |
  python3 -c 'import json,sys; r=json.load(sys.stdin)["results"]; sys.exit(0 if r and r[0]["extra_config"]["replicas"]==6 else 1)'; }
wait_for "Nautobot's CloudService shows 6 replicas" 30 replicas

say "Live change 2: hot-plug a CPU socket into running VM shop-prod/fedora-db-01 (2 vCPUs -> 4)"
# KubeVirt hot-plugs sockets up to the VMI's maxSockets (4 here) and reports what runs in the VMI's
# status.currentCPUTopology; the stand-in has no virt-controller, so that status is set here as it would.
kubectl -n shop-prod patch vm fedora-db-01 --type=merge -p '{"spec":{"template":{"spec":{"domain":{"cpu":{"sockets":2}}}}}}'
kubectl -n shop-prod patch vmi fedora-db-01 --subresource=status --type=merge \
  -p '{"status":{"currentCPUTopology":{"sockets":2,"cores":2,"threads":1}}}'
vcpus4() { [[ $(vm_field fedora-db-01 vcpus) == 4 ]]; }
wait_for "Nautobot's VM fedora-db-01 has 4 vCPUs" 30 vcpus4

say "Live change 3: stop VM shop-prod/rhel9-app-01 (KubeVirt would set its status and remove the VMI)"
kubectl -n shop-prod patch vm rhel9-app-01 --type=merge -p '{"spec":{"runStrategy":"Halted"}}'
kubectl -n shop-prod patch vm rhel9-app-01 --subresource=status --type=merge -p '{"status":{"printableStatus":"Stopped"}}'
kubectl -n shop-prod delete vmi rhel9-app-01 --wait=false >/dev/null
offline() { api "$NAUTOBOT_URL/api/virtualization/virtual-machines/?cf_k8s_cluster=ocp-lab&name=rhel9-app-01&status=Offline" | count | grep -qx 1; }
wait_for "Nautobot's VM rhel9-app-01 is Offline (its IP addresses are kept)" 30 offline

say "Live change 4: a new namespace"
printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo-team\n  annotations: {openshift.io/display-name: Demo team}\n' | ssa -f -
tenant() { api "$NAUTOBOT_URL/api/tenancy/tenants/?name=ocp-lab/demo-team" | count | grep -qx 1; }
wait_for "Nautobot has the tenant ocp-lab/demo-team" 30 tenant

kubectl -n "$NS" get nautobotsync -o wide
grep -E "sync pass done" "$RUN/operator.log" | tail -5 | sed 's/^/  /'

cat <<EOF

Everything is still running:
  Nautobot:  $NAUTOBOT_URL  (login admin / admin, API token $NAUTOBOT_TOKEN)
             the VMs in the web UI: $NAUTOBOT_URL/virtualization/virtual-machines/?cluster=ocp-lab
             the API: $NAUTOBOT_URL/api/virtualization/virtual-machines/?cf_k8s_cluster=ocp-lab
  Cluster:   export KUBECONFIG=$KUBECONFIG; kubectl -n $NS get nautobotsync -o wide
  Operator:  metrics on http://127.0.0.1:9090/metrics, log in $RUN/operator.log
Stop: scripts/demo.sh down && scripts/nautobot.sh down
EOF
