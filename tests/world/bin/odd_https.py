#!/usr/bin/python3
"""HTTPS stand-ins that nginx cannot play (test world, 127.0.0.21:443).

  odd_https.py --listen 127.0.0.21:443 --cert CHAIN --key KEY --uploads DIR --pidfile F

  Host mta-sts.stschunked.test  GET /.well-known/mta-sts.txt: 200 text/plain with a
      chunked body that starts as a valid policy and never ends (stops after MAX_BODY or
      when the client goes away)
  Host tlsrpt.test              POST /report: the body is saved as DIR/<n>.body (its
      headers in DIR/<n>.headers); answers 200
  anything else                 404
"""
import argparse
import http.server
import itertools
import os
import signal
import socket
import ssl
import sys
import threading

MAX_BODY = 64 * 1024 * 1024
MAX_UPLOAD = 16 * 1024 * 1024
POLICY = b"version: STSv1\r\nmode: enforce\r\nmx: mx1.sts.test\r\nmax_age: 86400\r\n"
counter = itertools.count(1)
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "odd-https"
    sys_version = ""
    timeout = 30

    def host(self):
        return (self.headers.get("Host") or "").split(":")[0].lower()

    def plain(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.host() == "mta-sts.stschunked.test" and self.path == "/.well-known/mta-sts.txt":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            sent = 0
            chunk = POLICY
            pad = b"x-padding: " + b"a" * 4000 + b"\r\n"
            try:
                while sent < MAX_BODY:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent += len(chunk)
                    chunk = pad
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass
            self.close_connection = True
            return
        self.plain(404, "not found\n")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if self.host() != "tlsrpt.test" or self.path != "/report" or length > MAX_UPLOAD:
            self.plain(404 if length <= MAX_UPLOAD else 413, "no\n")
            return
        body = self.rfile.read(length)
        with lock:
            n = next(counter)
        base = os.path.join(self.server.uploads, "%04d" % n)
        with open(base + ".headers", "w") as f:
            f.write(str(self.headers))
        with open(base + ".body", "wb") as f:
            f.write(body)
        self.plain(200, "stored\n")

    def log_message(self, fmt, *args):
        print("%s %s" % (self.client_address[0], fmt % args), flush=True)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def get_request(self):
        sock, peer = self.socket.accept()
        sock.settimeout(30)
        # the handshake happens in the handler thread, so a silent client blocks nobody
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), peer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--uploads", required=True)
    ap.add_argument("--pidfile")
    a = ap.parse_args()
    host, _, port = a.listen.rpartition(":")
    os.makedirs(a.uploads, exist_ok=True)
    srv = Server((host, int(port)), Handler)
    srv.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    srv.ctx.load_cert_chain(a.cert, a.key)
    srv.uploads = a.uploads
    if a.pidfile:
        with open(a.pidfile, "w") as f:
            f.write(f"{os.getpid()}\n")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("listening on", a.listen, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
