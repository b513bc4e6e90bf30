#!/usr/bin/env bash
# Installs the Debian packages the test suite drives as real clients, when missing:
#   chromium      headless browser for sign-in/consent page tests (driven by playwright-core)
#   python3-msal  Microsoft's Python MSAL, unmodified
#   azure-cli     az, the proxy tests' unmodified Azure CLI (sign-in, tokens, az rest, az ad through orgbox's proxy)
#   postgresql    the server binaries (initdb, pg_ctl) the PostgreSQL store tests start a throwaway server with
# Runs as `pretest`, so the README's test command (`npm ci && npm test`) needs nothing else.
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
/usr/bin/python3 -c 'import msal' >/dev/null 2>&1 || need+=(python3-msal)
command -v az >/dev/null 2>&1 || need+=(azure-cli)
command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && exit 0
echo "orgbox tests: installing Debian packages: ${need[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
