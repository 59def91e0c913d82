// WebSocket framing by hand (RFC 6455 section 5) for the HTTP/2 interop scripts: Node's
// built-in `http2` carries the bytes, no packages. Clients mask, servers do not.
// permessage-deflate without context takeover with Node's built-in `zlib`.
import { randomBytes } from "node:crypto";
import zlib from "node:zlib";

export const TEXT = 0x1;
export const BINARY = 0x2;
export const CLOSE = 0x8;
export const PING = 0x9;
export const PONG = 0xa;

/// One final frame: `masked` for a client's frames (a fresh random key each), not for a server's;
/// `rsv1` for a message compressed with permessage-deflate.
export const encodeFrame = (opcode, payload, masked, rsv1 = false) => {
  const body = Buffer.from(payload);
  const len = body.length;
  const b0 = 0x80 | (rsv1 ? 0x40 : 0) | opcode;
  let head;
  if (len < 126) {
    head = Buffer.from([b0, len]);
  } else if (len < 65536) {
    head = Buffer.alloc(4);
    head[0] = b0;
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = b0;
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
/// frame masked, a client reading a server none. `allowRsv1`: permessage-deflate was
/// negotiated (RSV1 on a message's first frame marks it compressed). Data frames are reassembled
/// into messages; control frames come out as they arrive. Each result is
/// `{ opcode, payload, rsv1 }`, the payload as it came (still compressed with `rsv1`).
export class FrameReader {
  constructor(expectMasked, allowRsv1 = false) {
    this.expectMasked = expectMasked;
    this.allowRsv1 = allowRsv1;
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
      const opcode = b0 & 0x0f;
      const rsv1 = (b0 & 0x40) !== 0;
      if ((b0 & 0x30) !== 0) throw new Error(`RSV2 or RSV3 set: ${b0}`);
      if (rsv1 && !(this.allowRsv1 && opcode >= 0x1 && opcode <= 0x2)) {
        throw new Error(`RSV1 set on opcode ${opcode}`);
      }
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
        out.push({ opcode, payload, rsv1: false });
      } else if (opcode === 0) {
        if (!this.fragments) throw new Error("continuation without a message");
        this.fragments.parts.push(payload);
        if (fin) {
          const { opcode: first, parts, rsv1: compressed } = this.fragments;
          out.push({ opcode: first, payload: Buffer.concat(parts), rsv1: compressed });
          this.fragments = null;
        }
      } else {
        if (this.fragments) throw new Error("new message inside a fragmented one");
        if (fin) out.push({ opcode, payload, rsv1 });
        else this.fragments = { opcode, parts: [payload], rsv1 };
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

/// permessage-deflate without context takeover (RFC 7692 section 7.2.1): the message
/// compressed on its own, with the final empty block's 00 00 ff ff removed.
export const deflateMessage = (payload) => {
  const out = zlib.deflateRawSync(payload, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  if (!out.subarray(out.length - 4).equals(Buffer.from([0x00, 0x00, 0xff, 0xff]))) {
    throw new Error("a sync flush that does not end in 00 00 ff ff");
  }
  return out.subarray(0, out.length - 4);
};

/// The inverse of deflateMessage: 00 00 ff ff put back, inflated on its own.
export const inflateMessage = (payload) =>
  zlib.inflateRawSync(Buffer.concat([payload, Buffer.from([0x00, 0x00, 0xff, 0xff])]), {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
