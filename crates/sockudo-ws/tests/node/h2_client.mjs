// A WebSocket over HTTP/2 (RFC 8441) with Node's built-in `http2` module, no packages: an
// extended CONNECT to ws://127.0.0.1:PORT/ws, one masked text frame, its echo, a close.
// Prints `status=<code>` and `echo=<text>` and exits 0; any failure exits 1.
// Usage: node h2_client.mjs PORT
import http2 from "node:http2";

const port = process.argv[2];
const MESSAGE = "hello over HTTP/2 from node";

const fail = (why) => {
  console.error(`h2_client: ${why}`);
  process.exit(1);
};
setTimeout(() => fail("timed out"), 15000).unref();

/// A masked client frame with a payload shorter than 126 bytes.
const frame = (opcode, payload) => {
  const mask = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  const head = Buffer.from([0x80 | opcode, 0x80 | payload.length]);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([head, mask, body]);
};

const session = http2.connect(`http://127.0.0.1:${port}`);
session.on("error", (e) => fail(`session: ${e.message}`));
session.on("remoteSettings", (settings) => {
  if (!settings.enableConnectProtocol) fail("the server did not enable extended CONNECT");
  const stream = session.request(
    {
      ":method": "CONNECT",
      ":protocol": "websocket",
      ":path": "/ws",
      ":scheme": "http",
      ":authority": `127.0.0.1:${port}`,
      "sec-websocket-version": "13",
    },
    { endStream: false },
  );
  stream.on("error", (e) => fail(`stream: ${e.message}`));
  stream.on("response", (headers) => {
    const status = headers[":status"];
    console.log(`status=${status}`);
    if (status !== 200) fail(`status ${status}`);
    stream.write(frame(0x1, [...Buffer.from(MESSAGE)]));
  });
  let buf = Buffer.alloc(0);
  let echoed = false;
  stream.on("data", (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    if (!echoed && buf.length >= 2 && buf.length >= 2 + (buf[1] & 0x7f)) {
      if (buf[0] !== 0x81 || (buf[1] & 0x80) !== 0) fail(`unexpected frame header ${buf[0]} ${buf[1]}`);
      const len = buf[1] & 0x7f;
      console.log(`echo=${buf.subarray(2, 2 + len).toString("utf8")}`);
      buf = buf.subarray(2 + len);
      echoed = true;
      // Close 1000; the server answers with its close and ends the stream.
      stream.write(frame(0x8, [0x03, 0xe8]));
    }
    if (echoed && buf.length >= 4) {
      if (buf[0] !== 0x88) fail(`expected a close frame, got ${buf[0]}`);
      console.log(`close=${buf.readUInt16BE(2)}`);
      stream.close();
      session.close();
    }
  });
});
