#!/usr/bin/env bash
# Looks at the synced cluster in Nautobot's web UI as a person would: headless Chromium logs in,
# opens the cluster's virtual machine list and finds every VM the REST API lists, with its status,
# on the page (and the page's CSS, so the static files are served); saves a screenshot.
#
# Usage: scripts/check-ui.sh [--cluster ocp-lab] [--screenshot FILE.png]
#   after scripts/demo.sh (Nautobot from scripts/nautobot.sh; NAUTOBOT_URL/NAUTOBOT_TOKEN override).
#   The README's screenshot: scripts/check-ui.sh --screenshot docs/images/nautobot-vms.png
# Installs Debian's chromium when missing (root). Exits 1 when a VM is missing from the page.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null; then
  echo "[check-ui] installing chromium from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [[ -z ${NAUTOBOT_URL:-} || -z ${NAUTOBOT_TOKEN:-} ]]; then eval "$(bash scripts/nautobot.sh env)"; fi
cluster=ocp-lab
args=()
while (($#)); do
  case $1 in
    --cluster) cluster=$2; shift 2 ;;
    --screenshot) args+=(--screenshot "$2"); shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--cluster NAME] [--screenshot FILE.png]" >&2; exit 2 ;;
  esac
done
exec timeout 180 python3 scripts/check_ui.py --url "$NAUTOBOT_URL" --token "$NAUTOBOT_TOKEN" \
  --cluster "$cluster" "${args[@]}"
