#!/usr/bin/env bash
# npm run worker: one more worker process against the stack `npm run dev` brought up — as an operator adds
# a machine. Every setting comes from the environment (README's configuration table); what the
# environment leaves out is the local stack's (scripts/stack.sh env). Start as many as the machine has
# cores for; Ctrl-C (or SIGTERM) hands a running job back to the queue, where another worker resumes it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[[ -x "$ROOT/node_modules/.bin/tsx" ]] || {
  echo "worker: dependencies are not installed: run npm ci first" >&2
  exit 1
}
eval "$(bash scripts/stack.sh env)"
exec "$ROOT/node_modules/.bin/tsx" apps/worker/src/main.ts
