#!/usr/bin/env bash
# Run a real Nautobot for integration tests and benchmarks, without Docker.
#
#   scripts/nautobot.sh up          install what is missing, start everything, wait until healthy
#   NAUTOBOT_VERSION=2.4.44 scripts/nautobot.sh up   the same for another version (see the table below)
#   scripts/nautobot.sh down [--all] stop uWSGI (--all: PostgreSQL and Redis too)
#   scripts/nautobot.sh reset       replace the `nautobot` DB with a fresh copy of the template, restart
#   scripts/nautobot.sh status      show what runs; exit 1 unless Nautobot is healthy
#   scripts/nautobot.sh upgrade-from 2.4.44   an in-place upgrade: the `nautobot` DB becomes a copy of 2.4.44's
#                                   test DB (as it is now), migrated by this version, and the server restarts
#   eval "$(scripts/nautobot.sh env)"   export NAUTOBOT_URL and NAUTOBOT_TOKEN
#
# Built for Debian 12 as root (apt-get, pg_ctlcluster, no systemd). PostgreSQL and Redis listen on 127.0.0.1.
# The venv, NAUTOBOT_ROOT, log and pidfile live in a cache dir outside the repo ($NBSYNC_CACHE), so later runs
# and CI on the same machine reuse them. The `nautobot` DB is copied from the template DB `nautobot_seed`, which
# is restored once from the seed dump ($NAUTOBOT_SEED_DUMP, else ../shared/ beside the repo); without a dump it
# is built with `migrate` (~5 min), then dumped into the cache and reused. The DB holds the test admin
# (admin/admin) and the test API token below. Test use only: the passwords and secret key are public.
# The web UI is served too: the static files are collected once per Nautobot version into STATIC_ROOT
# ($NAUTOBOT_ROOT/static, Nautobot's default) and uWSGI serves them under /static/ (STATIC_URL).
set -euo pipefail

# The Nautobot version: NAUTOBOT_VERSION, default 3.2.7. Each version has its own venv, NAUTOBOT_ROOT, seed
# snapshot, template and test DB, Redis DBs and port, so versions install and run side by side:
#   version   port  DBs                                   Redis DBs (broker, cache)
#   3.2.7     8080  nautobot, nautobot_seed                0, 1
#   2.4.x     8024  nautobot_2_4_44, nautobot_seed_2_4_44  2, 3
#   other     8080  nautobot_<v>, nautobot_seed_<v>        4, 5
readonly DEFAULT_VERSION=3.2.7
readonly VERSION=${NAUTOBOT_VERSION:-$DEFAULT_VERSION}
[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "NAUTOBOT_VERSION must look like 2.4.44, not '$VERSION'" >&2; exit 2; }
readonly TOKEN=0123456789abcdef0123456789abcdef01234567
if [[ $VERSION == "$DEFAULT_VERSION" ]]; then
  default_port=8080 REDIS_DB=0 DB=nautobot TEMPLATE=nautobot_seed ROOT_NAME=nautobot-root
else
  case $VERSION in 2.*) default_port=8024 REDIS_DB=2 ;; *) default_port=8080 REDIS_DB=4 ;; esac
  DB=nautobot_${VERSION//./_} TEMPLATE=nautobot_seed_${VERSION//./_} ROOT_NAME=nautobot-root-$VERSION
fi
readonly REDIS_DB DB TEMPLATE ROOT_NAME
readonly PORT=${NAUTOBOT_PORT:-$default_port}
readonly URL=http://127.0.0.1:$PORT
readonly START_TIMEOUT=${NAUTOBOT_START_TIMEOUT:-180}

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${NBSYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nautobot-sync-operator}
VENV=$CACHE/venv-$VERSION
PIDFILE=$CACHE/uwsgi-$PORT.pid
LOG=$CACHE/uwsgi-$PORT.log
SEED_DUMP=${NAUTOBOT_SEED_DUMP:-$REPO_ROOT/../shared/nautobot-$VERSION-seed.dump}
CACHED_DUMP=$CACHE/nautobot-$VERSION-seed.dump

# Read by nautobot.core.settings and by the PostgreSQL client tools.
export NAUTOBOT_ROOT=$CACHE/$ROOT_NAME
export NAUTOBOT_CONFIG=$NAUTOBOT_ROOT/nautobot_config.py
# Nautobot's STATIC_ROOT is $NAUTOBOT_ROOT/static and its STATIC_URL static/, which Django prefixes to
# /static/ (nautobot/core/settings.py); `nautobot-server start` (django-webserver's pyuwsgi command) then
# passes uWSGI `--static-map /static=STATIC_ROOT` itself. The stamp marks a complete collectstatic of $VERSION.
STATIC_ROOT=$NAUTOBOT_ROOT/static
STATIC_STAMP=$STATIC_ROOT/.collected-nautobot-$VERSION
export NAUTOBOT_DB_ENGINE=django.db.backends.postgresql NAUTOBOT_DB_HOST=127.0.0.1 NAUTOBOT_DB_PORT=5432
export NAUTOBOT_DB_NAME=$DB NAUTOBOT_DB_USER=nautobot NAUTOBOT_DB_PASSWORD=nautobot
export NAUTOBOT_REDIS_HOST=127.0.0.1 NAUTOBOT_REDIS_PORT=6379 NBSYNC_REDIS_DB=$REDIS_DB  # broker; cache = +1
export NAUTOBOT_ALLOWED_HOSTS='*' NAUTOBOT_INSTALLATION_METRICS_ENABLED=false
export NAUTOBOT_SECRET_KEY=test-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=nautobot PGPASSWORD=nautobot

log() { printf '[nautobot.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---- checks ---------------------------------------------------------------------------------------------
healthy() { curl -sf -o /dev/null --max-time 5 "$URL/health/"; }
static_served() { curl -sf -o /dev/null --max-time 5 "$URL/static/dist/css/nautobot.css"; }
pg_up() { command -v pg_isready >/dev/null && pg_isready -q; }
redis_up() { command -v redis-cli >/dev/null && [[ $(redis-cli -h 127.0.0.1 ping 2>/dev/null) == PONG ]]; }
alive() { kill -0 "$1" 2>/dev/null && [[ $(ps -o stat= -p "$1") != Z* ]]; }  # a zombie counts as gone
uwsgi_pid() {  # the pid in the pidfile, if that process is still our uWSGI (pids get reused after a reboot)
  local pid
  [[ -s $PIDFILE ]] && pid=$(<"$PIDFILE") && alive "$pid" && grep -qa nautobot-server "/proc/$pid/cmdline" &&
    echo "$pid"
}
sql() { PGOPTIONS='-c client_min_messages=warning' psql -d postgres -v ON_ERROR_STOP=1 -Atqc "$1"; }
db_exists() { [[ $(sql "SELECT 1 FROM pg_database WHERE datname = '$1'") == 1 ]]; }
python_bin() { command -v python3.11 || command -v python3 || true; }

# ---- system pieces --------------------------------------------------------------------------------------
install_packages() {
  local pkgs=() py
  command -v pg_ctlcluster >/dev/null && command -v pg_restore >/dev/null || pkgs+=(postgresql)
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || pkgs+=(redis-server)
  command -v curl >/dev/null || pkgs+=(curl)
  [[ -f /etc/mime.types ]] || pkgs+=(media-types)  # uWSGI's Content-Type of static files (text/css, ...)
  py=$(python_bin)
  if [[ -z $py ]]; then pkgs+=(python3 python3-venv)
  elif ! "$py" -c 'import ensurepip, venv' 2>/dev/null; then pkgs+=(python3-venv); fi
  ((${#pkgs[@]})) || return 0
  [[ $EUID -eq 0 ]] || die "missing packages (${pkgs[*]}); run as root or install them"
  log "apt-get install ${pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
}

start_services() {
  if ! pg_up; then
    local cluster
    cluster=$(pg_lsclusters -h | awk 'NR == 1 { print $1, $2 }')
    [[ -n $cluster ]] || die "no PostgreSQL cluster (pg_lsclusters is empty)"
    log "starting PostgreSQL $cluster"
    # shellcheck disable=SC2086  # "15 main" is two arguments
    pg_ctlcluster $cluster start 9>&-  # 9 is the lock (see main): servers must not inherit it
    for _ in $(seq 50); do pg_up && break; sleep 0.2; done
  fi
  if ! redis_up; then
    log "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no >/dev/null 9>&-
    for _ in $(seq 50); do redis_up && break; sleep 0.1; done
  fi
  if ! pg_up || ! redis_up; then die "PostgreSQL or Redis did not come up"; fi
  if ! sql 'SELECT 1' >/dev/null 2>&1; then  # the nautobot role is missing
    log "creating PostgreSQL role nautobot"
    runuser -u postgres -- psql -h /var/run/postgresql -U postgres -d postgres -qc \
      "CREATE ROLE nautobot LOGIN CREATEDB PASSWORD 'nautobot'" >/dev/null
  fi
}

# ---- venv and config ------------------------------------------------------------------------------------
ensure_venv() {
  mkdir -p "$NAUTOBOT_ROOT"
  cat >"$NAUTOBOT_CONFIG" <<'EOF'
# Written by scripts/nautobot.sh: everything else comes from NAUTOBOT_* environment variables.
import os
from nautobot.core.settings import *  # noqa: F401,F403
from nautobot.core.settings_funcs import parse_redis_connection
SECRET_KEY = os.environ["NAUTOBOT_SECRET_KEY"]
# Redis DBs of this version (scripts/nautobot.sh): the Celery broker, then the Django cache, so two
# versions running side by side never read each other's cached custom fields.
_redis_db = int(os.environ.get("NBSYNC_REDIS_DB", "0"))
CELERY_BROKER_URL = parse_redis_connection(redis_database=_redis_db)
CACHES["default"]["LOCATION"] = parse_redis_connection(redis_database=_redis_db + 1)  # noqa: F405
EOF
  [[ -x $VENV/bin/nautobot-server ]] && return 0
  local tmp py
  py=$(python_bin)
  tmp=$(mktemp -d "$CACHE/venv-$VERSION.partial.XXXXXX")
  log "installing nautobot==$VERSION into a new venv (about a minute)"
  "$py" -m venv "$tmp"
  "$tmp/bin/pip" install -q --upgrade pip wheel
  "$tmp/bin/pip" install -q "nautobot==$VERSION"
  # A venv's scripts carry its path in their #! line; point them at the final place, then move there.
  grep -lI "^#!$tmp/" "$tmp"/bin/* | xargs sed -i "1s|^#!$tmp/|#!$VENV/|"
  rm -rf "$VENV"
  mv "$tmp" "$VENV"
  rm -rf "$CACHE"/venv-"$VERSION".partial.*
}

manage() { "$VENV/bin/nautobot-server" "$@"; }

# The web UI's CSS, JavaScript and images (about 160 MB, 5 s): once per version, skipped when stamped.
ensure_static() {
  [[ -f $STATIC_STAMP ]] && return 0
  log "collecting the web UI's static files into $STATIC_ROOT (once per version)"
  manage collectstatic --no-input >"$CACHE/collectstatic.log" 2>&1 ||
    { tail -n 30 "$CACHE/collectstatic.log" >&2; die "collectstatic failed (log: $CACHE/collectstatic.log)"; }
  touch "$STATIC_STAMP"
}

# ---- databases ------------------------------------------------------------------------------------------
# The template is built under a temporary name and renamed when complete; its comment records the version.
ensure_template() {
  [[ $(sql "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '$TEMPLATE'") \
    == "nautobot $VERSION" ]] && return 0
  local tmp=${TEMPLATE}_partial dump=""
  sql "DROP DATABASE IF EXISTS $tmp WITH (FORCE)"
  createdb "$tmp"
  if [[ -f $SEED_DUMP ]]; then dump=$SEED_DUMP; elif [[ -f $CACHED_DUMP ]]; then dump=$CACHED_DUMP; fi
  if [[ -n $dump ]]; then
    log "restoring template DB from $dump"
    pg_restore --no-owner --exit-on-error -d "$tmp" "$dump"
  else
    log "no seed dump: running migrate (about 5 minutes on a slow machine)"
    NAUTOBOT_DB_NAME=$tmp manage migrate >"$CACHE/migrate.log" 2>&1 ||
      { tail -n 30 "$CACHE/migrate.log" >&2; die "migrate failed (log: $CACHE/migrate.log)"; }
    DJANGO_SUPERUSER_PASSWORD=admin NAUTOBOT_DB_NAME=$tmp manage createsuperuser --noinput \
      --username admin --email admin@example.com >/dev/null
    NAUTOBOT_DB_NAME=$tmp manage shell --command="
from nautobot.users.models import Token, User
Token.objects.get_or_create(user=User.objects.get(username='admin'),
    key='$TOKEN', defaults={'description': 'test token'})" >/dev/null
    pg_dump -Fc -f "$CACHED_DUMP.tmp" "$tmp" && mv "$CACHED_DUMP.tmp" "$CACHED_DUMP"
    log "snapshot written to $CACHED_DUMP"
  fi
  sql "DROP DATABASE IF EXISTS $TEMPLATE WITH (FORCE)"
  sql "ALTER DATABASE $tmp RENAME TO $TEMPLATE"
  sql "COMMENT ON DATABASE $TEMPLATE IS 'nautobot $VERSION'"
}

recreate_db() {
  sql "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
  createdb -T "$TEMPLATE" "$DB"
  redis-cli -h 127.0.0.1 -n "$REDIS_DB" flushdb >/dev/null  # Celery queue
  redis-cli -h 127.0.0.1 -n $((REDIS_DB + 1)) flushdb >/dev/null  # Django cache (custom fields of the old DB)
}

# ---- uWSGI ----------------------------------------------------------------------------------------------
start_uwsgi() {
  log "starting uWSGI on 127.0.0.1:$PORT (log: $LOG)"
  setsid nohup "$VENV/bin/nautobot-server" start --http11-socket="127.0.0.1:$PORT" --master \
    --processes=2 --threads=2 --enable-threads --die-on-term --vacuum --buffer-size=32768 \
    --harakiri=300 --disable-logging >"$LOG" 2>&1 </dev/null 9>&- &
  echo $! >"$PIDFILE"
}

wait_healthy() {
  local deadline=$((SECONDS + START_TIMEOUT))
  until healthy; do
    if ! uwsgi_pid >/dev/null || ((SECONDS >= deadline)); then
      tail -n 40 "$LOG" >&2 || true
      log "Nautobot did not become healthy at $URL/health/ within ${START_TIMEOUT}s (log: $LOG)"
      return 1
    fi
    sleep 0.2
  done
}

# Starts uWSGI and waits for health; on a loaded machine a start can stall or a worker die
# while Django loads, so one failed start is retried from scratch before giving up.
start_healthy() {
  start_uwsgi
  wait_healthy && return 0
  log "restarting uWSGI once"
  stop_uwsgi
  start_uwsgi
  wait_healthy || die "Nautobot did not become healthy at $URL/health/ (log: $LOG)"
}

stop_uwsgi() {
  local pid
  pid=$(uwsgi_pid) || { rm -f "$PIDFILE"; return 0; }
  log "stopping uWSGI (pid $pid)"
  # A test server has nothing to drain, and uWSGI takes 2-5 s over SIGINT/SIGTERM: kill master and workers.
  # shellcheck disable=SC2046  # one pid per word
  kill -KILL "$pid" $(pgrep -P "$pid") 2>/dev/null || true
  for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
  rm -f "$PIDFILE"
}

print_info() {
  local version_env=""
  [[ $VERSION == "$DEFAULT_VERSION" ]] || version_env="NAUTOBOT_VERSION=$VERSION "
  cat <<EOF
Nautobot $VERSION is up: $URL
  web UI:      $URL/   (static files from $STATIC_ROOT)
  API token:   $TOKEN   (header: Authorization: Token $TOKEN)
  admin login: admin / admin
  eval "\$(${version_env}$0 env)"   exports NAUTOBOT_URL and NAUTOBOT_TOKEN
EOF
}

# ---- commands -------------------------------------------------------------------------------------------
cmd_up() {
  # a running uWSGI serves the static files as soon as they are collected: no restart for them
  if healthy && static_served; then print_info; return 0; fi
  install_packages
  start_services
  ensure_venv
  ensure_static
  ensure_template
  if ! db_exists "$DB"; then stop_uwsgi; recreate_db; fi  # never swap the DB under a running server
  if uwsgi_pid >/dev/null; then wait_healthy || die "Nautobot did not become healthy at $URL/health/"; else start_healthy; fi
  print_info
}

cmd_reset() {
  stop_uwsgi
  install_packages
  start_services
  ensure_venv
  ensure_static
  ensure_template
  recreate_db
  start_healthy
  print_info
}

# The upgrade a Nautobot admin does (`nautobot-server migrate` over the old release's database), on a copy of
# another version's test DB, so both versions stay usable. That version's server keeps running; its open
# connections are closed for the copy (Django reconnects on its next request).
cmd_upgrade_from() {
  local from=${1:-} source
  [[ $from =~ ^[0-9]+\.[0-9]+\.[0-9]+$ && $from != "$VERSION" ]] ||
    die "usage: NAUTOBOT_VERSION=<to> $0 upgrade-from <from>, two different versions like 2.4.44"
  if [[ $from == "$DEFAULT_VERSION" ]]; then source=nautobot; else source=nautobot_${from//./_}; fi
  start_services
  db_exists "$source" || die "no test DB of Nautobot $from ($source): run NAUTOBOT_VERSION=$from $0 up first"
  ensure_venv
  ensure_static
  stop_uwsgi
  sql "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
  local attempt
  for attempt in 1 2 3 4 5; do  # the other server may reconnect between the two
    sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$source'" >/dev/null
    createdb -T "$source" "$DB" 2>/dev/null && break
    ((attempt < 5)) || die "could not copy $source (still in use)"
    sleep 1
  done
  log "migrating the copy of Nautobot $from's DB to $VERSION (log: $CACHE/upgrade.log)"
  manage migrate >"$CACHE/upgrade.log" 2>&1 ||
    { tail -n 30 "$CACHE/upgrade.log" >&2; die "migrate failed (log: $CACHE/upgrade.log)"; }
  redis-cli -h 127.0.0.1 -n "$REDIS_DB" flushdb >/dev/null
  redis-cli -h 127.0.0.1 -n $((REDIS_DB + 1)) flushdb >/dev/null
  start_healthy
  print_info
}

cmd_down() {
  stop_uwsgi
  [[ ${1:-} == --all ]] || return 0
  if redis_up; then log "stopping Redis"; redis-cli -h 127.0.0.1 shutdown nosave >/dev/null || true; fi
  if pg_up; then
    log "stopping PostgreSQL"
    pg_lsclusters -h | while read -r ver name _; do pg_ctlcluster "$ver" "$name" stop || true; done
  fi
}

cmd_status() {
  local pid
  pg_up && echo "postgresql: up" || echo "postgresql: down"
  redis_up && echo "redis:      up" || echo "redis:      down"
  [[ -x $VENV/bin/nautobot-server ]] && echo "venv:       $VENV" || echo "venv:       missing"
  if pg_up && sql 'SELECT 1' >/dev/null 2>&1; then
    db_exists "$TEMPLATE" && echo "template:   $TEMPLATE present" || echo "template:   $TEMPLATE missing"
    db_exists "$DB" && echo "database:   $DB present" || echo "database:   $DB missing"
  fi
  pid=$(uwsgi_pid) && echo "uwsgi:      running (pid $pid)" || echo "uwsgi:      not running"
  [[ -f $STATIC_STAMP ]] && echo "static:     collected in $STATIC_ROOT" || echo "static:     not collected"
  if healthy; then
    echo "nautobot:   healthy at $URL"
    static_served && echo "web UI:     static files served at $URL/static/" || echo "web UI:     static files NOT served"
  else echo "nautobot:   NOT healthy at $URL"; return 1; fi
}

cmd_env() {
  printf 'export NAUTOBOT_URL=%s\nexport NAUTOBOT_TOKEN=%s\n' "$URL" "$TOKEN"
}

main() {
  local cmd=${1:-}
  [[ $# -gt 0 ]] && shift
  case $cmd in
    env) cmd_env; return ;;
    status) cmd_status; return ;;
    up | down | reset) ;;
    upgrade-from) cmd=upgrade_from ;;
    *) echo "usage: $0 up | down [--all] | reset | upgrade-from <version> | status | env" >&2; exit 2 ;;
  esac
  mkdir -p "$CACHE"
  exec 9>"$CACHE/lock"  # one up/down/reset at a time on this machine
  flock 9
  "cmd_$cmd" "$@"
}

main "$@"
