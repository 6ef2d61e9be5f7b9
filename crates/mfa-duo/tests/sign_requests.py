"""Signed requests exactly as the real duo_client (PyPI) sends them, printed as JSON.

Run by tests/duo.rs (`duo_client_requests_verify`) with a venv's python that has duo_client.
Each request goes through duo_client's own Client.api_call (canon_params, canonicalize, sign,
normalize_params, canon_json, urlencode): only the socket is replaced, by a function that
records the method, the URI, the body and the headers it was given.

Output: {"ikey", "skey", "duo_client": version, "requests": [{"label", "sig_version", "host",
"method", "uri", "body_b64", "headers": [[name, value], ...], "params": [[key, value], ...]}]}.
"""

import base64
import hashlib
import json
import sys

import duo_client.client

IKEY = "DIWJ8X6AEYOR5OMC6TQ1"
SKEY = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep"

PARAMS = {
    "username": "tux",
    "ipaddr": "192.0.2.1",
    "unicode": "gr\u00fc\u00dfe \u2603 \U0001F600",
    "reserved": "a+b c&d=e%f/g?h#i~j.k_l-m!*'();:@$,[]",
    "empty": "",
    "controls": "\t\n\r\x01\x7f",
    "a-b": "prefix sorts differently under strcmp",
    "a": "1",
}
REPEATED = {"factor": "auto", "device": ["phone1", "phone2", "a b", "~"]}


def capture(client, method, path, params, additional_headers=None):
    recorded = {}

    def make_request(method, uri, body, headers):
        recorded.update(method=method, uri=uri, body=body, headers=headers)
        return (None, None)

    client._make_request = make_request
    client.api_call(method, path, dict(params), additional_headers=additional_headers)
    body = recorded["body"]
    if body is None:
        body = b""
    elif isinstance(body, str):
        body = body.encode("utf-8")
    headers = [
        [k.decode("ascii") if isinstance(k, bytes) else k,
         v.decode("ascii") if isinstance(v, bytes) else v]
        for k, v in recorded["headers"].items()
    ]
    return {
        "method": recorded["method"],
        "uri": recorded["uri"],
        "body_b64": base64.b64encode(body).decode("ascii"),
        "headers": headers,
    }


def main():
    out = []
    cases = []
    for host in ("mfa.example.org", "LocalHost:8443"):
        for v, digest in ((2, hashlib.sha1), (2, hashlib.sha512), (4, None), (5, None)):
            for method, path, params in (
                ("GET", "/auth/v2/ping", {}),
                ("GET", "/auth/v2/auth_status", {"txid": "c6f7b0d2-0000-4000-8000-000000000001"}),
                ("POST", "/auth/v2/preauth", PARAMS),
                ("POST", "/auth/v2/auth", REPEATED),
                ("GET", "/auth/v2/check", PARAMS),
            ):
                cases.append((host, v, digest, method, path, params, None))
        cases.append((host, 5, None, "POST", "/auth/v2/auth", PARAMS,
                      {"X-Duo-Extra": "one", "x-duo-B": "two; with=signs"}))
    for host, v, digest, method, path, params, extra in cases:
        kwargs = {"sig_version": v}
        if digest is not None:
            kwargs["digestmod"] = digest
        client = duo_client.client.Client(IKEY, SKEY, host, **kwargs)
        req = capture(client, method, path, params, extra)
        label = "%s v%d %s %s %s%s" % (
            host, v, getattr(digest, "__name__", "sha512").replace("openssl_", ""),
            method, path, " +X-Duo headers" if extra else "")
        # What the server should hand its handler: every (key, value), a list as repeated keys.
        expected = [[k, x] for k, vv in params.items()
                    for x in (vv if isinstance(vv, list) else [vv])]
        req.update(label=label, sig_version=v, host=host, params=sorted(expected))
        out.append(req)
    json.dump({"ikey": IKEY, "skey": SKEY, "duo_client": duo_client.client.__version__,
               "requests": out}, sys.stdout)


if __name__ == "__main__":
    main()
