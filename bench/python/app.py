"""The Python peers' application: a plain WSGI callable serving the same two
routes as every other peer (`/` plaintext, `/json` serialized per request)."""
import json

PLAINTEXT = b"Hello from server."


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/json":
        body = json.dumps({"message": "Hello, World!"}).encode()
        content_type = "application/json"
    else:
        body = PLAINTEXT
        content_type = "text/plain"
    start_response("200 OK", [("Content-Type", content_type),
                              ("Content-Length", str(len(body)))])
    return [body]
