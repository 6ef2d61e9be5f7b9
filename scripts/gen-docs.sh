#!/usr/bin/env bash
# scripts/gen-docs.sh OUTDIR — the man pages and shell completions of mfad, mfac and mfa,
# generated from their clap definitions, plus the hand-written pam_mfa(8).
#
# Contract (scripts/build-deb.sh relies on it; the test is crates/mfa-docgen/tests/gen_docs.rs):
#
#   Input   OUTDIR: created if missing. It must be empty, or a directory this script wrote
#           before (it holds .mfa-gen-docs): then its man/ and completions/ are replaced.
#           Anything else is refused, so a wrong OUTDIR never loses files.
#           MFA_BIN_DIR (optional): the directory holding built mfad, mfac and mfa binaries,
#           e.g. target/release. Unset: `cargo build -p mfad -p mfac -p mfa-client` (debug)
#           runs first and ${CARGO_TARGET_DIR:-target}/debug is used.
#   Output  OUTDIR/man/mfad.8, OUTDIR/man/mfac.8, OUTDIR/man/mfa.1, OUTDIR/man/pam_mfa.8,
#           and one page per subcommand: OUTDIR/man/mfac-client.8, mfac-client-add.8,
#           mfad-serve.8, mfa-enroll.1, ... (each parent page lists its subcommands' pages).
#           The section of every page is its file name's suffix: install man/*.1 to
#           /usr/share/man/man1/ and man/*.8 to /usr/share/man/man8/ (gzip them there).
#           OUTDIR/completions/bash/{mfad,mfac,mfa}     -> /usr/share/bash-completion/completions/
#           OUTDIR/completions/zsh/{_mfad,_mfac,_mfa}   -> /usr/share/zsh/vendor-completions/
#           OUTDIR/completions/fish/{mfad,mfac,mfa}.fish -> /usr/share/fish/vendor_completions.d/
#           Files are mode 0644 (under the usual umask 022). Nothing else is written but the
#           marker OUTDIR/.mfa-gen-docs.
#   Exit    0 when every file above was written; non-zero (with a message on stderr) otherwise.
#
# Each binary writes its own part: `BIN --generate-docs OUTDIR` (a hidden flag, see
# crates/mfa-docgen), so the pages and completions always match the binary's --help.
set -euo pipefail

usage() { echo "usage: [MFA_BIN_DIR=DIR] $0 OUTDIR" >&2; exit 2; }
[ $# -eq 1 ] && [ -n "$1" ] || usage
out=$1
root=$(cd "$(dirname "$0")/.." && pwd)
marker=.mfa-gen-docs

# --- the output directory ------------------------------------------------------------------------
mkdir -p "$out"
if [ -e "$out/$marker" ]; then
  rm -rf "${out:?}/man" "${out:?}/completions"
elif [ -n "$(ls -A "$out")" ]; then
  echo "gen-docs.sh: $out is not empty and was not written by gen-docs.sh: give an empty or new directory" >&2
  exit 1
fi
: >"$out/$marker"

# --- the binaries ---------------------------------------------------------------------------------
if [ -n "${MFA_BIN_DIR:-}" ]; then
  bin_dir=$MFA_BIN_DIR
else
  (cd "$root" && cargo build --quiet -p mfad -p mfac -p mfa-client)
  target=${CARGO_TARGET_DIR:-target}
  case $target in /*) ;; *) target=$root/$target ;; esac
  bin_dir=$target/debug
fi

# --- generate -------------------------------------------------------------------------------------
# name:section
programs=(mfad:8 mfac:8 mfa:1)
for p in "${programs[@]}"; do
  name=${p%%:*}
  if [ ! -x "$bin_dir/$name" ]; then
    echo "gen-docs.sh: $bin_dir/$name is missing or not executable (MFA_BIN_DIR=${MFA_BIN_DIR:-})" >&2
    exit 1
  fi
  "$bin_dir/$name" --generate-docs "$out"
done
install -m 0644 "$root/docs/man/pam_mfa.8" "$out/man/pam_mfa.8"

# --- check the contract ---------------------------------------------------------------------------
missing=()
for p in "${programs[@]}"; do
  name=${p%%:*} section=${p##*:}
  for f in "man/$name.$section" "completions/bash/$name" "completions/zsh/_$name" \
    "completions/fish/$name.fish"; do
    [ -s "$out/$f" ] || missing+=("$f")
  done
done
[ -s "$out/man/pam_mfa.8" ] || missing+=(man/pam_mfa.8)
if [ ${#missing[@]} -gt 0 ]; then
  echo "gen-docs.sh: not written: ${missing[*]}" >&2
  exit 1
fi
echo "gen-docs.sh: $(find "$out/man" -type f | wc -l) man pages in $out/man, completions in $out/completions"
