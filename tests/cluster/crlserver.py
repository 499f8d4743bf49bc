#!/usr/bin/env python3
"""crlserver.py ROOT SLOW_SECONDS - serves the files of ROOT over HTTP on
127.0.0.1, on a port of its own choosing, which it prints on the first
line of its output, for the tests of crl_cache ssl_crl_cache.

  /slow/PATH   ROOT/PATH, after SLOW_SECONDS (a CRL server slower than the
               timeout)
  /PATH        ROOT/PATH; 404 if there is no such file

Each request's path is appended to ROOT/requests.log as it comes in.

Each request is served in a thread of its own, so a slow one holds up no
other.  It runs until killed."""
import http.server
import os
import sys
import time

root, slow = sys.argv[1], float(sys.argv[2])


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        path = self.path.split("?", 1)[0]
        with open(os.path.join(root, "requests.log"), "a") as log:
            log.write(path + "\n")
        if path.startswith("/slow/"):
            time.sleep(slow)
            path = path[len("/slow"):]
        name = os.path.join(root, path.lstrip("/"))
        if "/.." in path or not os.path.isfile(name):
            self.send_error(404)
            return
        with open(name, "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/pkix-crl")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout)

    def log_message(self, fmt, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
