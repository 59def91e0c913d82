// Interop: Node's `ws` as a client against a sockudo-ws echo server.
//
// Usage: node node_client.mjs ws://127.0.0.1:PORT/path
//        node node_client.mjs wss://127.0.0.1:PORT/path CA.pem
//
// For wss://, the server's certificate is verified against the CA in CA.pem alone (and for
// the URL's host).
//
// Sends a text and a binary message of every size in SIZES, checks each echo (type and
// content), pings and waits for the pong, then closes with 1000 and checks the server's close
// code. Exits 0 on success, 1 on a mismatch, 3 when `ws` is not installed.
import { readFileSync } from 'node:fs';
import { SIZES, binaryOf, loadWs, textOf } from './node_common.mjs';

const { default: WebSocket } = await loadWs();

function fail(why) {
  console.error(`node_client: ${why}`);
  process.exit(1);
}

setTimeout(() => fail('timed out'), 60_000).unref();

// The client offers permessage-deflate (the default): the server must decline cleanly.
const options = { maxPayload: 64 << 20 };
if (process.argv[2].startsWith('wss://')) options.ca = readFileSync(process.argv[3]);
const ws = new WebSocket(process.argv[2], options);
ws.on('error', (e) => fail(`error: ${e.message}`));

const queue = [];
const waiters = [];
ws.on('message', (data, isBinary) => {
  const item = { data, isBinary };
  const waiter = waiters.shift();
  if (waiter) waiter(item);
  else queue.push(item);
});
const nextMessage = () =>
  queue.length > 0 ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r));

await new Promise((resolve) => ws.once('open', resolve));

for (const [i, size] of SIZES.entries()) {
  const text = textOf(size, i);
  ws.send(text);
  let echo = await nextMessage();
  if (echo.isBinary) fail(`text of ${size} bytes came back as binary`);
  if (!echo.data.equals(Buffer.from(text, 'utf8'))) fail(`text echo of ${size} bytes differs`);

  const data = binaryOf(size, 100 + i);
  ws.send(data);
  echo = await nextMessage();
  if (!echo.isBinary) fail(`binary of ${size} bytes came back as text`);
  if (!echo.data.equals(data)) fail(`binary echo of ${size} bytes differs`);
}

const pong = new Promise((resolve) => ws.once('pong', resolve));
ws.ping(Buffer.from('interop'));
const pongData = await pong;
if (pongData.toString() !== 'interop') fail(`pong carries ${pongData}`);

const closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
ws.close(1000, 'done');
const code = await closed;
if (code !== 1000) fail(`server closed with ${code}, expected 1000`);
console.log('node_client: ok');
process.exit(0);
