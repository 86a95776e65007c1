"""A small shop instrumented with the OpenTelemetry SDK: its server side by
opentelemetry-instrumentation-wsgi, its calls by
opentelemetry-instrumentation-requests, so W3C trace context flows from the
request it serves to the calls it makes with no tracing code here.

  POST /checkout        calls payments  (PAYMENTS_URL/v1/charges); when the
                        call fails: 503 "please try again" (graceful)
  GET  /products/<id>   calls inventory (INVENTORY_URL/stock/<id>); when the
                        call fails: 500 with a traceback (ungraceful)

Prints "port N" once it listens; stops when its stdin closes."""

import os
import socketserver
import sys
import threading
import traceback
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import requests
from opentelemetry import trace
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

trace.set_tracer_provider(TracerProvider(resource=Resource.create({"service.name": "shop"})))
RequestsInstrumentor().instrument()

PAYMENTS = os.environ["PAYMENTS_URL"]
INVENTORY = os.environ["INVENTORY_URL"]
session = requests.Session()


def shop(environ, start_response):
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
    if method == "POST" and path == "/checkout":
        try:
            ok = session.post(f"{PAYMENTS}/v1/charges", data=b'{"cents": 1299}', timeout=5).status_code < 500
        except requests.RequestException:
            ok = False
        if ok:
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"order placed\n"]
        start_response("503 Service Unavailable", [("Content-Type", "text/plain"), ("Retry-After", "5")])
        return [b"Payments are busy, please try again in a minute.\n"]
    if method == "GET" and path.startswith("/products/"):
        item = path.rsplit("/", 1)[-1]
        try:
            resp = session.get(f"{INVENTORY}/stock/{item}", timeout=5)
            resp.raise_for_status()
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [f"product {item} in stock\n".encode()]
        except requests.RequestException:
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [traceback.format_exc().encode()]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no such page\n"]


class Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


server = make_server("127.0.0.1", 0, OpenTelemetryMiddleware(shop), server_class=Server, handler_class=Quiet)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(f"port {server.server_address[1]}", flush=True)
sys.stdin.read()
server.shutdown()
