"""Python's `h2` (hyper-h2, sans-IO) as an RFC 8441 client of our H2WebSocketServer.

Over a plain socket on 127.0.0.1 with cleartext HTTP/2 (prior knowledge): waits for the
server's SETTINGS_ENABLE_CONNECT_PROTOCOL, sends the extended CONNECT (`:protocol` websocket,
subprotocol `chat`), checks the 200 and the subprotocol, exchanges a masked text frame (sent
one byte per DATA frame) and a binary one larger than the windows (sent as flow control
allows, read with WINDOW_UPDATEs), then the close handshake (1000) and the end of the stream
both ways. Also prints the server's SETTINGS and connection window, which follow its Config.

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
stream_id = None
received = bytearray()  # the stream's DATA, not yet parsed
ended = False  # the server's END_STREAM


def fail(why):
    print(f"h2_py_client: {why}", file=sys.stderr)
    sys.exit(1)


def pump():
    """Reads once from the socket, handles flow control, queues the events."""
    global ended
    data = sock.recv(65536)
    if not data:
        fail("the server closed the connection")
    for event in conn.receive_data(data):
        if isinstance(event, h2.events.DataReceived):
            if event.stream_id == stream_id:
                received.extend(event.data)
            # Give the window back as soon as the bytes are ours.
            conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded) and event.stream_id == stream_id:
            ended = True
        elif isinstance(event, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
            fail(f"unexpected {event}")
        events.append(event)
    out = conn.data_to_send()
    if out:
        sock.sendall(out)


def wait_for(kind):
    while True:
        for i, event in enumerate(events):
            if isinstance(event, kind):
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


def send(data, end_stream=False, most=None):
    """Sends DATA as the peer's windows and the frame size allow, `most` bytes a frame."""
    view = memoryview(data)
    while view:
        window = conn.local_flow_control_window(stream_id)
        if window == 0:
            pump()
            continue
        n = min(window, conn.max_outbound_frame_size, len(view), most or len(view))
        conn.send_data(stream_id, view[:n].tobytes())
        sock.sendall(conn.data_to_send())
        view = view[n:]
    if end_stream:
        conn.end_stream(stream_id)
        sock.sendall(conn.data_to_send())


def parse_frame():
    """A complete server frame from `received`: (opcode, payload), or None for more bytes."""
    if len(received) < 2:
        return None
    b0, b1 = received[0], received[1]
    if b1 & 0x80:
        fail("the server masked a frame")
    if b0 & 0x70:
        fail(f"reserved bits set: {b0:#x}")
    if not b0 & 0x80:
        fail("a fragmented frame (not expected for these sizes)")
    n, off = b1 & 0x7F, 2
    if n == 126:
        if len(received) < 4:
            return None
        (n,), off = struct.unpack_from("!H", received, 2), 4
    elif n == 127:
        if len(received) < 10:
            return None
        (n,), off = struct.unpack_from("!Q", received, 2), 10
    if len(received) < off + n:
        return None
    payload = bytes(received[off : off + n])
    del received[: off + n]
    return b0 & 0x0F, payload


def read_frame():
    """The next unfragmented, unmasked server frame: (opcode, payload), or None at the end."""
    while True:
        parsed = parse_frame()
        if parsed is not None:
            return parsed
        if ended:
            if received:
                fail(f"{len(received)} bytes of a partial frame at the end")
            return None
        pump()


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

stream_id = conn.get_next_available_stream_id()
conn.send_headers(
    stream_id,
    [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "http"),
        (":path", "/chat"),
        (":authority", f"127.0.0.1:{PORT}"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-protocol", "chat"),
    ],
)
sock.sendall(conn.data_to_send())
response = wait_for(h2.events.ResponseReceived)
headers = dict(response.headers)
print(f"status={headers.get(':status')} protocol={headers.get('sec-websocket-protocol')}")
if headers.get(":status") != "200":
    fail("not 200")
# The connection window the server opened with WINDOW_UPDATE (nothing sent on it yet).
print(f"connection_window={conn.outbound_flow_control_window}")

TEXT = "hello over HTTP/2 from python h2"
# One byte per DATA frame: the server reassembles the WebSocket frame from the stream.
send(frame(0x1, TEXT.encode()), most=1)
opcode, payload = read_frame()
if opcode != 0x1:
    fail(f"expected text, got opcode {opcode}")
print(f"text={payload.decode()}")

big = bytes((i * 31 + 7) & 0xFF for i in range(BIG))
send(frame(0x2, big))
opcode, payload = read_frame()
if opcode != 0x2:
    fail(f"expected binary, got opcode {opcode}")
print(f"binary={len(payload)} same={payload == big}")

send(frame(0x8, struct.pack("!H", 1000) + b"bye"))
reply = read_frame()
if reply is None or reply[0] != 0x8:
    fail(f"expected the close reply, got {reply}")
print(f"close={struct.unpack_from('!H', reply[1])[0]}")
# The server ends its side after the close handshake; then so do we.
if read_frame() is not None:
    fail("a frame after the close")
print("end")
conn.end_stream(stream_id)
conn.close_connection()
sock.sendall(conn.data_to_send())
sock.close()
