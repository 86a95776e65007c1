"""A gRPC client for brownout's tests: calls the Echo service at an address
and prints one JSON line per call saying what came back.

Usage: client.py GENERATED_DIR ADDRESS SCENARIO. Scenarios:
  calls     unary, server-, client- and bidirectional streaming with seeded
            random payloads, each checked byte for byte
  status    one unary call; prints the status code and details it ended with
  deadline  one unary call with a 300 ms deadline; prints how it ended and
            how long it took
"""

import json
import random
import sys
import time

sys.path.insert(0, sys.argv[1])

import grpc  # noqa: E402
import echo_pb2  # noqa: E402
import echo_pb2_grpc  # noqa: E402


def report(**fields):
    print(json.dumps(fields), flush=True)


def calls(stub):
    rng = random.Random(7)
    data = rng.randbytes(200_000)
    got = stub.Unary(echo_pb2.Chunk(data=data), timeout=10)
    report(call="unary", ok=got.data == data[::-1], size=len(got.data))

    payload = rng.randbytes(50_000)
    chunks = list(stub.Split(echo_pb2.Chunk(data=bytes([20]) + payload), timeout=10))
    ok = len(chunks) == 20 and all(c.data == payload + bytes([i]) for i, c in enumerate(chunks))
    report(call="server_streaming", ok=ok, chunks=len(chunks))

    parts = [rng.randbytes(rng.randrange(1, 40_000)) for _ in range(30)]
    got = stub.Join(iter(echo_pb2.Chunk(data=p) for p in parts), timeout=10)
    report(call="client_streaming", ok=got.data == b"".join(parts), size=len(got.data))

    parts = [rng.randbytes(rng.randrange(1, 20_000)) for _ in range(25)]
    answers = list(stub.Chat(iter(echo_pb2.Chunk(data=p) for p in parts), timeout=10))
    ok = len(answers) == len(parts) and all(a.data == p[::-1] for a, p in zip(answers, parts))
    report(call="bidi_streaming", ok=ok, chunks=len(answers))


def status(stub):
    try:
        stub.Unary(echo_pb2.Chunk(data=b"hello"), timeout=10)
        report(code="OK", details="")
    except grpc.RpcError as e:
        report(code=e.code().name, details=e.details())


def deadline(stub):
    started = time.monotonic()
    try:
        stub.Unary(echo_pb2.Chunk(data=b"hello"), timeout=0.3)
        code = "OK"
    except grpc.RpcError as e:
        code = e.code().name
    report(code=code, seconds=time.monotonic() - started)


def main():
    _, _, address, scenario = sys.argv
    with grpc.insecure_channel(address) as channel:
        stub = echo_pb2_grpc.EchoStub(channel)
        {"calls": calls, "status": status, "deadline": deadline}[scenario](stub)


if __name__ == "__main__":
    main()
