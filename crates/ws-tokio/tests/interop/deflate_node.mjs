// Compression interop: Node's `ws` with perMessageDeflate, as client or server.
//
// Usage:
//   node deflate_node.mjs server '<json>'       echo server; prints its port on stdout
//   node deflate_node.mjs client URL '<json>'   sends the message set, checks every echo
//
// <json> is ws's `perMessageDeflate` option object (serverNoContextTakeover,
// clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits, threshold, ...). The client
// prints `OK <messages> <bytes> <negotiated extensions>`; the server prints `EXT <...>` per
// connection on stderr and exits when stdin closes or after 120 s. Exits 3 without `ws`.
import { loadWs } from './node_common.mjs';

const { WebSocket, WebSocketServer } = await loadWs();

/** xorshift32, deterministic. */
function rng(seed) {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

function jsonLike(size, r) {
  let out = '';
  let i = 0;
  while (out.length < size) {
    out += `{"id":${i},"user":"user${r(1000)}","price":${r(10000)}.${r(100)},"tags":["a${r(7)}","b"],"ok":${r(2) === 0}},`;
    i += 1;
  }
  return out.slice(0, size);
}

function messages() {
  const r = rng(7692);
  const sizes = [1, 10, 100, 1000, 5000, 20000, 70000, 200000];
  const out = [];
  for (let i = 0; i < 240; i++) {
    const size = sizes[i % sizes.length] + r(50);
    const kind = i % 6;
    if (kind === 4) {
      const b = Buffer.alloc(Math.min(size, 50000));
      for (let k = 0; k < b.length; k++) b[k] = r(256);
      out.push(b);
    } else if (kind === 5) {
      out.push(Buffer.from(jsonLike(size, r)));
    } else {
      out.push(jsonLike(size, r));
    }
  }
  out.push(jsonLike(1 << 20, r) + '\u00e9\u20ac\u{1d11e}');
  out.push(Buffer.from(jsonLike(4 << 20, r)));
  return out;
}

function same(a, b) {
  return typeof a === 'string' ? typeof b === 'string' && a === b : Buffer.isBuffer(b) && a.equals(b);
}

function runClient(url, opts) {
  const msgs = messages();
  const ws = new WebSocket(url, { perMessageDeflate: opts, maxPayload: 64 << 20 });
  let i = 0;
  let total = 0;
  ws.on('open', () => {
    if (!ws.extensions.includes('permessage-deflate')) {
      console.log(`permessage-deflate was not negotiated: '${ws.extensions}'`);
      process.exit(1);
    }
    ws.send(msgs[0]);
  });
  ws.on('message', (data, isBinary) => {
    const got = isBinary ? data : data.toString('utf8');
    if (!same(msgs[i], got)) {
      console.log(`message ${i} differs`);
      process.exit(1);
    }
    total += Buffer.byteLength(msgs[i]);
    i += 1;
    if (i === msgs.length) {
      console.log(`OK ${msgs.length} ${total} ${ws.extensions}`);
      ws.close(1000);
    } else {
      ws.send(msgs[i]);
    }
  });
  ws.on('close', () => process.exit(i === msgs.length ? 0 : 1));
  ws.on('error', (e) => {
    console.log(`client error: ${e.message}`);
    process.exit(1);
  });
}

function runServer(opts) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: opts, maxPayload: 64 << 20 });
  wss.on('connection', (ws) => {
    console.error(`EXT ${ws.extensions}`);
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', (e) => console.error(`deflate_node server: ${e.message}`));
  });
  wss.on('listening', () => console.log(wss.address().port));
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
  setTimeout(() => process.exit(0), 120_000).unref();
}

if (process.argv[2] === 'server') {
  runServer(JSON.parse(process.argv[3]));
} else {
  runClient(process.argv[3], JSON.parse(process.argv[4]));
}
