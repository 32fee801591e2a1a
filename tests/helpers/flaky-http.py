#!/usr/bin/env python3
"""flaky-http.py DIR PORTFILE [--drop N] [--stall N] - a loopback HTTP server
for the tests of cimg import URL.  Serves the files of DIR on 127.0.0.1 (a
free port, written to PORTFILE) and honours Range requests (206).

--drop N:  the first request without a Range header gets the full headers,
           N bytes of the body, then the connection is closed.
--stall N: every request without a Range header gets N bytes, then
           nothing until the client leaves.
--tls CERT.pem: speak HTTPS with this certificate (and its key in it).
Some paths answer whatever DIR holds:
/endless           200 with no Content-Length and a body without end
                   (random bytes, so nothing compresses them), until the
                   client leaves.
/loop              302 to /loop, for ever.
/redirect?to=URL   302 to URL (file:///etc/passwd, gopher://...).
/big               200 claiming a Content-Length of 1 TiB, then stalling.
Each request is logged to DIR/../requests.log as "PATH RANGE"."""
import http.server
import os
import sys
import time
import urllib.parse

root, portfile = sys.argv[1], sys.argv[2]
drop = stall = tls = None
args = sys.argv[3:]
while args:
    if args[0] == "--drop":
        drop = int(args[1])
    elif args[0] == "--stall":
        stall = int(args[1])
    elif args[0] == "--tls":
        tls = args[1]
    args = args[2:]
log = os.path.join(os.path.dirname(os.path.abspath(root)), "requests.log")
dropped = False


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        global dropped
        rng = self.headers.get("Range")
        with open(log, "a") as f:
            f.write("%s %s\n" % (self.path, rng or "-"))
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/endless":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            chunk = os.urandom(1 << 16)
            try:
                while True:
                    self.wfile.write(chunk)
            except OSError:
                pass
            self.close_connection = True
            return
        if url.path == "/big":
            self.send_response(200)
            self.send_header("Content-Length", str(1 << 40))
            self.end_headers()
            self.wfile.write(b"\0" * 1024)
            self.wfile.flush()
            time.sleep(3600)
            return
        if url.path in ("/loop", "/redirect"):
            to = "/loop" if url.path == "/loop" else \
                urllib.parse.parse_qs(url.query)["to"][0]
            self.send_response(302)
            self.send_header("Location", to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path = os.path.join(root, os.path.basename(url.path))
        if not os.path.isfile(path):
            self.send_error(404)
            return
        data = open(path, "rb").read()
        start = 0
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(data))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" %
                             (start, len(data) - 1, len(data)))
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if not rng and stall is not None:
            self.wfile.write(body[:stall])
            self.wfile.flush()
            time.sleep(3600)
        if not rng and drop is not None and not dropped:
            dropped = True
            self.wfile.write(body[:drop])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
srv.daemon_threads = True
if tls:
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
