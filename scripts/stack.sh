#!/usr/bin/env bash
# Makes Postgres, Redis and S3 available for Plateau and says where they are.
#
#   bash scripts/stack.sh up [postgres] [redis] [s3]   start what is missing (default: all three),
#                                                      then create the database and migrate it
#   bash scripts/stack.sh env                          print export lines: eval "$(bash scripts/stack.sh env)"
#   bash scripts/stack.sh down                         stop what `up` started (s3rver, or the compose services)
#
# Order of preference, per service:
#   1. a URL already in the environment (DATABASE_URL, REDIS_URL, S3_ENDPOINT + S3_* keys);
#   2. a Docker daemon that answers: `docker compose up -d --wait postgres redis minio`;
#   3. local services: Postgres on 127.0.0.1:5432 (trust auth, user postgres) and Redis on
#      127.0.0.1:6379 — started when installed but stopped, installed from Debian's packages when
#      missing and we are root — and S3 from s3rver on 127.0.0.1:4569 with data in .stack/s3.
# Machine services that were already running are left running by `down`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK_DIR="$ROOT/.stack"
S3RVER_PORT=4569
S3RVER_PID="$STACK_DIR/s3rver.pid"
LOCAL_DATABASE_URL="postgresql://postgres@127.0.0.1:5432/plateau"
LOCAL_REDIS_URL="redis://127.0.0.1:6379"
# Keep in step with the minio service in docker-compose.yml.
MINIO_USER="plateau"
MINIO_PASSWORD="plateau-secret"
# The compose postgres requires a password (POSTGRES_PASSWORD); these stores serve development and tests.
COMPOSE_POSTGRES_PASSWORD="${POSTGRES_PASSWORD:-plateau-dev}"

log() { echo "stack: $*" >&2; }
die() {
  log "$*"
  exit 1
}

docker_answers() {
  command -v docker >/dev/null 2>&1 && timeout 5 docker info >/dev/null 2>&1
}

# Compose interpolates the whole file, including the api's required ADMIN_API_KEY, even to start or
# stop only the stores; this script never starts the api, so a placeholder stands in when it is unset.
compose() {
  local admin="${ADMIN_API_KEY:-unused-by-stack-sh-which-starts-only-the-stores}"
  if docker compose version >/dev/null 2>&1; then
    ADMIN_API_KEY="$admin" POSTGRES_PASSWORD="$COMPOSE_POSTGRES_PASSWORD" docker compose -f "$ROOT/docker-compose.yml" "$@"
  elif command -v docker-compose >/dev/null 2>&1; then
    ADMIN_API_KEY="$admin" POSTGRES_PASSWORD="$COMPOSE_POSTGRES_PASSWORD" docker-compose -f "$ROOT/docker-compose.yml" "$@"
  else
    die "a Docker daemon answers but neither 'docker compose' nor 'docker-compose' is installed"
  fi
}

# mode: env (all three URLs given), docker, or local.
mode() {
  if [[ -n "${DATABASE_URL:-}" && -n "${REDIS_URL:-}" && -n "${S3_ENDPOINT:-}" ]]; then
    echo env
  elif docker_answers; then
    echo docker
  else
    echo local
  fi
}

print_env() {
  local m
  m="$(mode)"
  local s3_default_endpoint="http://127.0.0.1:$S3RVER_PORT" key="S3RVER" secret="S3RVER"
  local database_url="$LOCAL_DATABASE_URL"
  if [[ "$m" == docker ]]; then
    s3_default_endpoint="http://127.0.0.1:9000" key="$MINIO_USER" secret="$MINIO_PASSWORD"
    database_url="postgresql://postgres:$COMPOSE_POSTGRES_PASSWORD@127.0.0.1:5432/plateau"
  fi
  local line
  for line in \
    "DATABASE_URL=${DATABASE_URL:-$database_url}" \
    "REDIS_URL=${REDIS_URL:-$LOCAL_REDIS_URL}" \
    "S3_ENDPOINT=${S3_ENDPOINT:-$s3_default_endpoint}" \
    "S3_ACCESS_KEY_ID=${S3_ACCESS_KEY_ID:-$key}" \
    "S3_SECRET_ACCESS_KEY=${S3_SECRET_ACCESS_KEY:-$secret}" \
    "S3_REGION=${S3_REGION:-us-east-1}" \
    "S3_BUCKET=${S3_BUCKET:-plateau}" \
    "S3_FORCE_PATH_STYLE=${S3_FORCE_PATH_STYLE:-true}"; do
    printf 'export %s=%q\n' "${line%%=*}" "${line#*=}"
  done
}

postgres_listening() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_listening() { [[ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" == PONG ]]; }

wait_for() {
  local what="$1" check="$2" i
  for i in $(seq 1 60); do
    if "$check"; then return 0; fi
    sleep 0.5
  done
  die "$what did not come up within 30 s"
}

apt_install() {
  [[ "$(id -u)" == 0 ]] || die "$* is not installed; install it (apt-get install -y $*) or set the URL in the environment"
  log "installing $* from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

start_postgres() {
  if postgres_listening; then return 0; fi
  if [[ -z "$(ls /etc/postgresql 2>/dev/null)" ]]; then
    apt_install postgresql
    # A fresh Debian cluster asks for a password on TCP; Plateau's local URLs use trust on loopback.
    local hba
    hba="$(ls /etc/postgresql/*/main/pg_hba.conf | head -n1)"
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  fi
  local version
  version="$(ls /etc/postgresql | sort -V | tail -n1)"
  log "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2
  wait_for PostgreSQL postgres_listening
}

start_redis() {
  if redis_listening; then return 0; fi
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  local dir=/var/lib/redis logfile=/var/log/redis/ci.log
  if [[ ! -w "$dir" ]]; then
    dir="$STACK_DIR/redis" logfile="$STACK_DIR/redis.log"
    mkdir -p "$dir"
  fi
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir "$dir" --logfile "$logfile" >&2
  wait_for Redis redis_listening
}

s3rver_running() { [[ -f "$S3RVER_PID" ]] && kill -0 "$(cat "$S3RVER_PID")" 2>/dev/null; }
s3rver_ready() { grep -q "s3rver listening" "$STACK_DIR/s3rver.log" 2>/dev/null; }

start_s3rver() {
  if s3rver_running; then return 0; fi
  [[ -d "$ROOT/node_modules/s3rver" ]] || die "s3rver is not installed: run npm ci first"
  mkdir -p "$STACK_DIR/s3"
  : >"$STACK_DIR/s3rver.log"
  log "starting s3rver on 127.0.0.1:$S3RVER_PORT (data in .stack/s3)"
  nohup node --openssl-legacy-provider "$ROOT/scripts/s3rver.mjs" --directory "$STACK_DIR/s3" \
    --port "$S3RVER_PORT" --address 127.0.0.1 >"$STACK_DIR/s3rver.log" 2>&1 </dev/null &
  echo $! >"$S3RVER_PID"
  wait_for s3rver s3rver_ready
}

migrate() {
  if [[ ! -x "$ROOT/node_modules/.bin/tsx" ]]; then
    log "dependencies not installed yet: skipping migration (run npm ci, then npm run migrate)"
    return 0
  fi
  log "migrating ${DATABASE_URL%%\?*}"
  (cd "$ROOT" && npm run -s migrate >&2)
}

up() {
  local services=("$@")
  [[ ${#services[@]} -gt 0 ]] || services=(postgres redis s3)
  mkdir -p "$STACK_DIR"
  local m
  m="$(mode)"
  case "$m" in
  env) log "using the URLs in the environment" ;;
  docker)
    local names=() s
    for s in "${services[@]}"; do
      case "$s" in
      postgres) [[ -n "${DATABASE_URL:-}" ]] || names+=(postgres) ;;
      redis) [[ -n "${REDIS_URL:-}" ]] || names+=(redis) ;;
      s3) [[ -n "${S3_ENDPOINT:-}" ]] || names+=(minio) ;;
      *) die "unknown service '$s' (postgres, redis, s3)" ;;
      esac
    done
    log "starting ${names[*]} with docker compose"
    [[ ${#names[@]} -eq 0 ]] || compose up -d --wait "${names[@]}" >&2
    ;;
  local)
    local s
    for s in "${services[@]}"; do
      case "$s" in
      postgres) [[ -n "${DATABASE_URL:-}" ]] || start_postgres ;;
      redis) [[ -n "${REDIS_URL:-}" ]] || start_redis ;;
      s3) [[ -n "${S3_ENDPOINT:-}" ]] || start_s3rver ;;
      *) die "unknown service '$s' (postgres, redis, s3)" ;;
      esac
    done
    ;;
  esac
  eval "$(print_env)"
  if [[ " ${services[*]} " == *" postgres "* ]]; then migrate; fi
  log "ready ($m): DATABASE_URL=${DATABASE_URL%%\?*} REDIS_URL=$REDIS_URL S3_ENDPOINT=$S3_ENDPOINT"
}

down() {
  if s3rver_running; then
    log "stopping s3rver"
    kill "$(cat "$S3RVER_PID")"
  fi
  rm -f "$S3RVER_PID"
  if docker_answers && [[ -f "$ROOT/docker-compose.yml" ]]; then compose down >&2; fi
}

case "${1:-}" in
up)
  shift
  up "$@"
  ;;
env) print_env ;;
down) down ;;
*) die "usage: bash scripts/stack.sh up [postgres] [redis] [s3] | env | down" ;;
esac
