"""Python's `h2` (hyper-h2, sans-IO) as an RFC 8441 client of our H2WebSocketServer.

Over a plain socket on 127.0.0.1 with cleartext HTTP/2 (prior knowledge): waits for the
server's SETTINGS_ENABLE_CONNECT_PROTOCOL (and prints the SETTINGS and connection window,
which follow the server's Config), then on one connection:

- WebSocket `/chat`: the extended CONNECT (`:protocol` websocket, subprotocol `chat`), the 200
  and the subprotocol, a masked text frame sent one byte per DATA frame and its echo, a binary
  message larger than the windows (sent as flow control allows, read with WINDOW_UPDATEs) and
  its echo, the close handshake (1000) and the end of the stream both ways;
- WebSocket `/half`: a text echo, then the close frame sent with END_STREAM on the same DATA
  frame (a half-close, as TCP's FIN right after the close): the server must still answer with
  its close and end its side.

Prints result lines the Rust test compares exactly; any failure exits 1.
Usage: python3 h2_py_client.py PORT
"""

import os
import socket
import struct
import sys

import h2.config
import h2.connection
import h2.events
import h2.settings

PORT = int(sys.argv[1])
BIG = 300 * 1024  # more than h2's default 64 KiB windows and our 256 KiB stream window

sock = socket.create_connection(("127.0.0.1", PORT), timeout=15)
conn = h2.connection.H2Connection(
    config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
)
conn.initiate_connection()
sock.sendall(conn.data_to_send())

events = []  # received, not yet consumed


class Stream:
    """One WebSocket's HTTP/2 stream: its DATA not yet parsed, and whether the server ended it."""

    def __init__(self, stream_id):
        self.id = stream_id
        self.received = bytearray()
        self.ended = False


streams = {}


def fail(why):
    print(f"h2_py_client: {why}", file=sys.stderr)
    sys.exit(1)


def pump():
    """Reads once from the socket, handles flow control, queues the events."""
    data = sock.recv(65536)
    if not data:
        fail("the server closed the connection")
    for event in conn.receive_data(data):
        if isinstance(event, h2.events.DataReceived):
            if event.stream_id in streams:
                streams[event.stream_id].received.extend(event.data)
            # Give the window back as soon as the bytes are ours.
            conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded) and event.stream_id in streams:
            streams[event.stream_id].ended = True
        elif isinstance(event, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
            fail(f"unexpected {event}")
        events.append(event)
    out = conn.data_to_send()
    if out:
        sock.sendall(out)


def wait_for(kind, stream_id=None):
    while True:
        for i, event in enumerate(events):
            if isinstance(event, kind) and (
                stream_id is None or getattr(event, "stream_id", None) == stream_id
            ):
                return events.pop(i)
        pump()


def frame(opcode, payload):
    """A final, masked client frame."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    key = os.urandom(4)
    masked = bytes(b ^ key[i & 3] for i, b in enumerate(payload))
    return head + key + masked


def send(stream, data, end_stream=False, most=None):
    """Sends DATA as the peer's windows and the frame size allow, `most` bytes a frame; with
    `end_stream` the last DATA frame carries END_STREAM."""
    view = memoryview(data)
    while view:
        window = conn.local_flow_control_window(stream.id)
        if window == 0:
            pump()
            continue
        n = min(window, conn.max_outbound_frame_size, len(view), most or len(view))
        last = n == len(view)
        conn.send_data(stream.id, view[:n].tobytes(), end_stream=end_stream and last)
        sock.sendall(conn.data_to_send())
        view = view[n:]


def parse_frame(stream):
    """A complete server frame from the stream's bytes: (opcode, payload), or None for more."""
    buf = stream.received
    if len(buf) < 2:
        return None
    b0, b1 = buf[0], buf[1]
    if b1 & 0x80:
        fail("the server masked a frame")
    if b0 & 0x70:
        fail(f"reserved bits set: {b0:#x}")
    if not b0 & 0x80:
        fail("a fragmented frame (not expected for these sizes)")
    n, off = b1 & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        (n,), off = struct.unpack_from("!H", buf, 2), 4
    elif n == 127:
        if len(buf) < 10:
            return None
        (n,), off = struct.unpack_from("!Q", buf, 2), 10
    if len(buf) < off + n:
        return None
    payload = bytes(buf[off : off + n])
    del buf[: off + n]
    return b0 & 0x0F, payload


def read_frame(stream):
    """The next unfragmented, unmasked server frame: (opcode, payload), or None at the end."""
    while True:
        parsed = parse_frame(stream)
        if parsed is not None:
            return parsed
        if stream.ended:
            if stream.received:
                fail(f"{len(stream.received)} bytes of a partial frame at the end")
            return None
        pump()


def open_websocket(path):
    """The extended CONNECT to `path`; prints the status and the subprotocol."""
    stream = Stream(conn.get_next_available_stream_id())
    streams[stream.id] = stream
    conn.send_headers(
        stream.id,
        [
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "http"),
            (":path", path),
            (":authority", f"127.0.0.1:{PORT}"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-protocol", "chat"),
        ],
    )
    sock.sendall(conn.data_to_send())
    response = wait_for(h2.events.ResponseReceived, stream.id)
    headers = dict(response.headers)
    status = headers.get(":status")
    print(f"{path} status={status} protocol={headers.get('sec-websocket-protocol')}")
    if status != "200":
        fail("not 200")
    return stream


def expect(stream, opcode, what):
    got = read_frame(stream)
    if got is None or got[0] != opcode:
        fail(f"expected {what}, got {got}")
    return got[1]


# The server's SETTINGS must enable extended CONNECT before we may send one.
settings = wait_for(h2.events.RemoteSettingsChanged)
enabled = settings.changed_settings.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL)
print(f"enable_connect_protocol={enabled.new_value if enabled else 0}")
if not enabled or enabled.new_value != 1:
    fail("the server did not enable extended CONNECT")
remote = conn.remote_settings
print(
    f"initial_window_size={remote.initial_window_size} "
    f"max_concurrent_streams={remote.max_concurrent_streams} "
    f"max_header_list_size={remote.max_header_list_size}"
)

chat = open_websocket("/chat")
# The connection window the server opened with WINDOW_UPDATE (nothing sent on it yet).
print(f"connection_window={conn.outbound_flow_control_window}")

TEXT = "hello over HTTP/2 from python h2"
# One byte per DATA frame: the server reassembles the WebSocket frame from the stream.
send(chat, frame(0x1, TEXT.encode()), most=1)
print(f"/chat text={expect(chat, 0x1, 'the text echo').decode()}")

big = bytes((i * 31 + 7) & 0xFF for i in range(BIG))
send(chat, frame(0x2, big))
echo = expect(chat, 0x2, "the binary echo")
print(f"/chat binary={len(echo)} same={echo == big}")

send(chat, frame(0x8, struct.pack("!H", 1000) + b"bye"))
reply = expect(chat, 0x8, "the close reply")
print(f"/chat close={struct.unpack_from('!H', reply)[0]}")
# The server ends its side after the close handshake; then so do we.
if read_frame(chat) is not None:
    fail("a frame after the close")
print("/chat end")
conn.end_stream(chat.id)
sock.sendall(conn.data_to_send())

half = open_websocket("/half")
send(half, frame(0x1, b"half"))
print(f"/half text={expect(half, 0x1, 'the text echo').decode()}")
# The close and END_STREAM in one DATA frame: we send nothing more.
send(half, frame(0x8, struct.pack("!H", 1000)), end_stream=True)
reply = expect(half, 0x8, "the close reply")
print(f"/half close={struct.unpack_from('!H', reply)[0]}")
if read_frame(half) is not None:
    fail("a frame after the close")
print("/half end")

conn.close_connection()
sock.sendall(conn.data_to_send())
sock.close()
