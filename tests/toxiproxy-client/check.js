// Drives brownout's Toxiproxy-compatible API with toxiproxy-node-client, a
// client brownout's authors did not write, and checks the effect on the wire.
// Usage: node check.js http://127.0.0.1:ADMIN_PORT
"use strict";
const net = require("net");
const assert = require("assert");
const { Toxiproxy } = require("toxiproxy-node-client");

const admin = process.argv[2];

function echoServer() {
  return new Promise((resolve) => {
    const server = net.createServer((s) => s.pipe(s));
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

function connect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => resolve(s));
    s.once("error", reject);
  });
}

// Sends `n` bytes and times how long until they all come back.
function roundTrip(s, n = 4) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let got = 0;
    const onData = (d) => {
      got += d.length;
      if (got >= n) {
        s.off("data", onData);
        resolve(Date.now() - started);
      }
    };
    s.on("data", onData);
    s.once("error", reject);
    s.once("close", () => reject(new Error("closed")));
    s.write(Buffer.alloc(n, 120));
    setTimeout(() => reject(new Error("no answer in 10 s")), 10000).unref();
  });
}

async function main() {
  const echo = await echoServer();
  const upstream = `127.0.0.1:${echo.address().port}`;
  const toxiproxy = new Toxiproxy(admin);

  const version = await toxiproxy.getVersion();
  assert.ok(version.length > 0, "a version");

  const proxy = await toxiproxy.createProxy({ name: "cache", listen: "127.0.0.1:0", upstream });
  const port = Number(proxy.listen.split(":").pop());
  assert.ok(port > 0, "the ephemeral port is filled in");
  let s = await connect(port);
  assert.ok((await roundTrip(s)) < 150, "fast without toxics");

  // Latency, seen by the client.
  const latency = await proxy.addToxic({ type: "latency", stream: "downstream", toxicity: 1, attributes: { latency: 200, jitter: 0 } });
  assert.strictEqual(latency.name, "latency_downstream");
  const slow = await roundTrip(s);
  assert.ok(slow >= 190, `latency seen: ${slow} ms`);
  await latency.update({ attributes: { latency: 0, jitter: 0 } });
  assert.ok((await roundTrip(s)) < 150, "latency updated to 0");
  await latency.remove();

  // Every other kind, added, read back and removed.
  const kinds = [
    ["bandwidth", { rate: 100 }],
    ["slow_close", { delay: 10 }],
    ["timeout", { timeout: 0 }],
    ["slicer", { average_size: 64, size_variation: 8, delay: 10 }],
    ["limit_data", { bytes: 1000000 }],
    ["reset_peer", { timeout: 0 }],
  ];
  for (const [type, attributes] of kinds) {
    const toxic = await proxy.addToxic({ type, stream: "upstream", toxicity: 0, attributes });
    const read = await proxy.getToxic(toxic.name);
    assert.strictEqual(read.type, type);
    assert.strictEqual(read.stream, "upstream");
  }
  // Toxicity 0: none of them has any effect.
  s.destroy();
  s = await connect(port);
  assert.ok((await roundTrip(s)) < 150, "toxicity 0 toxics have no effect");
  const all = await toxiproxy.get("cache");
  for (const [type] of kinds) {
    await (await all.getToxic(`${type}_upstream`)).remove();
  }

  // Disabled: refused; enabled: accepted again.
  await proxy.update({ enabled: false, listen: proxy.listen, upstream });
  await assert.rejects(connect(port), "a disabled proxy refuses connections");
  await proxy.update({ enabled: true, listen: proxy.listen, upstream });
  s.destroy();
  s = await connect(port);
  await roundTrip(s);

  // Populate and reset.
  const proxies = await toxiproxy.populate([
    { name: "cache", listen: proxy.listen, upstream },
    { name: "db", listen: "127.0.0.1:0", upstream },
  ]);
  assert.ok(proxies.cache && proxies.db, "populate answers every proxy");
  await proxies.db.addToxic({ type: "latency", attributes: { latency: 50, jitter: 0 } });
  await toxiproxy.reset();
  const after = await toxiproxy.getAll();
  await assert.rejects(after.db.getToxic("latency_downstream"), "reset removes every toxic");
  await after.db.remove();
  assert.ok(!(await toxiproxy.getAll()).db, "removed");

  s.destroy();
  echo.close();
  console.log("toxiproxy-node-client: every call answered, latency and refusal seen on the wire");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
