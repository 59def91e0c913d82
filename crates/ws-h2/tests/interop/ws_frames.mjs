// WebSocket framing by hand (RFC 6455 section 5) for the HTTP/2 interop scripts: Node's
// built-in `http2` carries the bytes, no packages. Clients mask, servers do not.
import { randomBytes } from "node:crypto";

export const TEXT = 0x1;
export const BINARY = 0x2;
export const CLOSE = 0x8;
export const PING = 0x9;
export const PONG = 0xa;

/// One final frame: `masked` for a client's frames (a fresh random key each), not for a server's.
export const encodeFrame = (opcode, payload, masked) => {
  const body = Buffer.from(payload);
  const len = body.length;
  let head;
  if (len < 126) {
    head = Buffer.from([0x80 | opcode, len]);
  } else if (len < 65536) {
    head = Buffer.alloc(4);
    head[0] = 0x80 | opcode;
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = 0x80 | opcode;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  if (!masked) return Buffer.concat([head, body]);
  head[1] |= 0x80;
  const key = randomBytes(4);
  for (let i = 0; i < len; i++) body[i] ^= key[i & 3];
  return Buffer.concat([head, key, body]);
};

/// A close frame's payload: the code, then the reason in UTF-8.
export const closePayload = (code, reason = "") => {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code, 0);
  b.write(reason, 2);
  return b;
};

/// Parses frames out of a byte stream. `expectMasked`: a server reading a client must see every
/// frame masked, a client reading a server none. Data frames are reassembled into messages;
/// control frames come out as they arrive. Each result is `{ opcode, payload }`.
export class FrameReader {
  constructor(expectMasked) {
    this.expectMasked = expectMasked;
    this.buf = Buffer.alloc(0);
    this.fragments = null; // { opcode, parts } of a message in progress
  }

  /// Adds bytes, returns the complete messages and control frames they finish. Throws on a
  /// framing error.
  push(chunk) {
    this.buf = Buffer.concat([this.buf, chunk]);
    const out = [];
    for (;;) {
      if (this.buf.length < 2) return out;
      const b0 = this.buf[0];
      const b1 = this.buf[1];
      const fin = (b0 & 0x80) !== 0;
      if ((b0 & 0x70) !== 0) throw new Error(`reserved bits set: ${b0}`);
      const opcode = b0 & 0x0f;
      const masked = (b1 & 0x80) !== 0;
      if (masked !== this.expectMasked) {
        throw new Error(`frame ${masked ? "masked" : "unmasked"}, expected the opposite`);
      }
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return out;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return out;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      const keyLen = masked ? 4 : 0;
      if (this.buf.length < off + keyLen + len) return out;
      const key = masked ? this.buf.subarray(off, off + 4) : null;
      const payload = Buffer.from(this.buf.subarray(off + keyLen, off + keyLen + len));
      if (key) for (let i = 0; i < len; i++) payload[i] ^= key[i & 3];
      this.buf = this.buf.subarray(off + keyLen + len);
      if (opcode >= 0x8) {
        if (!fin) throw new Error("fragmented control frame");
        out.push({ opcode, payload });
      } else if (opcode === 0) {
        if (!this.fragments) throw new Error("continuation without a message");
        this.fragments.parts.push(payload);
        if (fin) {
          out.push({ opcode: this.fragments.opcode, payload: Buffer.concat(this.fragments.parts) });
          this.fragments = null;
        }
      } else {
        if (this.fragments) throw new Error("new message inside a fragmented one");
        if (fin) out.push({ opcode, payload });
        else this.fragments = { opcode, parts: [payload] };
      }
    }
  }
}

/// A deterministic payload of `len` bytes.
export const pattern = (len, seed) => {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
};
