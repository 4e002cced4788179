#!/usr/bin/env python3
"""A fake EC2 instance metadata service, IMDSv2 only, for appliance/test-boot.sh.

Runs inside the boot test's network namespace on 169.254.169.254:80, so the appliance's
`local_addrs = ["auto"]` / `local_id = "auto"` go through the real first-boot path. Like EC2
with HttpTokens=required: `PUT /latest/api/token` needs the TTL header (1-21600 s) and returns
a token; every GET without that token gets 401. Each request is logged, one line, to LOG for
the test to assert on.

Usage: fake-imds.py ADDR PORT LOCAL_IPV4 PUBLIC_IPV4 LOG
"""

import http.server
import secrets
import sys


def main() -> None:
    addr, port, local_ipv4, public_ipv4, log_path = sys.argv[1:6]
    token = secrets.token_urlsafe(32)
    values = {
        "/latest/meta-data/local-ipv4": local_ipv4,
        "/latest/meta-data/public-ipv4": public_ipv4,
    }
    log = open(log_path, "a", buffering=1, encoding="utf-8")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def reply(self, code: int, body: bytes = b"") -> None:
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_PUT(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(min(length, 4096))
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
            if self.path != "/latest/api/token":
                log.write(f"PUT {self.path} 404\n")
                self.reply(404)
            elif not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                log.write(f"PUT {self.path} bad-ttl 400\n")
                self.reply(400)
            else:
                log.write(f"PUT {self.path} ttl={ttl} 200\n")
                self.reply(200, token.encode())

        def do_GET(self) -> None:  # noqa: N802
            if self.headers.get("X-aws-ec2-metadata-token") != token:
                log.write(f"GET {self.path} no-token 401\n")
                self.reply(401)
            elif self.path in values:
                log.write(f"GET {self.path} token=ok 200\n")
                self.reply(200, values[self.path].encode())
            else:
                log.write(f"GET {self.path} token=ok 404\n")
                self.reply(404)

        def log_message(self, *args) -> None:  # quiet: LOG has what the test needs
            pass

    http.server.ThreadingHTTPServer((addr, int(port)), Handler).serve_forever()


if __name__ == "__main__":
    main()
