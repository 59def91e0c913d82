"""Python's `h2` (hyper-h2, sans-IO) as an RFC 8441 server for our H2WebSocketClient.

Listens on 127.0.0.1 (an ephemeral port, printed first as `listening PORT`), serves ONE
cleartext HTTP/2 connection with SETTINGS_ENABLE_CONNECT_PROTOCOL in its first SETTINGS, and
answers each extended CONNECT (`:protocol` websocket) 200 with the subprotocol `chat` when
offered. On each WebSocket it reads masked client frames by hand and echoes them unmasked as
flow control allows: text and binary as they came (and after each text a ping of its own,
whose pong it logs), a ping as a pong, a close with the same code after which it ends the
stream. One line per event, prefixed with the request's path; when the client closes the
connection it prints `requests=N` and exits 0. Any failure exits 1.
Usage: python3 h2_py_server.py
"""

import socket
import struct
import sys

import h2.config
import h2.connection
import h2.events
import h2.settings


def fail(why):
    print(f"h2_py_server: {why}", file=sys.stderr)
    sys.exit(1)


def log(line):
    print(line, flush=True)


listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(("127.0.0.1", 0))
listener.listen(1)
listener.settimeout(30)
log(f"listening {listener.getsockname()[1]}")
sock, _ = listener.accept()
sock.settimeout(30)

conn = h2.connection.H2Connection(
    config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
)
codes = h2.settings.SettingCodes
conn.local_settings = h2.settings.Settings(
    client=False,
    initial_values={
        codes.MAX_CONCURRENT_STREAMS: 100,
        codes.MAX_HEADER_LIST_SIZE: 65536,
        codes.ENABLE_CONNECT_PROTOCOL: 1,
    },
)
conn.initiate_connection()


class WebSocket:
    """One extended CONNECT stream: bytes received not yet parsed, output not yet sent."""

    def __init__(self, stream_id, path):
        self.id = stream_id
        self.path = path
        self.received = bytearray()
        self.out = bytearray()
        self.end_after_out = False  # END_STREAM once `out` is sent (after the close reply)
        self.ended = False  # we sent END_STREAM

    def log(self, line):
        log(f"{self.path} {line}")

    def frame(self, opcode, payload):
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
        self.out += head + payload

    def on_data(self, data):
        self.received += data
        while True:
            parsed = self.parse()
            if parsed is None:
                return
            fin, opcode, payload = parsed
            if not fin:
                fail(f"{self.path}: a fragmented message (not expected for these sizes)")
            if opcode == 0x1:
                self.log(f"text={payload.decode()}")
                self.frame(0x1, payload)
                self.frame(0x9, f"from python {self.path}".encode())
            elif opcode == 0x2:
                self.log(f"binary={len(payload)}")
                self.frame(0x2, payload)
            elif opcode == 0x9:
                self.log(f"ping={payload.decode()}")
                self.frame(0xA, payload)
            elif opcode == 0xA:
                self.log(f"pong={payload.decode()}")
            elif opcode == 0x8:
                code = struct.unpack_from("!H", payload)[0] if len(payload) >= 2 else 1005
                self.log(f"close={code}")
                self.frame(0x8, payload[:2])
                self.end_after_out = True
            else:
                fail(f"{self.path}: opcode {opcode}")

    def parse(self):
        """A complete masked frame: (fin, opcode, unmasked payload), or None for more bytes."""
        buf = self.received
        if len(buf) < 2:
            return None
        b0, b1 = buf[0], buf[1]
        if not b1 & 0x80:
            fail(f"{self.path}: an unmasked client frame")
        if b0 & 0x70:
            fail(f"{self.path}: reserved bits set: {b0:#x}")
        n, off = b1 & 0x7F, 2
        if n == 126:
            if len(buf) < 4:
                return None
            (n,), off = struct.unpack_from("!H", buf, 2), 4
        elif n == 127:
            if len(buf) < 10:
                return None
            (n,), off = struct.unpack_from("!Q", buf, 2), 10
        if len(buf) < off + 4 + n:
            return None
        key = bytes(buf[off : off + 4])
        payload = bytes(b ^ key[i & 3] for i, b in enumerate(buf[off + 4 : off + 4 + n]))
        del buf[: off + 4 + n]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def flush(self):
        """Sends what the windows allow; END_STREAM after the close reply."""
        while self.out:
            n = min(conn.local_flow_control_window(self.id), conn.max_outbound_frame_size)
            if n == 0:
                return
            n = min(n, len(self.out))
            conn.send_data(self.id, bytes(self.out[:n]))
            del self.out[:n]
        if self.end_after_out and not self.ended:
            conn.end_stream(self.id)
            self.ended = True


websockets = {}
requests = 0


def on_request(event):
    global requests
    requests += 1
    headers = dict(event.headers)
    path = headers.get(":path")
    log(
        f"{path} request method={headers.get(':method')} protocol={headers.get(':protocol')} "
        f"scheme={headers.get(':scheme')} version={headers.get('sec-websocket-version')} "
        f"subprotocols={headers.get('sec-websocket-protocol')}"
    )
    if headers.get(":method") != "CONNECT" or headers.get(":protocol") != "websocket":
        conn.send_headers(event.stream_id, [(":status", "405")], end_stream=True)
        return
    offered = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",")]
    response = [(":status", "200")]
    if "chat" in offered:
        response.append(("sec-websocket-protocol", "chat"))
    conn.send_headers(event.stream_id, response)
    websockets[event.stream_id] = WebSocket(event.stream_id, path)


while True:
    out = conn.data_to_send()
    if out:
        sock.sendall(out)
    data = sock.recv(65536)
    if not data:
        break
    for event in conn.receive_data(data):
        if isinstance(event, h2.events.RequestReceived):
            on_request(event)
        elif isinstance(event, h2.events.DataReceived):
            conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            if event.stream_id in websockets:
                websockets[event.stream_id].on_data(event.data)
        elif isinstance(event, h2.events.StreamEnded) and event.stream_id in websockets:
            websockets[event.stream_id].log("end")
        elif isinstance(event, h2.events.StreamReset) and event.stream_id in websockets:
            websockets[event.stream_id].log(f"reset={int(event.error_code)}")
        elif isinstance(event, h2.events.ConnectionTerminated):
            log(f"goaway={int(event.error_code)}")
    for ws in websockets.values():
        ws.flush()

log(f"requests={requests}")
