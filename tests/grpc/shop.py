"""A small HTTP application that depends on a gRPC service: the example of
experiments/grpc-pricing-unavailable.toml.

Usage: shop.py GENERATED_DIR LISTEN_PORT PRICING_ADDRESS. `GET /quote`
prices a cart by calling the Echo service's Unary method (the "pricing"
dependency) with a 500 ms deadline. When pricing fails (UNAVAILABLE, or its
deadline passes), the shop degrades gracefully: a 503 with a sentence and
Retry-After, never a stack trace. Serves until killed.
"""

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, sys.argv[1])

import grpc  # noqa: E402
import echo_pb2  # noqa: E402
import echo_pb2_grpc  # noqa: E402

channel = grpc.insecure_channel(sys.argv[3])
pricing = echo_pb2_grpc.EchoStub(channel)


class Shop(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path != "/quote":
            self.answer(404, "no such page\n")
            return
        try:
            price = pricing.Unary(echo_pb2.Chunk(data=b"cart:3 items"), timeout=0.5)
            self.answer(200, f"your quote: {price.data[::-1].decode()}\n")
        except grpc.RpcError as e:
            self.answer(
                503,
                f"Pricing is unavailable right now ({e.code().name.lower()}), please try again in a few seconds.\n",
                retry_after="5",
            )

    def answer(self, status, text, retry_after=None):
        body = text.encode()
        self.send_response(status)
        self.send_header("content-type", "text/plain; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        if retry_after:
            self.send_header("retry-after", retry_after)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Shop).serve_forever()
