#!/usr/bin/env bash
# Runs every check the project has: formatting, lints, unit tests, and the integration tests
# against a real Nautobot 3.2.7 and again against Nautobot 2.4 LTM ($NAUTOBOT_24, the Nautobot
# and end-to-end suites, then an in-place upgrade of it to 3.2.7; the long fault suites run
# against 3.2.7 only), each started here with
# scripts/nautobot.sh (PostgreSQL and Redis are installed from Debian when missing).
# Usage: scripts/test.sh        (the README's test command; .ci/run calls it)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
# the Nautobot 2.4 LTM release the suites also run against
NAUTOBOT_24=${NAUTOBOT_24:-2.4.44}

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is required (https://rustup.rs)" >&2
  exit 1
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "module layering: no import circles, I/O only in nautobot/, controller/, runtime/ (tests/architecture.rs)"
cargo test --locked --test architecture

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "dependency licenses, bans (no OpenSSL) and sources (cargo deny)"
if ! command -v cargo-deny >/dev/null 2>&1; then
  cargo install --locked cargo-deny@0.20.2
fi
cargo deny --locked check licenses bans sources

step "advisories: cargo deny check advisories (the RustSec database)"
# cargo-deny reads the database from $CARGO_HOME/advisory-dbs/<name derived from its URL>. Where
# GitHub answers, cargo-deny fetches the live database; otherwise the offline copy beside the
# repo (../shared/rustsec-advisory-db.bundle, a git bundle) is cloned there afresh and used
# offline (cargo-deny 0.20's --offline: no fetch). Its date is printed so that a stale copy is
# visible.
advisory_db="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs/advisory-db-3157b0e258782691"
bundle="${NBSYNC_ADVISORY_BUNDLE:-$(pwd)/../shared/rustsec-advisory-db.bundle}"
if timeout 5 git ls-remote -q https://github.com/rustsec/advisory-db HEAD >/dev/null 2>&1; then
  cargo deny --locked check advisories
  echo "advisory database: live, $(git -C "$advisory_db" show -s --format=%cI HEAD 2>/dev/null || echo '?')"
elif [ -f "$bundle" ]; then
  # a fresh clone each time (4 MB): the bundle holds only a detached HEAD
  rm -rf "$advisory_db" && mkdir -p "$(dirname "$advisory_db")"
  git -c init.defaultBranch=main -c advice.detachedHead=false clone -q "$bundle" "$advisory_db"
  echo "advisory database: offline copy $bundle, head $(git -C "$advisory_db" rev-parse --short HEAD) of $(git -C "$advisory_db" show -s --format=%cI HEAD)"
  # --offline covers cargo metadata too: have every platform's crates in the local registry
  cargo fetch --locked --quiet
  cargo deny --locked --offline check advisories
else
  echo "advisory database: none (GitHub unreachable and no $bundle): advisories NOT checked" >&2
fi

step "chart, manifests, examples, Dockerfile (scripts/check-chart.sh)"
bash scripts/check-chart.sh

step "Nautobot for the integration tests"
started=$(date +%s)
bash scripts/nautobot.sh up
eval "$(bash scripts/nautobot.sh env)"
export NAUTOBOT_URL NAUTOBOT_TOKEN
# the Nautobot tests fail (instead of skipping) when Nautobot is not there
export NBSYNC_REQUIRE_NAUTOBOT=1
echo "Nautobot ready after $(( $(date +%s) - started ))s"

step "cargo test"
cargo test --locked --workspace --all-targets --no-fail-fast

step "Nautobot $NAUTOBOT_24 (2.4 LTM) for the Nautobot and end-to-end suites"
started=$(date +%s)
(
  export NAUTOBOT_VERSION=$NAUTOBOT_24
  bash scripts/nautobot.sh up
  eval "$(bash scripts/nautobot.sh env)"
  export NAUTOBOT_URL NAUTOBOT_TOKEN
  echo "Nautobot $NAUTOBOT_24 ready after $(( $(date +%s) - started ))s"
  step "cargo test --test nautobot --test e2e against Nautobot $NAUTOBOT_24"
  cargo test --locked --test nautobot --test e2e --no-fail-fast
  step "an in-place upgrade of Nautobot $NAUTOBOT_24 to 3.2.7 under a synced cluster (tests/upgrade.rs)"
  env -u NAUTOBOT_VERSION -u NAUTOBOT_URL NBSYNC_UPGRADE_FROM="$NAUTOBOT_24" \
    cargo test --locked --test upgrade --no-fail-fast
  bash scripts/nautobot.sh down
)

step "the demo (scripts/demo.sh, the README's demo command) and its web UI in headless Chromium"
# on a clean database, as a new user runs it; the operator and the stand-in are stopped afterwards
bash scripts/nautobot.sh reset >/dev/null
trap 'bash scripts/demo.sh down >/dev/null 2>&1 || true' EXIT
bash scripts/demo.sh
bash scripts/check-ui.sh --screenshot "$(mktemp -d)/nautobot-vms.png"
