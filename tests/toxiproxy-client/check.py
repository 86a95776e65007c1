"""Drives brownout's Toxiproxy-compatible API with toxiproxy-python, a
client brownout's authors did not write, and checks the effect on the wire.

Usage: python check.py ADMIN_PORT
"""
import socket
import sys
import threading
import time

import requests
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic


def echo_server():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)

    def serve():
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=lambda c=conn: pump(c), daemon=True).start()

    def pump(conn):
        while True:
            data = conn.recv(4096)
            if not data:
                conn.close()
                return
            conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1]


def round_trip(port, payload=b"ping"):
    """Seconds for `payload` to come back through the proxy."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        started = time.monotonic()
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = s.recv(4096)
            assert chunk, "the proxy closed the connection"
            got += chunk
        assert got == payload, got
        return time.monotonic() - started


def main():
    APIConsumer.host, APIConsumer.port = "127.0.0.1", int(sys.argv[1])
    admin = "http://127.0.0.1:%s" % sys.argv[1]
    server = Toxiproxy()
    assert server.running()
    upstream = "127.0.0.1:%d" % echo_server()
    proxy = server.create(upstream=upstream, name="python_echo")
    port = int(proxy.listen.rsplit(":", 1)[1])
    assert round_trip(port) < 0.2, "pass-through is slow"

    proxy.add_toxic(type="latency", attributes={"latency": 300})
    took = round_trip(port)
    assert 0.28 <= took < 1.5, "latency toxic not applied: %.3f s" % took
    assert list(proxy.toxics()) == ["latency_downstream"], proxy.toxics()

    # Attributes are checked as brownout checks its own faults.
    try:
        proxy.add_toxic(name="bad", type="latency", attributes={"latency": "abc"})
        raise AssertionError("a latency of \"abc\" was accepted")
    except InvalidToxic as e:
        assert b"attributes.latency must be a whole number of milliseconds" in e.args[0], e.args[0]

    proxy.destroy_toxic("latency_downstream")
    assert round_trip(port) < 0.2, "the toxic was not removed"

    with proxy.down():
        try:
            round_trip(port)
            raise AssertionError("a disabled proxy passed bytes")
        except OSError:
            pass
    assert round_trip(port) < 0.2, "the proxy did not come back"

    # A browser page from another origin cannot do the same.
    refused = requests.post(
        admin + "/proxies",
        data='{"name": "evil", "upstream": "127.0.0.1:22"}',
        headers={"Origin": "http://evil.example", "Content-Type": "text/plain"},
    )
    assert refused.status_code == 403, refused.text
    assert server.get_proxy("evil") is None

    proxy.destroy()
    assert server.get_proxy("python_echo") is None
    print("toxiproxy-python %s: proxies, toxics, checks and origins as expected" % "0.1.1")


if __name__ == "__main__":
    main()
