#!/bin/bash
# The image's HEALTHCHECK: GET /healthz on mfad (200 when its database answers, 503 otherwise).
# The runtime image has no curl, so bash's /dev/tcp speaks the HTTP/1.0 request itself.
# Usage: mfa-healthcheck [PORT] (default 8420, the port of docker/mfad.toml's listen).
set -euo pipefail
port=${1:-8420}
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
IFS= read -r -t 5 status <&3
case $status in
  "HTTP/1."?" 200 "*) exit 0 ;;
  *) echo "mfad /healthz: ${status%$'\r'}" >&2; exit 1 ;;
esac
