// Node's built-in `http2` (no packages) as an RFC 8441 client of our H2WebSocketServer, over
// cleartext HTTP/2 with prior knowledge. Two WebSockets at once on one session, each: a text
// echo, a binary echo larger than Node's 64 KiB default window, a ping and its pong, the close
// handshake (1000) and the end of the stream; beside them a third that this side resets
// (RST_STREAM CANCEL) after a text echo, a fourth that the server closes (1001), a fifth with
// permessage-deflate (Node's zlib, no context takeover), and a sixth that the server floods
// while this side reads nothing, then resets; then the full exchange again on a second
// session that pads its frames, and on a third whose stream windows are 1000 bytes.
// Frames are written and read by hand (ws_frames.mjs): masked out, unmasked in.
// Prints result lines the Rust test compares exactly; any failure exits 1.
// Usage: node h2_client.mjs PORT
import http2 from "node:http2";
import {
  BINARY, CLOSE, PING, PONG, TEXT, FrameReader, closePayload, deflateMessage, encodeFrame,
  inflateMessage, pattern,
} from "./ws_frames.mjs";

const port = process.argv[2];
const BIG = 100 * 1024;

const fail = (why) => {
  console.error(`h2_client: ${why}`);
  process.exit(1);
};
setTimeout(() => fail("timed out"), 20000).unref();

/// The next frame or message from `stream`, in order (`deflate`: permessage-deflate is on).
const frames = (stream, name, deflate = false) => {
  const reader = new FrameReader(false, deflate);
  const queue = [];
  const waiters = [];
  let ended = false;
  const deliver = () => {
    while (waiters.length && (queue.length || ended)) {
      waiters.shift()(queue.length ? queue.shift() : null);
    }
  };
  stream.on("data", (chunk) => {
    try {
      queue.push(...reader.push(chunk));
    } catch (e) {
      fail(`${name}: ${e.message}`);
    }
    deliver();
  });
  stream.on("end", () => {
    ended = true;
    deliver();
  });
  return () => new Promise((resolve) => {
    waiters.push(resolve);
    deliver();
  });
};

/// One WebSocket on `session` at `path`: the full exchange; with `plan` "reset" a text echo and
/// then RST_STREAM CANCEL from this side; with "server-closes" a text echo, then the server's
/// close, answered; with "flood" nothing read for 300 ms while the server sends, then
/// RST_STREAM CANCEL. Resolves to its result lines.
const websocket = (session, name, path, plan = "full") => new Promise((resolve) => {
  const lines = [];
  const stream = session.request(
    {
      ":method": "CONNECT",
      ":protocol": "websocket",
      ":path": path,
      ":scheme": "http",
      ":authority": `127.0.0.1:${port}`,
      "sec-websocket-version": "13",
      "sec-websocket-protocol": "chat",
    },
    { endStream: false },
  );
  stream.on("error", (e) => fail(`${name} stream: ${e.message}`));
  const next = frames(stream, name);
  const expect = async (what) => {
    const f = await next();
    if (!f) fail(`${name}: the stream ended before ${what}`);
    return f;
  };
  stream.on("response", async (headers) => {
    const status = headers[":status"];
    lines.push(`${name} status=${status} protocol=${headers["sec-websocket-protocol"]}`);
    if (headers[":status"] !== 200) fail(`${name}: status ${headers[":status"]}`);
    if (plan === "flood") {
      // The server sends without end; we read nothing, so its writes wait on our window, and
      // then we reset the stream: its blocked write must fail at once.
      stream.pause();
      setTimeout(() => {
        stream.on("close", () => {
          lines.push(`${name} rst=${stream.rstCode}`);
          resolve(lines);
        });
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }, 300);
      return;
    }

    const text = `hello over HTTP/2 from node ${name}`;
    stream.write(encodeFrame(TEXT, Buffer.from(text), true));
    let f = await expect("the text echo");
    if (f.opcode !== TEXT) fail(`${name}: expected text, got opcode ${f.opcode}`);
    lines.push(`${name} text=${f.payload.toString("utf8")}`);
    if (plan === "reset") {
      stream.on("close", () => {
        lines.push(`${name} rst=${stream.rstCode}`);
        resolve(lines);
      });
      stream.close(http2.constants.NGHTTP2_CANCEL);
      return;
    }
    if (plan === "server-closes") {
      f = await expect("the server's close");
      if (f.opcode !== CLOSE) fail(`${name}: expected a close, got opcode ${f.opcode}`);
      const code = f.payload.readUInt16BE(0);
      lines.push(`${name} close=${code} reason=${f.payload.subarray(2).toString("utf8")}`);
      // Our reply; the server then ends the stream, and so do we.
      stream.write(encodeFrame(CLOSE, closePayload(code), true));
      f = await next();
      if (f) fail(`${name}: a frame after the close: opcode ${f.opcode}`);
      lines.push(`${name} end`);
      stream.end();
      stream.on("close", () => {
        lines.push(`${name} rst=${stream.rstCode}`);
        resolve(lines);
      });
      return;
    }

    const big = pattern(BIG, name.charCodeAt(0));
    stream.write(encodeFrame(BINARY, big, true));
    f = await expect("the binary echo");
    if (f.opcode !== BINARY) fail(`${name}: expected binary, got opcode ${f.opcode}`);
    lines.push(`${name} binary=${f.payload.length} same=${f.payload.equals(big)}`);

    stream.write(encodeFrame(PING, Buffer.from(`ping ${name}`), true));
    f = await expect("the pong");
    if (f.opcode !== PONG) fail(`${name}: expected a pong, got opcode ${f.opcode}`);
    lines.push(`${name} pong=${f.payload.toString("utf8")}`);

    stream.write(encodeFrame(CLOSE, closePayload(1000, "bye"), true));
    f = await expect("the close reply");
    if (f.opcode !== CLOSE) fail(`${name}: expected a close, got opcode ${f.opcode}`);
    lines.push(`${name} close=${f.payload.readUInt16BE(0)}`);
    // The server ends its side after the close handshake (END_STREAM); then so do we.
    f = await next();
    if (f) fail(`${name}: a frame after the close: opcode ${f.opcode}`);
    lines.push(`${name} end`);
    stream.end();
    stream.on("close", () => {
      lines.push(`${name} rst=${stream.rstCode}`);
      resolve(lines);
    });
  });
});

/// One WebSocket with permessage-deflate (Node's zlib, no context takeover): the offer and the
/// server's answer, a compressed text and binary message each way, the close handshake.
/// Resolves to its result lines.
const deflateWebsocket = (session, name, path) => new Promise((resolve) => {
  const lines = [];
  const stream = session.request(
    {
      ":method": "CONNECT",
      ":protocol": "websocket",
      ":path": path,
      ":scheme": "http",
      ":authority": `127.0.0.1:${port}`,
      "sec-websocket-version": "13",
      "sec-websocket-extensions": "permessage-deflate",
    },
    { endStream: false },
  );
  stream.on("error", (e) => fail(`${name} stream: ${e.message}`));
  const next = frames(stream, name, true);
  const expect = async (what) => {
    const f = await next();
    if (!f) fail(`${name}: the stream ended before ${what}`);
    return f;
  };
  const echo = async (opcode, message) => {
    stream.write(encodeFrame(opcode, deflateMessage(message), true, true));
    const f = await expect("the echo");
    if (f.opcode !== opcode) fail(`${name}: expected opcode ${opcode}, got ${f.opcode}`);
    const payload = f.rsv1 ? inflateMessage(f.payload) : f.payload;
    const smaller = f.payload.length < payload.length;
    return `compressed=${f.rsv1} smaller=${smaller} same=${payload.equals(message)}`;
  };
  stream.on("response", async (headers) => {
    const status = headers[":status"];
    lines.push(`${name} status=${status} extensions=${headers["sec-websocket-extensions"]}`);
    if (status !== 200) fail(`${name}: status ${status}`);
    if (!/^permessage-deflate\b/.test(headers["sec-websocket-extensions"] || "")) {
      fail(`${name}: permessage-deflate was not accepted`);
    }
    const text = Buffer.from("compress me over HTTP/2 ".repeat(200));
    lines.push(`${name} text ${await echo(TEXT, text)}`);
    lines.push(`${name} binary ${await echo(BINARY, Buffer.alloc(100 * 1024, 0x2a))}`);
    stream.write(encodeFrame(CLOSE, closePayload(1000), true));
    const f = await expect("the close reply");
    if (f.opcode !== CLOSE) fail(`${name}: expected a close, got opcode ${f.opcode}`);
    lines.push(`${name} close=${f.payload.readUInt16BE(0)}`);
    if (await next()) fail(`${name}: a frame after the close`);
    lines.push(`${name} end`);
    stream.end();
    stream.on("close", () => {
      lines.push(`${name} rst=${stream.rstCode}`);
      resolve(lines);
    });
  });
});

/// A session whose server enabled extended CONNECT (checked), with `options`.
const connect = (options) => new Promise((resolve) => {
  const session = http2.connect(`http://127.0.0.1:${port}`, options);
  session.on("error", (e) => fail(`session: ${e.message}`));
  session.once("remoteSettings", (settings) => {
    console.log(`enableConnectProtocol=${settings.enableConnectProtocol}`);
    if (!settings.enableConnectProtocol) fail("the server did not enable extended CONNECT");
    resolve(session);
  });
});
const print = (results) => {
  for (const lines of results) for (const line of lines) console.log(line);
};

// Six at once on one session: two full exchanges, one this side resets, one the server
// closes, one compressed, one the server floods until this side resets it.
const session = await connect({});
print(await Promise.all([
  websocket(session, "a", "/chat"),
  websocket(session, "b", "/chat"),
  websocket(session, "c", "/reset", "reset"),
  websocket(session, "x", "/server-closes", "server-closes"),
  deflateWebsocket(session, "z", "/deflate"),
  websocket(session, "f", "/flood", "flood"),
]));
// And on a session that pads every frame as much as it can (padding counts in flow control).
const padded = await connect({ paddingStrategy: http2.constants.PADDING_STRATEGY_MAX });
print([await websocket(padded, "p", "/padded")]);
await new Promise((resolve) => padded.close(resolve));
// And on a session whose stream windows are tiny: the server's writes wait for WINDOW_UPDATEs.
const narrow = await connect({ settings: { initialWindowSize: 1000 } });
print([await websocket(narrow, "w", "/narrow")]);
await new Promise((resolve) => narrow.close(resolve));
await new Promise((resolve) => session.close(resolve));
process.exit(0);
