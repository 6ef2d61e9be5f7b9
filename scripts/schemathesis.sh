#!/usr/bin/env bash
# API fuzzing: schemathesis (PyPI) against the /openapi.json of a real mfad on 127.0.0.1, with a
# valid token of each kind, every check (`--checks all`): no 5xx, every answer matches the
# document, every request the document allows is accepted and every one it forbids is refused.
#
#   scripts/schemathesis.sh                 # the bounded run CI does (about a minute)
#   MFA_SCHEMATHESIS_EXAMPLES=1000 MFA_SCHEMATHESIS_SEED=7 scripts/schemathesis.sh   # a long one
#
# mfad runs from target/debug (build first: cargo build -p mfad -p mfac) on SQLite in
# target/schemathesis/, with lockout limits raised so the bad-token checks (which send wrong and
# missing tokens on purpose) do not lock 127.0.0.1 out and hide the rest. Reports (JUnit, and a
# pytest file reproducing each failure) go to target/schemathesis/report/.
set -euo pipefail
cd "$(dirname "$0")/.."

examples="${MFA_SCHEMATHESIS_EXAMPLES:-40}"
seed="${MFA_SCHEMATHESIS_SEED:-1}"
work="$PWD/target/schemathesis"
venv="$PWD/target/schemathesis-venv"
bin="$PWD/target/debug"
config_toml="$PWD/scripts/schemathesis.toml"

say() { printf '==> %s\n' "$*"; }

if ! "$venv/bin/schemathesis" --version >/dev/null 2>&1; then
  say "installing schemathesis into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'schemathesis>=4.3,<5'
fi

rm -rf "$work"
mkdir -p "$work/data" "$work/report"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
config="$work/mfad.toml"
cat >"$config" <<EOF
listen = "127.0.0.1:$port"
data_dir = "$work/data"
log = "warn"
# Raised for this run only: schemathesis sends bad tokens and links on purpose.
max_failed_attempts = 1000
block_duration = 1
max_block_duration = 1
EOF
chmod 600 "$config"
export MFA_CONFIG="$config"

field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
client_key="$("$bin/mfac" client add tux --notify none --json | field client_key)"
"$bin/mfac" app add --user tux --host '*' --service '*' --client tux --methods push,totp >/dev/null
server_token="$("$bin/mfac" server add fuzz-host --hosts '*' --json | field api_token)"
api_token="$("$bin/mfac" token add fuzz-app --scope otp,vault:read,vault:write --json | field api_token)"

"$bin/mfad" >"$work/mfad.log" 2>&1 &
mfad_pid=$!
trap 'kill "$mfad_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fs "$base/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "$base/openapi.json" -o "$work/openapi.json"

# One run per kind of caller: each tag's operations with the token they take. Where a request
# the document allows may still be refused (rules across fields, a seed handed out once), the
# config file says so and why. The `duo` tag is not run: its calls are signed with an HMAC
# over the whole request (Duo's scheme), which schemathesis cannot make, so every one would be
# a 401; Duo's real clients drive those routes (crates/pam-mfa/tests/pamtester/duo.rs), the api
# tests sign them by hand (crates/mfa-server/tests/api/duo.rs) and the fuzz target duo_request
# covers their parsing.
status=0
run() {
  local name="$1"; shift
  say "schemathesis: $name"
  # From $work: schemathesis keeps a cache (.schemathesis/) in the directory it runs in.
  (cd "$work" && "$venv/bin/schemathesis" --no-color --config-file "$config_toml" run "$base/openapi.json" \
    --checks all --max-examples "$examples" --seed "$seed" --workers 1 \
    --suppress-health-check all --generation-database none \
    --report junit,pytest --report-dir "$work/report/$name" \
    "$@") || status=1
}
run meta --include-tag meta
run approve --include-tag approve
run enrol --include-tag enrol
run admin --include-tag admin
run server --include-tag server -H "Authorization: Bearer $server_token"
# GET /v1/client/ws is a WebSocket upgrade, which schemathesis does not speak: its handshake
# and messages are tested by the api suite (tests/api/websocket.rs) and fuzzed (ws_messages).
run client --include-tag client --exclude-operation-id client_ws -H "Authorization: Bearer $client_key"
run otp --include-tag otp -H "Authorization: Bearer $api_token"
run vault --include-tag vault -H "Authorization: Bearer $api_token"

if ! kill -0 "$mfad_pid" 2>/dev/null; then
  say "mfad died during the run: see $work/mfad.log"
  status=1
fi
if grep -q "panicked" "$work/mfad.log"; then
  say "mfad panicked during the run: see $work/mfad.log"
  status=1
fi
[ "$status" -eq 0 ] && say "schemathesis: no failures" || say "schemathesis: failures above (reports in $work/report)"
exit "$status"
