#!/usr/bin/env bash
# Runs the whole mfa test suite on a fresh Debian machine: installs the Debian packages the tests
# drive (oathtool, pamtester, libpam0g-dev, libpam-google-authenticator, python3-pskc, chromium,
# tmux, nginx, wrk, groff, zsh, fish, systemd), makes sure PostgreSQL answers when MFA_TEST_POSTGRES_URL names it, then lints and
# runs every test, and builds, installs and purges the Debian package (as root).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }

# --- Debian packages the tests use -------------------------------------------------------------
# python3-venv: the OpenAPI validator is installed into a venv under target/ (PEP 668).
# g++: libFuzzer (the fuzz smoke) is C++.
# nginx, wrk: the bench's smoke test (crates/mfa-bench/tests/smoke.rs) runs its ceiling rows too.
# groff-base, man-db, zsh, fish: the man pages and completions (crates/mfa-docgen/tests/gen_docs.rs).
# systemd: systemd-analyze verify checks the packaged unit (scripts/deb-test.sh); it is not started.
# libpam-google-authenticator: its google-authenticator tool writes the files `mfac import
# google-authenticator` reads (crates/pam-mfa/tests/pamtester/imports.rs).
# python3-pskc: writes the PSKC containers `mfac import pskc` reads (crates/mfad/tests/daemon/pskc.rs).
packages=(g++ oathtool pamtester libpam0g-dev libpam-google-authenticator python3-pskc openssl socat tmux chromium chromium-driver curl python3 python3-venv nginx wrk groff-base man-db zsh fish systemd)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- PostgreSQL --------------------------------------------------------------------------------
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if [ -z "${MFA_TEST_POSTGRES_URL:-}" ] && command -v pg_isready >/dev/null && pg_up; then
  export MFA_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/test"
fi
if [ -n "${MFA_TEST_POSTGRES_URL:-}" ]; then
  if ! pg_up && command -v pg_ctlcluster >/dev/null; then
    say "starting PostgreSQL"
    for v in /etc/postgresql/*; do pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start || true; done
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
  say "PostgreSQL tests run against ${MFA_TEST_POSTGRES_URL}"
  # The per-test schemas of earlier runs (the API suite keeps its schemas until here).
  drop_test_schemas() {
    psql -q "$MFA_TEST_POSTGRES_URL" -Atc \
      "SELECT 'DROP SCHEMA ' || nspname || ' CASCADE;' FROM pg_namespace WHERE nspname LIKE 'mfa_test_%'" 2>/dev/null \
      | psql -q "$MFA_TEST_POSTGRES_URL" >/dev/null 2>&1 || true
  }
  drop_test_schemas
  trap drop_test_schemas EXIT
  pg_note="PostgreSQL: tested against ${MFA_TEST_POSTGRES_URL}"
else
  pg_note="PostgreSQL: SKIPPED - MFA_TEST_POSTGRES_URL is not set and no server answers on 127.0.0.1:5432; only SQLite was tested"
  say "$pg_note"
fi

# --- Duo's real clients (crates/mfa-duo/tests) -------------------------------------------------
# Debian's login_duo, libduo3 and libpam-duo (1.11.3), unpacked under target/ (not installed),
# and duo_client from PyPI in a venv under target/: prepared here, once, so that the tests that
# use them in parallel never race to fetch them.
peers=target/duo-peers
if [ ! -e "$peers/root/usr/sbin/login_duo" ] || [ ! -e "$peers/root/lib/x86_64-linux-gnu/security/pam_duo.so" ]; then
  say "Duo's clients: apt-get download login-duo libduo3 libpam-duo into $peers"
  rm -rf "$peers" && mkdir -p "$peers"
  fetch_duo() { (cd "$peers" && apt-get download -q login-duo libduo3 libpam-duo >/dev/null 2>&1); }
  fetch_duo || { $sudo apt-get update -qq; fetch_duo; }
  for deb in "$peers"/*.deb; do dpkg-deb -x "$deb" "$peers/root"; done
fi
duo_venv=target/duo-venv
if ! "$duo_venv/bin/python" -c 'import duo_client.client' 2>/dev/null; then
  say "duo_client from PyPI into $duo_venv"
  rm -rf "$duo_venv"
  python3 -m venv "$duo_venv"
  "$duo_venv/bin/python" -m pip install --quiet --disable-pip-version-check 'duo_client>=5,<6'
fi

# --- PSKC peers (crates/mfad/tests/daemon/pskc.rs) ---------------------------------------------
# RFC 6030's Figure 2 as Debian's libpskc-dev ships it (examples/pskc-hotp.xml), unpacked under
# target/ (docs may be left out of an installed package); python3-pskc (installed above) writes
# the containers encrypted with a pre-shared key.
pskc_peers=target/pskc-peers
if [ ! -e "$pskc_peers/usr/share/doc/libpskc-dev/examples/pskc-hotp.xml" ]; then
  say "RFC 6030 examples: apt-get download libpskc-dev into $pskc_peers"
  rm -rf "$pskc_peers" && mkdir -p "$pskc_peers"
  fetch_pskc() { (cd "$pskc_peers" && apt-get download -q libpskc-dev >/dev/null 2>&1); }
  fetch_pskc || { $sudo apt-get update -qq; fetch_pskc; }
  dpkg-deb -x "$pskc_peers"/libpskc-dev_*.deb "$pskc_peers"
fi

# --- lint, build, test -------------------------------------------------------------------------
say "cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
say "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
say "build (the tests run the real binaries and libpam_mfa.so from target/debug)"
cargo build --workspace --quiet
say "tests"
# The browser tests save what chromium showed here, for people to look at.
export MFA_SCREENSHOT_DIR="$PWD/target/screenshots"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
cargo test --workspace --doc --quiet
if [ -n "${MFA_TEST_POSTGRES_URL:-}" ]; then
  say "the HTTP API suite again, on PostgreSQL"
  MFA_TEST_BACKEND=postgres cargo nextest run -p mfa-server --test api --no-fail-fast
fi

# --- fuzzing ------------------------------------------------------------------------------------
say "fuzz smoke: every cargo-fuzz target, about 60 s in all (docs/FUZZING.md)"
scripts/fuzz.sh

# --- the OpenAPI document ----------------------------------------------------------------------
# What GET /openapi.json serves, checked by a real validator (OpenAPI 3.1 needs
# openapi-spec-validator >= 0.6), installed from PyPI into a venv under target/.
say "OpenAPI: mfad openapi > target/openapi.json, validated by openapi-spec-validator"
target/debug/mfad openapi > target/openapi.json
venv=target/openapi-venv
if ! "$venv/bin/python" -c 'import openapi_spec_validator' 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'openapi-spec-validator>=0.7,<1'
fi
"$venv/bin/python" -m openapi_spec_validator target/openapi.json

# --- API fuzzing --------------------------------------------------------------------------------
say "API fuzzing: schemathesis --checks all against the real mfad (scripts/schemathesis.sh)"
scripts/schemathesis.sh

# --- the Debian package -------------------------------------------------------------------------
say "Debian package: build, dpkg -i, TLS, enrol, PAM login, /metrics, purge (scripts/deb-test.sh)"
scripts/deb-test.sh

say "all tests passed. $pg_note"
