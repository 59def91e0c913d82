// Interop: Node's `ws` as an echo server for a sockudo-ws client.
//
// Usage: node node_server.mjs [CERT.pem KEY.pem]
//
// With a certificate and its key, serves wss:// (an https server, ALPN http/1.1) instead of
// ws://.
//
// Binds 127.0.0.1 on port 0 and prints the port on stdout. Echoes every message (text as text,
// binary as binary). Exits when stdin closes (the test holds it open), or after 120 s at most.
// Exits 3 when `ws` is not installed.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { loadWs } from './node_common.mjs';

const { WebSocketServer } = await loadWs();

let wss;
if (process.argv.length === 4) {
  const server = createServer({
    cert: readFileSync(process.argv[2]),
    key: readFileSync(process.argv[3]),
    ALPNProtocols: ['http/1.1'],
  });
  wss = new WebSocketServer({ server, maxPayload: 64 << 20 });
  server.on('listening', () => console.log(server.address().port));
  server.listen(0, '127.0.0.1');
} else {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 << 20 });
  wss.on('listening', () => console.log(wss.address().port));
}
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', (e) => console.error(`node_server: ${e.message}`));
});

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
setTimeout(() => process.exit(0), 120_000).unref();
