"""The example's web app: answers with the greeting stored in Redis."""
import http.server
import os
import socket

REDIS_PORT = int(os.environ["REDIS_PORT"])
WEB_PORT = int(os.environ["WEB_PORT"])


def redis_get(key):
    with socket.create_connection(("127.0.0.1", REDIS_PORT), timeout=2) as s:
        f = s.makefile("rb")
        s.sendall(f"GET {key}\r\n".encode())
        header = f.readline()
        if not header.startswith(b"$") or header.startswith(b"$-1"):
            return None
        return f.read(int(header[1:])).decode()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            body = b"ok\n"
        else:
            body = f"{redis_get('greeting')}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


print(f"web: listening on {WEB_PORT}", flush=True)
http.server.HTTPServer(("127.0.0.1", WEB_PORT), Handler).serve_forever()
