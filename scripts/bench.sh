#!/usr/bin/env bash
# mfad's hot paths under load on 127.0.0.1, in one command: builds the release binaries
# (mfad, mfac, mfa-bench) and runs mfa-bench, which starts everything itself with fresh data —
# nginx and wrk for the ceiling, mfad on SQLite and on PostgreSQL (a schema of its own on
# $MFA_TEST_POSTGRES_URL or postgres://postgres@127.0.0.1:5432/test; skipped, and said so, when
# it does not answer), privacyIDEA through scripts/bench/privacyidea.sh when that script is
# there — runs each scenario for a bounded time and prints one table with ratios.
#
# Usage: scripts/bench.sh [--seconds N] [--only ceiling,preauth,verify,reject,auth-totp,push,pending]
#                         [--smoke] [--no-peer] [--json FILE] ...   (mfa-bench --help for all)
#        scripts/bench.sh 5          the same as --seconds 5
# Exits non-zero when any answer was wrong. Absolute figures on a shared machine are noise:
# compare the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for program in wrk nginx; do
  command -v "$program" >/dev/null || [ -x "/usr/sbin/$program" ] || missing+=("$program")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "==> installing ${missing[*]} (Debian)" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cargo build --release -q -p mfad -p mfac -p mfa-bench
bin="${CARGO_TARGET_DIR:-target}/release"
# The old interface: a lone number is the seconds per scenario.
if [ $# -eq 1 ] && [[ $1 =~ ^[0-9]+([.][0-9]+)?$ ]]; then set -- --seconds "$1"; fi
exec "$bin/mfa-bench" --bin-dir "$bin" "$@"
