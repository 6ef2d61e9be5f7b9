#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ (docs/FUZZING.md).
#
#   scripts/fuzz.sh                          every target, about 60 s in all (the CI smoke)
#   scripts/fuzz.sh --seconds N [TARGET...]  each named target (default: all) for N seconds
#   scripts/fuzz.sh --list                   the targets
#
# Installs cargo-fuzz into target/tools, builds the targets with the stable toolchain
# (RUSTC_BOOTSTRAP=1 unlocks the -Z flags cargo-fuzz passes) and AddressSanitizer into
# target/fuzz, then runs each one from its committed seeds (fuzz/corpus/TARGET, never written)
# plus what earlier runs found (target/fuzz/corpus/TARGET). A crash is saved in
# fuzz/artifacts/TARGET/ and makes the script fail once every target has run.
# Environment: FUZZ_SANITIZER (address, or none), FUZZ_TOTAL_SECONDS (the smoke's budget, 60).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }

seconds=""
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
    --seconds=*) seconds="${1#--seconds=}"; shift ;;
    --list) sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^mfa-fuzz$'; exit 0 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=($("$0" --list))
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  printf '%s\n' "${all[@]}" | grep -qx "$t" || { echo "no fuzz target $t (--list)" >&2; exit 2; }
done
if [ -z "$seconds" ]; then
  total="${FUZZ_TOTAL_SECONDS:-60}"
  seconds=$(( total / ${#targets[@]} ))
  [ "$seconds" -ge 1 ] || seconds=1
fi
case "$seconds" in ''|*[!0-9]*) echo "--seconds takes whole seconds" >&2; exit 2 ;; esac

tools="$PWD/target/tools"
if ! "$tools/bin/cargo-fuzz" --version >/dev/null 2>&1; then
  say "installing cargo-fuzz into target/tools"
  cargo install cargo-fuzz --root "$tools" --locked --quiet
fi
fuzz() { RUSTC_BOOTSTRAP=1 "$tools/bin/cargo-fuzz" "$@"; }
# Debug assertions on, as in the test suite: an arithmetic overflow is a crash here too.
flags=(--fuzz-dir fuzz --target-dir target/fuzz --sanitizer "${FUZZ_SANITIZER:-address}" --debug-assertions)

say "building the fuzz targets (${FUZZ_SANITIZER:-address} sanitizer)"
fuzz build "${flags[@]}"

failed=()
for t in "${targets[@]}"; do
  say "fuzzing $t for ${seconds}s"
  grown="target/fuzz/corpus/$t"
  mkdir -p "$grown" "fuzz/artifacts/$t"
  # The first corpus directory is the one libFuzzer adds to: the grown one, not the seeds.
  if ! fuzz run "${flags[@]}" "$t" "$grown" "fuzz/corpus/$t" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
      -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" 2>"target/fuzz/$t.log"; then
    failed+=("$t")
    tail -n 40 "target/fuzz/$t.log" >&2
  fi
  grep -E '^stat::number_of_executed_units|^stat::new_units_added' "target/fuzz/$t.log" | tr '\n' ' ' || true
  echo
done
if [ ${#failed[@]} -gt 0 ]; then
  say "FAILED: ${failed[*]} (inputs in fuzz/artifacts/; logs in target/fuzz/TARGET.log)"
  exit 1
fi
say "all ${#targets[@]} fuzz targets ran ${seconds}s each without a crash"
