#!/usr/bin/env bash
# npm run dev: Plateau on one machine, with a demo.
#
#   1. brings Postgres, Redis and S3 up and migrates (scripts/stack.sh up);
#   2. makes the tenant "dev" and its API key, and the admin key (scripts/dev-tenant.ts): PLATEAU_API_KEY
#      and ADMIN_API_KEY from the environment when set, else kept from or generated into .stack/api-key
#      and .stack/admin-key (mode 600); prints the tenant's key;
#   3. builds the dashboard (apps/dashboard/dist, served by the API at /), starts the API (with that
#      ADMIN_API_KEY) and one worker in the background, logs in
#      .stack/logs/{api,worker}.log;
#   4. waits for /readyz, submits examples/iris-plateau.json with the CLI and follows it to the end
#      (epochs, loss, val_loss, lr, callback decisions, then the best checkpoint's model_url);
#   5. keeps the API and the worker running until Ctrl-C stops both, showing their logs one short colored
#      line each (scripts/dev-log.ts: a request as method, URL, status and time); the files keep the JSON.
#
# Settings come from the environment like everywhere else (API_PORT, WORKER_CONCURRENCY, ...; see the
# README's configuration table). The CLI is pointed at this API through PLATEAU_API_URL and given the
# dev tenant's key through PLATEAU_API_KEY (by itself it reads .stack/api-key for a local API).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LOG_DIR="$ROOT/.stack/logs"
TSX="$ROOT/node_modules/.bin/tsx"
EXAMPLE="examples/iris-plateau.json"
READY_TIMEOUT_S=60

say() { printf '\033[1mdev:\033[0m %s\n' "$*"; }
die() {
  say "$*" >&2
  exit 1
}

[[ -x "$TSX" ]] || die "dependencies are not installed: run npm ci first"
mkdir -p "$LOG_DIR"

bash scripts/stack.sh up
eval "$(bash scripts/stack.sh env)"
export PLATEAU_API_URL="${PLATEAU_API_URL:-http://${API_HOST:-127.0.0.1}:${API_PORT:-8080}}"
API="$PLATEAU_API_URL"

say "tenant and keys"
"$TSX" scripts/dev-tenant.ts || die "could not set up the dev tenant and its keys (above)"
ADMIN_API_KEY="$(cat .stack/admin-key)"
PLATEAU_API_KEY="$(cat .stack/api-key)"
export ADMIN_API_KEY PLATEAU_API_KEY

children=()
stopping=0
any_alive() {
  local pid
  for pid in "${children[@]}"; do kill -0 "$pid" 2>/dev/null && return 0; done
  return 1
}
# Stops what this script started: SIGTERM lets the API finish its requests and the worker hand its job
# back; anything still alive after the grace period is killed.
cleanup() {
  ((stopping)) && return
  stopping=1
  trap - INT TERM
  ((${#children[@]})) || return 0
  say "stopping the API and the worker"
  kill -TERM "${children[@]}" 2>/dev/null || true
  local i
  # The worker gives a running job 20 s to finish before it hands it back.
  for i in $(seq 1 50); do
    any_alive || break
    sleep 0.5
  done
  kill -KILL "${children[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  say "stopped (the stack keeps running; bash scripts/stack.sh down stops it)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# name, then the command; its output goes to .stack/logs/<name>.log.
start() {
  local name="$1"
  shift
  : >"$LOG_DIR/$name.log"
  "$@" >>"$LOG_DIR/$name.log" 2>&1 &
  children+=("$!")
  say "started $name (pid $!), log: .stack/logs/$name.log"
}

say "building the dashboard (served by the API at /)"
"$ROOT/node_modules/.bin/vite" build apps/dashboard || die "could not build the dashboard (above)"

start api "$TSX" apps/api/src/main.ts
API_PID="${children[0]}"
start worker "$TSX" apps/worker/src/main.ts
WORKER_PID="${children[1]}"

ready() { node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$API/readyz"; }

say "waiting for $API/readyz"
for ((i = 0; i < READY_TIMEOUT_S * 2; i++)); do
  ready && break
  kill -0 "$API_PID" 2>/dev/null || {
    tail -n 20 "$LOG_DIR/api.log" >&2
    if grep -q EADDRINUSE "$LOG_DIR/api.log"; then
      die "port ${API_PORT:-8080} is taken (another npm run dev?): stop that, or set API_PORT"
    fi
    die "the API exited during start-up (above: the end of .stack/logs/api.log)"
  }
  sleep 0.5
done
ready || die "the API was not ready within ${READY_TIMEOUT_S} s: see .stack/logs/api.log and curl $API/readyz"
kill -0 "$WORKER_PID" 2>/dev/null || {
  tail -n 20 "$LOG_DIR/worker.log" >&2
  die "the worker exited during start-up (above: the end of .stack/logs/worker.log)"
}

cli() { "$TSX" apps/cli/src/main.ts "$@"; }

say "submitting $EXAMPLE"
JOB_ID="$(cli --json submit "$EXAMPLE" | node -e 'let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => console.log(JSON.parse(s).id))')"
cli follow "$JOB_ID" || {
  status=$?
  ((status != 130)) || exit 130 # Ctrl-C while following
  say "the demo job did not succeed: npm run cli -- status $JOB_ID, and .stack/logs/worker.log"
}

cat <<EOF

Plateau is running:
  API     $API (OpenAPI document: $API/openapi.json), log: .stack/logs/api.log
  UI      $API/ — the dashboard; sign in with the tenant key below
  worker  pid $WORKER_PID, log: .stack/logs/worker.log
  keys    tenant "dev": $PLATEAU_API_KEY (in .stack/api-key); admin: .stack/admin-key

Try (every /v1 request carries the dev tenant's key; the CLI finds it in .stack/api-key):
  export PLATEAU_API_KEY=\$(cat .stack/api-key)
  curl -s -H "Authorization: Bearer \$PLATEAU_API_KEY" $API/v1/jobs/$JOB_ID
  curl -s -H "Authorization: Bearer \$PLATEAU_API_KEY" "$API/v1/jobs/$JOB_ID/metrics?after=0&limit=5"
  curl -N -H "Authorization: Bearer \$PLATEAU_API_KEY" $API/v1/jobs/$JOB_ID/events
  curl -s -H "Authorization: Bearer \$PLATEAU_API_KEY" $API/v1/jobs/$JOB_ID/checkpoints/best
  curl -s -H "Authorization: Bearer \$PLATEAU_API_KEY" -X POST $API/v1/jobs -H 'content-type: application/json' -d @$EXAMPLE
  npm run cli -- submit $EXAMPLE --follow
  npm run cli -- tenants create team-a       # then keys create --tenant <id>; admin commands read .stack/admin-key
  npm run cli -- --help

Ctrl-C stops the API and the worker. Their logs follow, one line each (the JSON is in .stack/logs/).

EOF

# Both logs, one short line each with their process's name, until Ctrl-C or until either process exits.
tail -n 0 -F "$LOG_DIR/api.log" "$LOG_DIR/worker.log" 2>/dev/null > >("$TSX" scripts/dev-log.ts) &
children+=("$!")
while kill -0 "$API_PID" 2>/dev/null && kill -0 "$WORKER_PID" 2>/dev/null; do sleep 1; done
# Ctrl-C reaches the API and the worker too, and they may exit before this shell runs its trap: give
# the trap its turn before calling the exit unexpected.
sleep 1
say "the API or the worker exited on its own; see .stack/logs/"
