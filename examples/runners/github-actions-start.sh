#!/usr/bin/env bash
# Starts orgbox in the background for the rest of a GitHub Actions job and exports its URLs.
#   - run: bash examples/runners/github-actions-start.sh examples/isv-multitenant.orgbox.yaml
# Appends ORGBOX_URL, ORGBOX_ORG_URL, ORGBOX_AUTHORITY, NODE_EXTRA_CA_CERTS and ORGBOX_PID to
# $GITHUB_ENV, so later steps see them. ORGBOX_PID is orgbox's own process (from its ready line), not
# npx's: `kill "$ORGBOX_PID"` stops orgbox. Settings: ORGBOX_CMD (default "npx orgbox"),
# ORGBOX_START_TIMEOUT (seconds, default 60), ORGBOX_LOG (default $RUNNER_TEMP/orgbox.log).
set -euo pipefail

config="${1:?usage: github-actions-start.sh ENVIRONMENT_FILE}"
: "${GITHUB_ENV:?GITHUB_ENV is not set (run this inside GitHub Actions, or set it to a file)}"
cmd="${ORGBOX_CMD:-npx orgbox}"
timeout="${ORGBOX_START_TIMEOUT:-60}"
log="${ORGBOX_LOG:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/orgbox.log}"
ready="$log.ready"
: >"$ready"

# shellcheck disable=SC2086 # ORGBOX_CMD may hold a command and its arguments
nohup $cmd start --config "$config" --in-memory --port 0 --json --log-level warn >"$ready" 2>"$log" &
pid=$!

for ((i = 0; i < timeout * 10; i++)); do
  if [[ -s "$ready" ]] && grep -q '"event":"ready"' "$ready"; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "orgbox exited before it was ready:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done
if ! grep -q '"event":"ready"' "$ready"; then
  echo "orgbox was not ready after ${timeout}s:" >&2
  cat "$log" >&2
  kill "$pid" 2>/dev/null || true
  exit 1
fi

# The ready line is one JSON object: read the fields with node (always there in a Node job).
node -e '
  const ready = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8").split("\n")[0]);
  const lines = [`ORGBOX_URL=${ready.url}`, `ORGBOX_ORG_URL=${ready.orgUrl}`, `ORGBOX_AUTHORITY=${ready.authority}`];
  if (ready.caCertPath) lines.push(`NODE_EXTRA_CA_CERTS=${ready.caCertPath}`);
  process.stdout.write(lines.join("\n") + "\n");
' "$ready" >>"$GITHUB_ENV"
# orgbox's own pid, from its ready line: $! is npx's, and killing npx would leave orgbox running.
orgbox_pid="$(node -p 'JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8").split("\n")[0]).pid' "$ready")"
echo "ORGBOX_PID=$orgbox_pid" >>"$GITHUB_ENV"
echo "orgbox is ready (pid $orgbox_pid); log: $log"
