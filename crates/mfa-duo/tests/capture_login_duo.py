"""Captures the requests Debian's real login_duo (duo_unix 1.11.3) sends, printed as JSON.

Run by tests/duo/duo_unix.rs (`debian_login_duo_requests_verify`):

    python3 capture_login_duo.py LOGIN_DUO LIBDIR HOST_IN_CONF [ANSWERS_DIR]
    python3 capture_login_duo.py --pam PAM_DUO_SO LIBDIR HOST_IN_CONF [ANSWERS_DIR]

With --pam, pam_duo.so is run instead, through Debian's pamtester (`pamtester SERVICE root
authenticate`) with a throwaway /etc/pam.d/mfa-duo-test-PID (`auth required PAM_DUO_SO
conf=CONF`), removed afterwards; pam_duo on a service other than sshd authenticates
asynchronously and polls status.bson (needs root, as pam_mfa's pamtester tests do).

It makes a throwaway self-signed certificate for DNS:HOST_IN_CONF (openssl), serves HTTPS
on 127.0.0.1 with a fresh port, writes a login_duo.conf (`host = HOST_IN_CONF:PORT`, `cafile`,
`autopush`, `pushinfo`, `failmode = secure`) and runs login_duo -c CONF -f USER once with
LD_LIBRARY_PATH=LIBDIR. The server answers like Duo's legacy API in BSON (preauth: auth with a
push factor; auth: a txid; status: deny), recording every request: method, path, query, headers,
body. With ANSWERS_DIR, the answers are instead the bytes of ANSWERS_DIR/preauth.bson,
auth.bson and status.bson (written by the Rust test with mfa-duo's encoder). Output:
{"ikey", "skey", "login_duo_rc", "stderr", "requests": [...]} with each body base64.
"""

import base64
import http.server
import json
import os
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import urllib.parse

IKEY = "DIWJ8X6AEYOR5OMC6TQ1"
SKEY = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep"
USER = "J\u00f6rg+x y"  # login_duo -f: a user name with bytes it must encode


def bson_doc(items):
    """A minimal BSON encoder for str, int (int32) and dict (the answers login_duo reads)."""
    out = b""
    for k, v in items.items():
        key = k.encode() + b"\x00"
        if isinstance(v, str):
            s = v.encode() + b"\x00"
            out += b"\x02" + key + struct.pack("<i", len(s)) + s
        elif isinstance(v, int):
            out += b"\x10" + key + struct.pack("<i", v)
        elif isinstance(v, dict):
            out += b"\x03" + key + bson_doc(v)
    return struct.pack("<i", len(out) + 5) + out + b"\x00"


REQUESTS = []
ANSWERS = None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        REQUESTS.append({
            "method": self.command,
            "path": path,
            "query": query,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body_b64": base64.b64encode(body).decode(),
        })
        if path.endswith("/preauth.bson"):
            resp = {"stat": "OK", "response": {
                "result": "auth", "prompt": "Push with number 42 will be sent.",
                "factors": {"default": "push1", "1": "push1"}}}
        elif path.endswith("/auth.bson"):
            params = urllib.parse.parse_qs(body.decode() if body else query)
            if params.get("async") == ["1"]:
                resp = {"stat": "OK", "response": {"txid": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}}
            else:
                resp = {"stat": "OK", "response": {"result": "deny", "status": "Denied"}}
        elif path.endswith("/status.bson"):
            resp = {"stat": "OK", "response": {"result": "deny", "status": "Denied"}}
        else:
            resp = {"stat": "FAIL", "code": 40401, "message": "not found"}
        data = bson_doc(resp)
        if ANSWERS is not None:
            name = path.rsplit("/", 1)[-1]
            with open(os.path.join(ANSWERS, name), "rb") as f:
                data = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/bson")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = handle_any
    do_POST = handle_any


def main():
    global ANSWERS
    args = sys.argv[1:]
    pam = args[0] == "--pam"
    if pam:
        args = args[1:]
    login_duo, libdir, host = args[0], args[1], args[2]
    if len(args) > 3:
        ANSWERS = args[3]
    tmp = tempfile.mkdtemp(prefix="login-duo-")
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         # duo_unix 1.11 compares the name case-sensitively: the SAN is HOST_IN_CONF as given.
         "-subj", "/CN=" + host, "-addext", "subjectAltName=DNS:" + host,
         "-keyout", key, "-out", cert],
        check=True, capture_output=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()

    conf = os.path.join(tmp, "login_duo.conf")
    with open(conf, "w") as f:
        f.write("[duo]\nikey = %s\nskey = %s\nhost = %s:%d\ncafile = %s\n"
                "failmode = secure\nautopush = yes\nprompts = 1\npushinfo = yes\n"
                % (IKEY, SKEY, host, port, cert))
    os.chmod(conf, 0o600)
    env = dict(os.environ, LD_LIBRARY_PATH=libdir, SSH_CONNECTION="192.0.2.7 50000 127.0.0.1 22",
               SSH_ORIGINAL_COMMAND="ls -l /tmp")
    if pam:
        service = "mfa-duo-test-%d" % os.getpid()
        pam_file = os.path.join("/etc/pam.d", service)
        with open(pam_file, "w") as f:
            f.write("auth required %s conf=%s debug\naccount required pam_permit.so\n"
                    % (login_duo, conf))
        try:
            proc = subprocess.run(["pamtester", "-v", service, "root", "authenticate"],
                                  env=env, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=60)
        finally:
            os.remove(pam_file)
    else:
        proc = subprocess.run([login_duo, "-d", "-c", conf, "-f", USER, "true"], env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    server.shutdown()
    json.dump({"ikey": IKEY, "skey": SKEY, "login_duo_rc": proc.returncode,
               "stderr": proc.stderr.decode("utf-8", "replace"),
               "requests": REQUESTS}, sys.stdout)


if __name__ == "__main__":
    main()
