"""A gRPC server for brownout's tests: the Echo service of echo.proto.

Usage: server.py GENERATED_DIR [--port N] [--tls CERT KEY] [--forever].
Listens on 127.0.0.1 (on port N, else one of the system's choosing), prints
`port N` on stdout, and serves until stdin closes (so it never outlives the
test that started it), or with --forever until it is killed.
"""

import sys
from concurrent import futures

sys.path.insert(0, sys.argv[1])

import grpc  # noqa: E402
import echo_pb2  # noqa: E402
import echo_pb2_grpc  # noqa: E402


class Echo(echo_pb2_grpc.EchoServicer):
    def Unary(self, request, context):
        return echo_pb2.Chunk(data=request.data[::-1])

    def Split(self, request, context):
        # The first byte says how many chunks; the rest is the payload.
        count = request.data[0]
        for i in range(count):
            yield echo_pb2.Chunk(data=request.data[1:] + bytes([i]))

    def Join(self, request_iterator, context):
        return echo_pb2.Chunk(data=b"".join(c.data for c in request_iterator))

    def Chat(self, request_iterator, context):
        for c in request_iterator:
            yield echo_pb2.Chunk(data=c.data[::-1])


def main():
    args = sys.argv[2:]
    port, tls, forever = 0, None, False
    while args:
        arg = args.pop(0)
        if arg == "--port":
            port = int(args.pop(0))
        elif arg == "--tls":
            tls = (args.pop(0), args.pop(0))
        elif arg == "--forever":
            forever = True
        else:
            sys.exit(f"server.py: unknown argument {arg!r}")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    echo_pb2_grpc.add_EchoServicer_to_server(Echo(), server)
    if tls:
        with open(tls[0], "rb") as c, open(tls[1], "rb") as k:
            creds = grpc.ssl_server_credentials([(k.read(), c.read())])
        port = server.add_secure_port(f"127.0.0.1:{port}", creds)
    else:
        port = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print(f"port {port}", flush=True)
    if forever:
        server.wait_for_termination()
    else:
        sys.stdin.read()
    server.stop(0)


if __name__ == "__main__":
    main()
