#!/usr/bin/env bash
# The Debian package, installed for real: builds it (scripts/build-deb.sh), installs it with
# dpkg -i, runs the installed mfad as the mfa user on the packaged config with [tls] turned on
# (a throwaway CA), enrols tux with the installed mfac, logs in through the installed
# pam_mfa.so by its packaged path with pamtester (a TOTP code from oathtool), scrapes /metrics,
# checks the unit with systemd-analyze, then purges the package and checks that nothing is
# left but what Debian policy keeps (the mfa user, and the admin's own files in /etc/mfa).
#
# Changes this machine (it must: that is the test), so it needs root, and refuses to run
# where a package named mfa is installed that it did not install. scripts/test.sh runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> deb: %s\n' "$*"; }
fail() { printf 'deb-test.sh: FAILED: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
  echo "deb-test.sh: SKIPPED - installing a package needs root (run scripts/test.sh as root)"
  exit 0
fi
if dpkg-query -W -f='${Status}' mfa 2>/dev/null | grep -q "install ok installed" \
  && ! [ -e /var/lib/mfa/.deb-test ]; then
  fail "a package named mfa is installed here already; not touching it"
fi

MFA_DEB_PROFILE=${MFA_DEB_PROFILE:-release} scripts/build-deb.sh
deb=$(ls -t target/debian/mfa_*_amd64.deb | head -n1)
work=$(mktemp -d /tmp/mfa-deb-test.XXXXXX)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -f /etc/pam.d/mfa-deb-test
  dpkg --purge mfa >/dev/null 2>&1 || true
  rm -rf /etc/mfa/tls /etc/mfa/pam.toml
  rmdir /etc/mfa 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

say "dpkg -i $deb"
dpkg --purge mfa >/dev/null 2>&1 || true
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i"; }
touch /var/lib/mfa/.deb-test
getent passwd mfa >/dev/null || fail "no mfa system user"
[ "$(stat -c '%a %U' /var/lib/mfa)" = "700 mfa" ] || fail "/var/lib/mfa is $(stat -c '%a %U' /var/lib/mfa)"
[ "$(stat -c '%a %U' /etc/mfa/mfad.toml)" = "600 mfa" ] || fail "/etc/mfa/mfad.toml is $(stat -c '%a %U' /etc/mfa/mfad.toml)"
for f in /usr/bin/mfad /usr/bin/mfac /usr/bin/mfa /lib/x86_64-linux-gnu/security/pam_mfa.so \
  /usr/share/mfa/request-mfa.sh /lib/systemd/system/mfad.service /usr/share/pam-configs/mfa \
  /usr/share/man/man8/mfad.8.gz /usr/share/man/man8/mfac.8.gz /usr/share/man/man1/mfa.1.gz \
  /usr/share/man/man8/pam_mfa.8.gz /usr/share/bash-completion/completions/mfac; do
  [ -e "$f" ] || fail "$f is not installed"
done
grep -q pam_mfa /etc/pam.d/common-auth && fail "the PAM profile is on after install; it must be off"

if command -v systemd-analyze >/dev/null; then
  say "systemd-analyze verify mfad.service"
  systemd-analyze verify /lib/systemd/system/mfad.service >"$work/verify.log" 2>&1 \
    || { cat "$work/verify.log"; fail "systemd-analyze verify"; }
  # Warnings about this machine's own units are not ours; any line naming mfad.service is.
  if grep -i 'mfad' "$work/verify.log"; then fail "systemd-analyze verify complained"; fi
  # The sandbox, as systemd rates it (0 is locked down, 10 is exposed; 1.6 when written).
  exposure=$(systemd-analyze security --offline=true /lib/systemd/system/mfad.service 2>/dev/null \
    | sed -n 's/.*Overall exposure level for mfad.service: \([0-9.]*\).*/\1/p')
  say "systemd-analyze security: exposure ${exposure:-unknown}"
  python3 -c "import sys; sys.exit(0 if float('${exposure:-10}') <= 2.0 else 1)" \
    || fail "the unit's exposure is ${exposure:-unknown}, more than 2.0"
else
  say "systemd-analyze: SKIPPED (not installed)"
fi

say "[tls] on the packaged config, with a throwaway CA"
mkdir -p "$work/ca" /etc/mfa/tls
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -batch \
  -subj "/CN=mfa deb test CA" -keyout "$work/ca/ca.key" -out "$work/ca/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -batch -subj "/CN=127.0.0.1" \
  -keyout /etc/mfa/tls/privkey.pem -out "$work/ca/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > "$work/ca/ext.cnf"
openssl x509 -req -days 1 -in "$work/ca/server.csr" -CA "$work/ca/ca.pem" -CAkey "$work/ca/ca.key" \
  -CAcreateserial -extfile "$work/ca/ext.cnf" -out /etc/mfa/tls/fullchain.pem 2>/dev/null
chown root:mfa /etc/mfa/tls/privkey.pem
chmod 0640 /etc/mfa/tls/privkey.pem
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i -e "s|^#listen = \"127.0.0.1:8420\"$|listen = \"127.0.0.1:$port\"|" \
  -e 's|^#cert = |cert = |' -e 's|^#key = |key = |' /etc/mfa/mfad.toml
as_mfa() { runuser -u mfa -- "$@"; }
as_mfa /usr/bin/mfad --config /etc/mfa/mfad.toml check-config | tee "$work/check.log"
grep -q HTTPS "$work/check.log" || fail "check-config does not report HTTPS"

say "the installed mfad, as mfa"
# setpriv execs mfad itself (runuser would stay its parent and not pass on the kill below,
# leaving mfad running after the purge), so $! is mfad's pid.
setpriv --reuid=mfa --regid=mfa --init-groups /usr/bin/mfad --config /etc/mfa/mfad.toml serve \
  2>"$work/mfad.log" &
pid=$!
base="https://127.0.0.1:$port"
for _ in $(seq 1 100); do
  curl -sf --cacert "$work/ca/ca.pem" "$base/healthz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/mfad.log"; fail "mfad exited"; }
  sleep 0.1
done
curl -sf --cacert "$work/ca/ca.pem" "$base/healthz" >/dev/null || { cat "$work/mfad.log"; fail "mfad does not answer over HTTPS"; }
[ "$(stat -c '%a %U' /var/lib/mfa/mfa.key)" = "600 mfa" ] || fail "the key made on first start is $(stat -c '%a %U' /var/lib/mfa/mfa.key)"

say "enrol tux with the installed mfac"
mfac() { as_mfa /usr/bin/mfac --config /etc/mfa/mfad.toml --json "$@"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
secret=$(mfac client add tux | json totp_secret)
mfac app add --user tux --host '*' --service '*' --client tux --methods push,totp >/dev/null
token=$(mfac server add deb-host --hosts '*' | json api_token)

say "pamtester through /lib/x86_64-linux-gnu/security/pam_mfa.so"
umask 077
printf 'url = "%s"\ntoken = "%s"\ncafile = "%s"\ntimeout = 20\n' "$base" "$token" "$work/ca/ca.pem" > /etc/mfa/pam.toml
echo "auth required pam_mfa.so" > /etc/pam.d/mfa-deb-test
wrong=$( (oathtool --totp -b "$secret" | tr 0-9 1-90) )
if printf '%s\n' "$wrong" | pamtester -I rhost=192.0.2.1 mfa-deb-test tux authenticate >"$work/pam-wrong.log" 2>&1; then
  fail "a wrong code was accepted"
fi
printf '%s\n' "$(oathtool --totp -b "$secret")" | pamtester -I rhost=192.0.2.1 mfa-deb-test tux authenticate \
  >"$work/pam.log" 2>&1 || { cat "$work/pam.log"; fail "a TOTP login through the packaged module"; }
grep -q "successfully authenticated" "$work/pam.log" || { cat "$work/pam.log"; fail "pamtester"; }

say "GET /metrics"
curl -sf --cacert "$work/ca/ca.pem" "$base/metrics" > "$work/metrics.txt" || fail "/metrics"
grep -q '^mfa_' "$work/metrics.txt" || { head "$work/metrics.txt"; fail "no mfa_ metrics"; }
grep -q 'tux' "$work/metrics.txt" && fail "/metrics names a user"

say "dpkg --purge"
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
files=$(dpkg -L mfa | while read -r f; do [ -f "$f" ] && echo "$f"; done)
dpkg --purge mfa >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "dpkg --purge"; }
rm -f /etc/pam.d/mfa-deb-test
for f in $files; do [ -e "$f" ] && fail "$f is left after purge"; done
[ -e /var/lib/mfa ] && fail "/var/lib/mfa is left after purge"
dpkg-query -W mfa >/dev/null 2>&1 && fail "dpkg still knows mfa after purge"
pgrep -f '^/usr/bin/mfad ' >/dev/null && fail "/usr/bin/mfad still runs after the purge"
ls /etc/systemd/system/*/mfad.service 2>/dev/null && fail "unit symlinks are left after purge"
left=$(cd /etc/mfa && find . -mindepth 1 -maxdepth 1 | sort | tr '\n' ' ')
[ "$left" = "./pam.toml ./tls " ] || fail "/etc/mfa holds more than the admin's own files: $left"
getent passwd mfa >/dev/null || fail "the mfa user went (Debian policy keeps system users)"
say "passed: installed, served HTTPS, enrolled, logged in through PAM, scraped, purged clean"
