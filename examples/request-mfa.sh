#!/bin/sh
# request-mfa.sh - a push from mfad as the second factor of any PAM service, with only curl.
#
# For hosts where pam_mfa.so cannot be installed. pam_exec.so runs this script; it asks mfad to
# push the login to the user's device and exits 0 only when the push is approved. Anything
# else exits non-zero, which pam_exec turns into a failure: a denial, no answer before the
# deadline, mfad unreachable, an HTTP error, an answer it cannot read, a user or service name
# outside the safe set, a configuration file it does not trust.
#
# Needs: a POSIX sh, curl >= 7.76 (--fail-with-body; Debian 12 or later) and the base
# utilities (cut, date, hostname, ls, sed, tr, wc). Optional: logger, for copies in syslog.
#
# --- Set-up ----------------------------------------------------------------------------------
#
# On the mfad side (the host name must be covered by the server's --hosts):
#
#   mfac server add ssh-1 --hosts linux.example.org       # prints the API token, once
#   mfac app add --user tux --host linux.example.org --service sshd --client tux --methods push
#
# On this host:
#
#   install -o root -g root -m 0755 request-mfa.sh /usr/local/sbin/request-mfa.sh
#   install -d -o root -g root -m 0700 /etc/mfa
#   install -o root -g root -m 0600 /dev/null /etc/mfa/request-mfa.conf   # then edit it
#
# and in /etc/pam.d/<service>, in the auth stack (after the password check, if any):
#
#   auth required pam_exec.so stdout quiet /usr/local/sbin/request-mfa.sh
#
# - `stdout` makes pam_exec pass what this script prints to the user (PAM_TEXT_INFO): the
#   number to match, and when a login is denied, one line saying why (pam_exec joins the
#   script's stderr to its stdout). That line also goes to syslog (authpriv), if logger is
#   there. Without `stdout`, pam_exec's `log=FILE` keeps the lines in FILE instead.
# - `quiet` keeps pam_exec's own "failed: exit code N" out of the user's terminal.
# - A different configuration file is the first argument: `... request-mfa.sh /etc/mfa/x.conf`.
# - pam_exec answers pam_setcred with PAM_IGNORE. When this line is the only module of the
#   auth stack (no @include common-auth), pam_setcred then fails and sshd drops the session
#   with "pam_setcred(): Permission denied"; add `auth optional pam_permit.so` after it. That
#   makes setcred succeed and cannot turn a failure of the required line into a success.
#
# sshd: UsePAM yes, KbdInteractiveAuthentication yes (and e.g. AuthenticationMethods
# publickey,keyboard-interactive). sshd may hold PAM_TEXT_INFO back until the next prompt, or
# until the login is over (OpenSSH bug 2876), so over ssh the person may not see the number in
# time: with number matching on (mfad's default), prefer pam_mfa.so for sshd, which puts the
# number in a prompt. sudo, su, login and other terminal programs show the text at once.
# Keep `timeout` + 1 below sshd's LoginGraceTime: PAM keeps running when the client gives up.
#
# --- Configuration: /etc/mfa/request-mfa.conf ------------------------------------------------
#
# Owned by root, not readable or writable by group or others (mode 0600 or 0400), a regular
# file without an ACL; the script refuses any other. One key=value a line, # comments:
#
#   url=https://mfa.example.org   mfad's base URL (required). http:// works too, but then the
#                                 token and the answer cross the network in the clear.
#   token=mfas_...                this server's API token from `mfac server add` (required)
#   host=linux.example.org        the host name sent to mfad (default: `hostname -f`)
#   timeout=30                    seconds to wait for an answer in all, 1-600 (default 30);
#                                 counted in whole seconds, so the script gives up after
#                                 timeout to timeout + 1 s, never earlier
#   cafile=/etc/mfa/ca.pem        CA certificates for mfad's TLS certificate (default: the
#                                 system's). Certificates are always verified.
#
# --- What it does ----------------------------------------------------------------------------
#
# PAM_TYPE=auth: POST /v1/auth {user, host, service, client_ip, method: push} with the user
# (PAM_USER), service (PAM_SERVICE) and source address (PAM_RHOST, absent for local logins).
# A PAM_RHOST that is not an IP address (sshd with `UseDNS yes` puts the client's host name
# there) is not sent: mfad takes only addresses. The login then has no client_ip, so neither
# trusted_ip_networks nor a lockout of the address applies to it; syslog gets a debug line.
# mfad answers "allow" (e.g. a trusted network: exit 0), "deny" (exit 1), or "pending" with a
# transaction id and the number to match, which the script prints for the user; it then
# long-polls GET /v1/auth/{txid}?wait=N (N whole seconds, at least 1) until mfad says allow
# or deny, or the timeout passes; then it withdraws the push (DELETE /v1/auth/{txid}?reason=
# abandoned). Exit 0 only on "result":"allow". There is no safe mode: mfad unreachable, or
# lost while the script waits, is a denial like any other failure.
#
# Any other PAM_TYPE (account, open_session, close_session, password): exit 1. This script
# only runs where a pam.d line names it; a line in another stack is a mistake that a success
# would turn into logins without a second factor, so it fails loudly instead.
#
# User-controlled values are never escaped into JSON: PAM_USER, PAM_SERVICE, PAM_RHOST and the
# host name must consist of letters, digits and . _ - (and : in addresses), or the login is
# denied. The API token reaches curl on a pipe (-H @-), never on a command line that ps shows.

set -u
umask 077
LC_ALL=C
export LC_ALL
# pam_exec passes only the PAM environment: no PATH.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

conf=${1:-/etc/mfa/request-mfa.conf}

# syslog MESSAGE [PRIORITY]: a copy for the admin, when logger and a syslog daemon are there.
syslog() {
    if command -v logger >/dev/null 2>&1; then
        logger -t request-mfa -p "authpriv.${2:-notice}" -- "$1" 2>/dev/null || :
    fi
}

# fail MESSAGE: denies the login with one line on stderr and in syslog. pam_exec sends the
# script's stderr where it sends stdout: to the user with `stdout`, to the file with `log=`,
# else nowhere. So the line is printable, short, and holds nothing secret.
fail() {
    msg=$(printf 'request-mfa: login denied%s: %s' "${who:+ for $who}" "$1" |
        tr -c '[:print:]' '?' | cut -c1-400)
    printf '%s\n' "$msg" >&2
    syslog "$msg"
    exit 1
}

who=''

# --- PAM_TYPE --------------------------------------------------------------------------------

case ${PAM_TYPE-} in
    auth) ;;
    '') fail "PAM_TYPE is not set: run this script from pam_exec.so in an auth stack" ;;
    *) fail "PAM_TYPE=${PAM_TYPE} is not auth: list this script only as \`auth required pam_exec.so stdout quiet $0\`" ;;
esac

# --- The configuration file ------------------------------------------------------------------

if [ ! -f "$conf" ] || [ -L "$conf" ]; then
    fail "$conf: not a regular file"
fi
listing=$(ls -ldn -- "$conf") || fail "$conf: cannot read its owner and mode"
set -f
# shellcheck disable=SC2086 # the split is the point
set -- $listing
set +f
case $1 in
    -[r-][w-][x-]------ | -[r-][w-][x-]------.) ;;
    *) fail "$conf is readable or writable by group or others, or has an ACL ($1): chmod 600 $conf" ;;
esac
[ "$3" = 0 ] || fail "$conf is not owned by root: chown root:root $conf"

url='' token='' host='' timeout=30 cafile='' n=0
while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    # Trim blanks (and a CR from a file edited elsewhere); skip comments and empty lines.
    line=${line%"${line##*[![:space:]]}"}
    line=${line#"${line%%[![:space:]]*}"}
    case $line in '' | '#'*) continue ;; *=*) ;; *) fail "$conf line $n: not key=value" ;; esac
    key=${line%%=*}
    key=${key%"${key##*[![:space:]]}"}
    value=${line#*=}
    value=${value#"${value%%[![:space:]]*}"}
    case $key in
        url) url=${value%/} ;;
        token) token=$value ;;
        host) host=$value ;;
        timeout) timeout=$value ;;
        cafile) cafile=$value ;;
        *) fail "$conf line $n: unknown key (expected url, token, host, timeout or cafile)" ;;
    esac
done <"$conf"

case $url in
    http://?* | https://?*) ;;
    *) fail "$conf: url must be http(s)://HOST[:PORT] of mfad, got \"$url\"" ;;
esac
case $url in *[[:space:][:cntrl:]\"\\]*) fail "$conf: url contains blanks or quotes" ;; esac
case $token in
    '' | *[!A-Za-z0-9_-]*) fail "$conf: token must be the API token from \`mfac server add\`" ;;
esac
case $timeout in
    '' | 0* | *[!0-9]*) fail "$conf: timeout must be whole seconds, 1-600" ;;
esac
if [ "${#timeout}" -gt 3 ] || [ "$timeout" -gt 600 ]; then
    fail "$conf: timeout must be 1-600 seconds"
fi
if [ -n "$cafile" ] && [ ! -r "$cafile" ]; then
    fail "$conf: cafile $cafile cannot be read"
fi

# The deadline covers everything from here: name lookups, the request, the polls. `date +%s`
# has whole seconds (POSIX date has nothing finer): now is somewhere in the second it names,
# so the deadline is one more second out. The script gives up between timeout and timeout + 1
# seconds from here, never before (a deadline of now + timeout came up to a second early).
now() { date +%s; }
deadline=$(($(now) + timeout + 1))

# --- Who is logging in, where ----------------------------------------------------------------

if [ -z "$host" ]; then
    host=$(hostname -f 2>/dev/null) || host=''
    [ -n "$host" ] || host=$(uname -n)
fi

user=${PAM_USER-}
service=${PAM_SERVICE-}
rhost=${PAM_RHOST-}
case $user in
    '' | [!A-Za-z0-9]* | *[!A-Za-z0-9._-]*) fail "user name \"$user\" is not one mfa accepts" ;;
esac
[ "${#user}" -le 64 ] || fail "user name is longer than 64 characters"
who=$user
case $service in
    '' | *[!A-Za-z0-9._-]*) fail "PAM service name \"$service\" is not one mfa accepts" ;;
esac
case $host in
    '' | *[!A-Za-z0-9._-]*) fail "host name \"$host\" is not one mfa accepts: set host= in $conf" ;;
esac
case $rhost in
    *[!A-Za-z0-9.:_-]*) fail "remote host \"$rhost\" is not an address or name mfa accepts" ;;
esac
if [ "${#host}" -gt 253 ] || [ "${#service}" -gt 253 ] || [ "${#rhost}" -gt 253 ]; then
    fail "host, service or remote host name too long"
fi

# is_ipv4 TEXT: four numbers 0-255 without leading zeros (what mfad's parser takes).
is_ipv4() {
    case $1 in '' | *[!0-9.]* | .* | *. | *..*) return 1 ;; esac
    saved_ifs=$IFS
    IFS=.
    set -f
    # shellcheck disable=SC2086 # the split at dots is the point
    set -- $1
    set +f
    IFS=$saved_ifs
    [ "$#" -eq 4 ] || return 1
    for part; do
        case $part in 0?*) return 1 ;; esac
        [ "${#part}" -le 3 ] && [ "$part" -le 255 ] || return 1
    done
}

# is_ip TEXT: an IPv4 address, or what can only be an IPv6 one (hex digits and at least two
# colons, maybe a dotted IPv4 tail). mfad checks the rest.
is_ip() {
    case $1 in
        *:*:*) case $1 in *[!0-9A-Fa-f:.]*) return 1 ;; *) return 0 ;; esac ;;
        *) is_ipv4 "$1" ;;
    esac
}

client_ip=''
if [ -n "$rhost" ]; then
    if is_ip "$rhost"; then
        client_ip=$rhost
    else
        syslog "request-mfa: PAM_RHOST $rhost is not an IP address (sshd UseDNS yes?): no client_ip sent to mfad" debug
    fi
fi

# --- Talking to mfad -------------------------------------------------------------------------

# api MAX_SECONDS CURL_ARGS...: prints the response body; fails on any error (unreachable,
# TLS, HTTP status >= 400, timeout), printing the body and curl's one-line error. The token
# goes in on stdin, as a header line.
api() {
    max=$1
    shift
    if [ -n "$cafile" ]; then
        set -- --cacert "$cafile" "$@"
    fi
    # -q first: no ~/.curlrc. --proto: http(s) only. No -L: a redirect is an error.
    printf 'Authorization: Bearer %s\n' "$token" |
        curl -q --fail-with-body -sS --proto =http,https --max-time "$max" \
            --connect-timeout 5 -H @- -H 'Accept: application/json' "$@"
}

# field NAME JSON: the value of a string field "NAME":"[a-z0-9-]..." of mfad's compact JSON
# object. The key must follow { or , -- inside a JSON string a quote is always escaped, so
# a crafted reason cannot pose as a field.
field() {
    printf '%s\n' "$2" | sed -n 's/^.*[{,]"'"$1"'":"\([A-Za-z0-9_-]*\)"[,}].*$/\1/p'
}

# number JSON: the number to match (digits), if the answer has one.
number() {
    printf '%s\n' "$1" | sed -n 's/^.*[{,]"number":\([0-9][0-9]*\)[,}].*$/\1/p'
}

# An answer must be one line holding one JSON object.
well_formed() {
    case $1 in '{'*'}') ;; *) return 1 ;; esac
    [ "$(printf '%s\n' "$1" | wc -l)" -eq 1 ]
}

body="{\"user\":\"$user\",\"host\":\"$host\",\"service\":\"$service\""
if [ -n "$client_ip" ]; then
    body="$body,\"client_ip\":\"$client_ip\""
fi
body="$body,\"method\":\"push\"}"

left=$((deadline - $(now)))
[ "$left" -gt 0 ] || fail "timeout=$timeout s passed before mfad could be asked"
# (Never --max-time 0: to curl that means no limit.)
answer=$(api "$left" -H 'Content-Type: application/json' --data-binary "$body" \
    "$url/v1/auth" 2>&1) || fail "POST $url/v1/auth failed: $answer"
well_formed "$answer" || fail "unreadable answer from mfad: $answer"

case $(field result "$answer") in
    allow) syslog "request-mfa: allowed for $user without a push: $answer"; exit 0 ;;
    deny) fail "mfad: $answer" ;;
    pending) ;;
    *) fail "unexpected answer from mfad: $answer" ;;
esac

txid=$(field txid "$answer")
[ -n "$txid" ] || fail "pending answer without a txid: $answer"
n=$(number "$answer")
if [ -n "$n" ]; then
    printf 'mfa: push sent; approve it on your device with the number %s.\n' "$n"
else
    printf 'mfa: push sent; approve it on your device.\n'
fi

while :; do
    left=$((deadline - $(now)))
    if [ "$left" -le 0 ]; then
        # Withdraw the push (best effort) so it does not linger on the devices and then
        # expire into a counted failure.
        api 5 -X DELETE "$url/v1/auth/$txid?reason=abandoned" >/dev/null 2>&1 || :
        fail "no answer within ${timeout} s (txid $txid)"
    fi
    # mfad holds a poll at most 60 s; curl gets a little longer than the wait.
    w=$left
    [ "$w" -le 60 ] || w=60
    answer=$(api $((w + 5)) "$url/v1/auth/$txid?wait=$w" 2>&1) ||
        fail "GET $url/v1/auth/$txid failed: $answer"
    well_formed "$answer" || fail "unreadable answer from mfad: $answer"
    case $(field result "$answer") in
        allow) syslog "request-mfa: approved for $user (txid $txid)"; exit 0 ;;
        deny) fail "mfad: $answer" ;;
        pending) ;;
        *) fail "unexpected answer from mfad: $answer" ;;
    esac
done
