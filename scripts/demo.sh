#!/usr/bin/env bash
# The local demo: a real Nautobot, the sample OpenShift + KubeVirt cluster, and the operator's
# sync pass writing it into Nautobot; then a few live changes and the pass that follows them.
#
#   scripts/demo.sh          (on a fresh Debian machine with a Rust toolchain, as root)
#
# Today the demo drives the sync pass with `nautobot-sync-operator apply` on snapshot files;
# the live controller (watching a cluster) is the next milestone and will replace this loop.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Building nautobot-sync-operator"
cargo build --locked --quiet
BIN=target/debug/nautobot-sync-operator

say "Starting Nautobot 3.2.7 (PostgreSQL and Redis from Debian; first run takes about a minute)"
bash scripts/nautobot.sh up
eval "$(bash scripts/nautobot.sh env)"
export NAUTOBOT_URL NAUTOBOT_TOKEN

say "Creating the Location the sample NautobotSync places nodes in (a person's job, once)"
api() { curl -sf -H "Authorization: Token $NAUTOBOT_TOKEN" -H "Accept: application/json; version=3.2" \
  -H "Content-Type: application/json" "$@"; }
if [[ $(api "$NAUTOBOT_URL/api/dcim/location-types/?name=Cluster%20Site" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])') == 0 ]]; then
  api -X POST "$NAUTOBOT_URL/api/dcim/location-types/" \
    -d '{"name":"Cluster Site","content_types":["dcim.device","virtualization.cluster"]}' >/dev/null
fi
if [[ $(api "$NAUTOBOT_URL/api/dcim/locations/?name=ocp-lab-dc1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])') == 0 ]]; then
  api -X POST "$NAUTOBOT_URL/api/dcim/locations/" \
    -d '{"name":"ocp-lab-dc1","location_type":{"name":"Cluster Site"},"status":{"name":"Active"}}' >/dev/null
fi

say "What the sample cluster projects to (nautobot-sync-operator plan)"
"$BIN" plan -s examples/snapshot.json -f examples/nautobotsync.yaml | sed -n '1,40p'
echo "  ... (run the command yourself for every table)"

say "First sync into Nautobot"
"$BIN" apply -s examples/snapshot.json -f examples/nautobotsync.yaml --nautobot "$NAUTOBOT_URL"

say "Live changes: scale a deployment, stop a VM, add a namespace"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work/changed.json" <<'PY'
import json, sys
snap = json.load(open("examples/snapshot.json"))
items = snap["items"]
for i in items:
    m = i["metadata"]
    if i["kind"] == "Deployment" and m["name"] == "cart-api" and m.get("namespace") == "shop-prod":
        i["spec"]["replicas"] = 6
        print("  scaled Deployment shop-prod/cart-api to 6 replicas")
    if i["kind"] == "VirtualMachine" and m["name"] == "fedora-db-01":
        i["spec"]["runStrategy"] = "Halted"
        i["status"]["printableStatus"] = "Stopped"
        print("  stopped VirtualMachine shop-prod/fedora-db-01")
snap["items"] = [i for i in items if not (i["kind"] in ("VirtualMachineInstance", "Pod")
                 and i["metadata"]["name"] in ("fedora-db-01", "virt-launcher-fedora-db-01-jksnb"))]
snap["items"].append({"apiVersion": "v1", "kind": "Namespace",
    "metadata": {"name": "demo-team", "uid": "0b7a3a4e-6d0c-4e59-9d38-0d1d5f0e7a11",
                 "annotations": {"openshift.io/display-name": "Demo team"}}})
print("  added Namespace demo-team")
json.dump(snap, open(sys.argv[1], "w"))
PY

say "The sync pass after the changes: only the changed objects are written"
"$BIN" apply -s "$work/changed.json" -f examples/nautobotsync.yaml --nautobot "$NAUTOBOT_URL"

say "Nothing changed since: the next pass only reads (list pages) and writes nothing"
"$BIN" apply -s "$work/changed.json" -f examples/nautobotsync.yaml --nautobot "$NAUTOBOT_URL" | tail -3

cat <<EOF

Nautobot: $NAUTOBOT_URL  (login admin / admin; API token $NAUTOBOT_TOKEN)
  API:    $NAUTOBOT_URL/api/virtualization/virtual-machines/?cf_k8s_cluster=ocp-lab
  The web UI needs its static files once: see the header of scripts/nautobot.sh.
Stop it with: scripts/nautobot.sh down
EOF
