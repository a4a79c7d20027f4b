#!/usr/bin/env python3
"""A tiny bearer-token server for distribution's `auth.token` mode, for scripts/bench.

Python 3 standard library only. The key pair and its self-signed certificate come from the
`openssl` command line (made by scripts/bench); this server reads the RSA private key
(PKCS#1 or PKCS#8 PEM), and signs RS256 JWTs itself (PKCS#1 v1.5 with CRT — big-integer
`pow`, about 1 ms a token). The JWT header carries the certificate in `x5c`, which is what
distribution 2.8 verifies against its `rootcertbundle` (the same certificate).

  GET /token?service=S&scope=repository:NAME:pull[&scope=...]

Anybody gets every action asked for (no credentials): the benchmark measures request
counts and latency, not access control. Repeated `scope` parameters and space-separated
scopes inside one parameter are both honoured. Every request is appended to --log as one
line "METHOD TARGET STATUS NSCOPES", flushed at once, so the caller can count them.

  token_server.py --port P --key key.pem --cert cert.pem --service S --issuer I --log FILE
"""

import argparse
import base64
import hashlib
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pem_body(text: str, label: str) -> bytes:
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    if begin not in text:
        return b""
    body = text.split(begin, 1)[1].split(end, 1)[0]
    return base64.b64decode("".join(body.split()))


def der_read(data: bytes, pos: int):
    """One DER TLV at pos: (tag, value, next_pos)."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    return tag, data[pos:pos + length], pos + length


def der_sequence(data: bytes):
    tag, value, _ = der_read(data, 0)
    if tag != 0x30:
        raise ValueError("not a DER SEQUENCE")
    items, pos = [], 0
    while pos < len(value):
        tag, item, pos = der_read(value, pos)
        items.append((tag, item))
    return items


class RsaKey:
    def __init__(self, pem: str):
        der = pem_body(pem, "RSA PRIVATE KEY")
        if not der:  # PKCS#8: SEQUENCE { version, algorithm, OCTET STRING { PKCS#1 } }
            outer = der_sequence(pem_body(pem, "PRIVATE KEY"))
            der = outer[2][1]
        ints = [int.from_bytes(value, "big") for tag, value in der_sequence(der) if tag == 0x02]
        _, self.n, _, self.d, self.p, self.q, self.dp, self.dq, self.qinv = ints[:9]
        self.size = (self.n.bit_length() + 7) // 8

    def sign_rs256(self, message: bytes) -> bytes:
        digest_info = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
        padded = b"\x00\x01" + b"\xff" * (self.size - len(digest_info) - 3) + b"\x00" + digest_info
        m = int.from_bytes(padded, "big")
        s1, s2 = pow(m, self.dp, self.p), pow(m, self.dq, self.q)
        s = s2 + self.q * ((self.qinv * (s1 - s2)) % self.p)
        return s.to_bytes(self.size, "big")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()

    with open(args.key) as f:
        key = RsaKey(f.read())
    with open(args.cert) as f:
        cert_der = pem_body(f.read(), "CERTIFICATE")
    header = b64url(json.dumps({
        "typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(cert_der).decode()],
    }, separators=(",", ":")).encode())
    log = open(args.log, "a", buffering=1)
    lock = threading.Lock()
    counter = [0]

    def issue(scopes):
        access = {}
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) < 3 or parts[0] != "repository":
                continue
            name, actions = ":".join(parts[1:-1]), parts[-1].split(",")
            entry = access.setdefault(name, [])
            entry.extend(a for a in actions if a and a not in entry)
        now = int(time.time())
        with lock:
            counter[0] += 1
            jti = f"{os.getpid()}-{counter[0]}"
        claims = {
            "iss": args.issuer, "sub": "bench", "aud": args.service,
            "exp": now + 600, "nbf": now - 10, "iat": now, "jti": jti,
            "access": [{"type": "repository", "name": n, "actions": a} for n, a in access.items()],
        }
        signing_input = f"{header}.{b64url(json.dumps(claims, separators=(',', ':')).encode())}"
        return f"{signing_input}.{b64url(key.sign_rs256(signing_input.encode()))}", now

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body are separate writes: without TCP_NODELAY, Nagle plus the
        # client's delayed ACK adds ~40 ms to every token.
        disable_nagle_algorithm = True

        def reply(self, status, body: bytes, content_type="application/json"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def handle_token(self, query: str):
            url = urllib.parse.urlsplit(self.path)
            if url.path != "/token":
                self.reply(404, b'{"error":"not found"}')
                return 404, 0
            params = urllib.parse.parse_qs(query, keep_blank_values=True)
            scopes = [s for value in params.get("scope", []) for s in value.split()]
            token, now = issue(scopes)
            issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
            body = json.dumps({"token": token, "access_token": token, "expires_in": 600, "issued_at": issued})
            self.reply(200, body.encode())
            return 200, len(scopes)

        def do_GET(self):
            status, scopes = self.handle_token(urllib.parse.urlsplit(self.path).query)
            log.write(f"GET {self.path.split('?')[0]} {status} {scopes}\n")

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            form = self.rfile.read(length).decode(errors="replace")
            status, scopes = self.handle_token(form)
            log.write(f"POST {self.path.split('?')[0]} {status} {scopes}\n")

        def log_message(self, format, *args):  # noqa: A002 — the stdlib's name
            pass

    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"token server listening on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
