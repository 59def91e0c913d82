// Node's built-in `http2` (no packages) as an RFC 8441 server for our H2WebSocketClient, over
// cleartext HTTP/2 with prior knowledge, on 127.0.0.1.
//
//   node h2_server.mjs ws     enableConnectProtocol: each extended CONNECT (`:protocol`
//                             websocket) is answered 200 with the subprotocol `chat` when
//                             offered, and its WebSocket frames (masked, read by hand) are
//                             echoed unmasked: text and binary as they came, a ping as a pong,
//                             a close with the same code, after which the stream ends. After
//                             each text echo it sends a ping of its own and logs the pong.
//                             Two paths misbehave on purpose: `/forbidden` is answered 403,
//                             and `/reset` answers its first message with RST_STREAM CANCEL;
//                             `/goaway` closes the session gracefully (GOAWAY) once answered.
//   node h2_server.mjs plain  a plain HTTP/2 server (no extended CONNECT) that answers any
//                             request 405.
//
// Prints `listening PORT` first, then one line per event, prefixed with the request's path
// (`/a text=...`); when its standard input ends it prints `requests=N` and exits 0. Any
// failure exits 1. The compatibility API ('request') answers CONNECT 405 by itself, so this
// uses the 'stream' event.
import http2 from "node:http2";
import { CLOSE, PING, PONG, FrameReader, encodeFrame } from "./ws_frames.mjs";

const mode = process.argv[2];
if (mode !== "ws" && mode !== "plain") {
  console.error("usage: node h2_server.mjs ws|plain");
  process.exit(2);
}
const fail = (why) => {
  console.error(`h2_server: ${why}`);
  process.exit(1);
};
setTimeout(() => fail("still running after 60 s"), 60000).unref();

let requests = 0;
const settings = mode === "ws" ? { enableConnectProtocol: true } : {};
const server = http2.createServer({ settings });
server.on("sessionError", (e) => fail(`session: ${e.message}`));

server.on("stream", (stream, headers) => {
  requests++;
  const path = headers[":path"];
  const log = (line) => console.log(`${path} ${line}`);
  log(
    `request method=${headers[":method"]} protocol=${headers[":protocol"]} ` +
      `scheme=${headers[":scheme"]} version=${headers["sec-websocket-version"]} ` +
      `subprotocols=${headers["sec-websocket-protocol"]}`,
  );
  stream.on("error", (e) => fail(`${path} stream: ${e.message}`));
  const websocket = headers[":method"] === "CONNECT" && headers[":protocol"] === "websocket";
  if (mode === "plain" || !websocket) {
    stream.respond({ ":status": 405 }, { endStream: true });
    return;
  }
  if (path === "/forbidden") {
    stream.respond({ ":status": 403 }, { endStream: true });
    return;
  }
  const offered = (headers["sec-websocket-protocol"] || "").split(",").map((s) => s.trim());
  const response = { ":status": 200 };
  if (offered.includes("chat")) response["sec-websocket-protocol"] = "chat";
  stream.respond(response);
  if (path === "/goaway") {
    // A graceful close of the whole session (GOAWAY): this stream goes on, no new one opens.
    stream.session.close();
    log("session closing");
  }

  const reader = new FrameReader(true);
  let closed = false;
  stream.on("data", (chunk) => {
    let frames;
    try {
      frames = reader.push(chunk);
    } catch (e) {
      fail(`${path}: ${e.message}`);
    }
    for (const { opcode, payload } of frames) {
      if (closed) fail(`${path}: a frame after the close: opcode ${opcode}`);
      if (opcode === 0x1) {
        log(`text=${payload.toString("utf8")}`);
        if (path === "/reset") {
          log("reset");
          stream.close(http2.constants.NGHTTP2_CANCEL);
          return;
        }
        stream.write(encodeFrame(opcode, payload, false));
        // And a ping of our own, which the client must answer (masked) with a pong.
        stream.write(encodeFrame(PING, Buffer.from(`from node ${path}`), false));
      } else if (opcode === 0x2) {
        log(`binary=${payload.length}`);
        stream.write(encodeFrame(opcode, payload, false));
      } else if (opcode === PING) {
        log(`ping=${payload.toString("utf8")}`);
        stream.write(encodeFrame(PONG, payload, false));
      } else if (opcode === PONG) {
        log(`pong=${payload.toString("utf8")}`);
      } else if (opcode === CLOSE) {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        log(`close=${code}`);
        closed = true;
        // Echo the close, then end our side (END_STREAM), as a TCP server would close.
        stream.end(encodeFrame(CLOSE, payload.subarray(0, 2), false));
      } else {
        fail(`${path}: opcode ${opcode}`);
      }
    }
  });
  stream.on("end", () => log("end"));
  stream.on("close", () => log(`closed rst=${stream.rstCode}`));
});

server.listen(0, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
process.stdin.resume();
process.stdin.on("end", () => {
  console.log(`requests=${requests}`);
  process.exit(0);
});
