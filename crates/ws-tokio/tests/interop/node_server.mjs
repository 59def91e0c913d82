// Interop: Node's `ws` as an echo server for a sockudo-ws client.
//
// Usage: node node_server.mjs
//
// Binds 127.0.0.1 on port 0 and prints the port on stdout. Echoes every message (text as text,
// binary as binary). Exits when stdin closes (the test holds it open), or after 120 s at most.
// Exits 3 when `ws` is not installed.
import { loadWs } from './node_common.mjs';

const { WebSocketServer } = await loadWs();

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 << 20 });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', (e) => console.error(`node_server: ${e.message}`));
});
wss.on('listening', () => console.log(wss.address().port));

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
setTimeout(() => process.exit(0), 120_000).unref();
