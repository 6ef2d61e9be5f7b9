"""Drives mfad's Auth API v2 with the real duo_client (PyPI): one JSON line per step.

Run by tests/pamtester/duo.rs (`duo_client_drives_every_v2_endpoint_*`) with the venv's python
(target/duo-venv, prepared by scripts/test.sh):

    python duo_client_driver.py IKEY SKEY HOST:PORT CAFILE SIG_VERSION USER IPADDR HOSTNAME

Every request is signed by duo_client itself (`Auth(..., ca_certs=CAFILE, sig_version=N)`):
the high-level methods where they carry what mfad needs (ping, check, auth_status), and
duo_client's own `json_api_call` where the `hostname` parameter must be added (duo_client's
`preauth()`/`auth()` have no such argument; duo_unix sends it). The Rust test answers the pushes
through mfa's client API while this script long-polls, and types the passcodes on stdin when
asked with a `need_passcode` line.

Each line: {"step": NAME, "answer": <the response object>} or {"step": NAME, "error": TEXT}
(duo_client raises RuntimeError on a FAIL or a non-2xx status; the text has the HTTP status).
"""

import json
import sys

import duo_client


def main():
    ikey, skey, hostport, cafile, sig, user, ipaddr, hostname = sys.argv[1:9]
    sig = int(sig)
    # duo_client takes the port apart (`host:port` in `host` is looked up as a name).
    host, _, port = hostport.rpartition(":")

    def client(secret):
        return duo_client.Auth(ikey, secret, host, ca_certs=cafile, sig_version=sig,
                               timeout=40, port=int(port))

    auth = client(skey)

    def say(step, **kw):
        print(json.dumps(dict(step=step, **kw)), flush=True)

    def run(step, fn):
        try:
            answer = fn()
        except Exception as e:  # noqa: BLE001 - reported to the Rust side, which asserts
            say(step, error="%s: %s" % (type(e).__name__, e))
            return None
        say(step, answer=answer)
        return answer

    base = {"username": user, "ipaddr": ipaddr, "hostname": hostname}

    def call(step, method, path, **params):
        return run(step, lambda: auth.json_api_call(method, path, dict(base, **params)))

    def status(step, txid):
        return run(step, lambda: auth.json_api_call("GET", "/auth/v2/auth_status",
                                                    {"txid": txid}))

    run("ping", auth.ping)
    run("check", auth.check)

    # Two asynchronous pushes: the Rust side approves the first (with the number from the
    # preauth prompt) and denies the second while this script long-polls auth_status.
    for round_ in ("approve", "deny"):
        call("preauth", "POST", "/auth/v2/preauth")
        sent = call("auth_push", "POST", "/auth/v2/auth", factor="push", device="auto",
                    **{"async": "1"})
        txid = (sent or {}).get("txid", "")
        status("auth_status", txid)
        # duo_client's own view of a second poll on the decided transaction.
        run("auth_status_again", lambda: auth.auth_status(txid))

    # factor=auto, synchronous: the call blocks until the Rust side approves.
    call("preauth", "POST", "/auth/v2/preauth")
    say("auth_sync_sent")
    call("auth_auto_sync", "POST", "/auth/v2/auth", factor="auto", device="auto",
         **{"async": "0"})

    # Passcodes: the right one, then a wrong one.
    for step in ("passcode_right", "passcode_wrong"):
        say("need_passcode", which=step)
        code = sys.stdin.readline().strip()
        call(step, "POST", "/auth/v2/auth", factor="passcode", passcode=code,
             **{"async": "0"})

    # duo_client's high-level preauth() sends no hostname: reported, not asserted.
    run("preauth_without_hostname", lambda: auth.preauth(username=user, ipaddr=ipaddr))

    # A wrong skey: 401 (duo_client raises).
    bad = skey[:-1] + ("A" if skey[-1] != "A" else "B")
    run("check_wrong_skey", client(bad).check)
    say("done")


if __name__ == "__main__":
    main()
