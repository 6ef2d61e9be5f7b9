#!/usr/bin/env bash
# Throughput of mfad's hot paths, SQLite and PostgreSQL side by side in one run, with wrk on
# 127.0.0.1. Prints requests/s and latency per case and the PostgreSQL/SQLite ratio.
# Usage: scripts/bench.sh [SECONDS per case, default 10]. Absolute figures on a shared machine
# are noise; compare the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
pg_url=${MFA_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}

command -v wrk >/dev/null || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo; $sudo apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p mfad -p mfac
bin=target/release
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# Sets up one installation (clients, app, server token) and starts mfad; echoes "URL TOKEN".
start() {
  local name=$1 db=$2 dir="$work/$1"
  mkdir -p "$dir"
  cat > "$dir/mfad.toml" <<TOML
listen = "127.0.0.1:0"
data_dir = "$dir/data"
log = "warn,mfad=info"
max_failed_attempts = 1000
${db:+database_url = \"$db\"}
TOML
  chmod 600 "$dir/mfad.toml"  # mfad and mfac refuse a config others can read
  local mfac=("$bin/mfac" --config "$dir/mfad.toml")
  "${mfac[@]}" client add tux --json >/dev/null
  "${mfac[@]}" app add --user tux --host linux.example.org --service sshd --client tux --methods push,totp >/dev/null
  local token
  token=$("${mfac[@]}" server add bench --hosts '*' --json | sed -n 's/.*"api_token": "\(.*\)".*/\1/p')
  "$bin/mfad" --config "$dir/mfad.toml" 2> "$dir/log" &
  pids+=($!)
  for _ in $(seq 1 100); do grep -q "listen=" "$dir/log" && break; sleep 0.1; done
  local addr
  addr=$(sed -n 's/.*listen=\([^ ]*\).*/\1/p' "$dir/log" | head -1)
  echo "http://$addr $token"
}

# A fresh schema so runs don't see each other's data.
schema="mfa_bench_$$"
pg=""
if psql -q "$pg_url" -c "CREATE SCHEMA $schema" >/dev/null 2>&1; then
  pg="$pg_url?options=-c%20search_path%3D$schema"
  trap 'cleanup; psql -q "$pg_url" -c "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1' EXIT
else
  echo "PostgreSQL at $pg_url not reachable: benchmarking SQLite only"
fi

declare -A rps lat
run() {
  local backend=$1 case=$2 url=$3 token=$4 out
  case $case in
    healthz) out=$(wrk -t2 -c16 -d"${secs}s" --latency "$url/healthz") ;;
    preauth) out=$(MFA_BENCH_TOKEN=$token wrk -t2 -c16 -d"${secs}s" --latency -s scripts/bench/preauth.lua "$url/v1/preauth") ;;
  esac
  if echo "$out" | grep -q "Non-2xx"; then echo "$out"; echo "bench $backend $case: errors" >&2; exit 1; fi
  rps[$backend.$case]=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  lat[$backend.$case]=$(echo "$out" | awk '/ 50%/ {p50=$2} / 99%/ {p99=$2} END {print p50 " / " p99}')
}

read -r sq_url sq_token < <(start sqlite "")
backends=(sqlite)
if [ -n "$pg" ]; then read -r pg_url_live pg_token < <(start postgres "$pg"); backends+=(postgres); fi
for c in healthz preauth; do
  run sqlite "$c" "$sq_url" "$sq_token"
  [ -n "$pg" ] && run postgres "$c" "$pg_url_live" "$pg_token"
done

printf '\n%-10s %-9s %12s %22s\n' case backend "requests/s" "latency p50 / p99"
for c in healthz preauth; do
  for b in "${backends[@]}"; do
    printf '%-10s %-9s %12s %22s\n' "$c" "$b" "${rps[$b.$c]}" "${lat[$b.$c]}"
  done
  if [ -n "$pg" ]; then
    awk -v p="${rps[postgres.$c]}" -v s="${rps[sqlite.$c]}" -v c="$c" 'BEGIN {printf "%-10s postgres/sqlite throughput ratio: %.2f\n", c, p/s}'
  fi
done
echo "(2 wrk threads, 16 connections, ${secs}s per case, $(nproc) cores shared with mfad)"
