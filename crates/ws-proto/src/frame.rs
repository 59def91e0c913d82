//! Frame headers (RFC 6455 section 5.2): decoding and encoding, for both roles.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```

use crate::error::ProtocolError;
use bytes::BufMut;

/// Longest possible frame header: 2 + 8 bytes of length + 4 bytes of mask key.
pub const MAX_HEADER_LEN: usize = 14;

/// Frame opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// Continuation of a fragmented message.
    Continuation,
    /// First frame of a text message.
    Text,
    /// First frame of a binary message.
    Binary,
    /// Close.
    Close,
    /// Ping.
    Ping,
    /// Pong.
    Pong,
}

impl OpCode {
    /// Parse the 4-bit opcode; reserved values are an error.
    pub fn from_u8(op: u8) -> Result<OpCode, ProtocolError> {
        Ok(match op {
            0 => OpCode::Continuation,
            1 => OpCode::Text,
            2 => OpCode::Binary,
            8 => OpCode::Close,
            9 => OpCode::Ping,
            10 => OpCode::Pong,
            other => return Err(ProtocolError::ReservedOpcode(other)),
        })
    }

    /// The 4-bit wire value.
    pub const fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0,
            OpCode::Text => 1,
            OpCode::Binary => 2,
            OpCode::Close => 8,
            OpCode::Ping => 9,
            OpCode::Pong => 10,
        }
    }

    /// Close, Ping and Pong are control opcodes.
    pub const fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: last frame of the message.
    pub fin: bool,
    /// The RSV1-3 bits as they stand in the first byte (mask `0x70`).
    pub rsv: u8,
    /// Opcode.
    pub opcode: OpCode,
    /// Masking key, present on frames sent by clients.
    pub mask: Option<[u8; 4]>,
    /// Payload length.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Decode a header from the front of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` does not hold the whole header yet, and otherwise the header
    /// and its length in bytes. Checks what the header alone can tell: reserved opcodes, a
    /// payload length with the top bit set, control frames over 125 bytes or without FIN. RSV
    /// bits and masking are checked by the connection, which knows the role and extensions.
    #[inline]
    pub fn decode(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        let (b0, b1) = match buf {
            [b0, b1, ..] => (*b0, *b1),
            _ => return Ok(None),
        };
        let fin = b0 & 0x80 != 0;
        let rsv = b0 & 0x70;
        let opcode = OpCode::from_u8(b0 & 0x0f)?;
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7f;
        let mut pos = 2;
        let payload_len = match len7 {
            126 => {
                let Some(b) = buf.get(2..4) else {
                    return Ok(None);
                };
                pos = 4;
                u64::from(u16::from_be_bytes([b[0], b[1]]))
            }
            127 => {
                let Some(b) = buf.get(2..10) else {
                    return Ok(None);
                };
                pos = 10;
                let mut eight = [0u8; 8];
                eight.copy_from_slice(b);
                let len = u64::from_be_bytes(eight);
                if len >> 63 != 0 {
                    return Err(ProtocolError::InvalidPayloadLength);
                }
                len
            }
            n => u64::from(n),
        };
        if opcode.is_control() {
            if payload_len > 125 {
                return Err(ProtocolError::ControlFrameTooLong(payload_len));
            }
            if !fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
        }
        let mask = if masked {
            let Some(k) = buf.get(pos..pos + 4) else {
                return Ok(None);
            };
            pos += 4;
            Some([k[0], k[1], k[2], k[3]])
        } else {
            None
        };
        Ok(Some((
            FrameHeader {
                fin,
                rsv,
                opcode,
                mask,
                payload_len,
            },
            pos,
        )))
    }

    /// Encoded length of this header.
    #[inline]
    pub const fn encoded_len(&self) -> usize {
        let len = if self.payload_len < 126 {
            2
        } else if self.payload_len <= 0xffff {
            4
        } else {
            10
        };
        if self.mask.is_some() { len + 4 } else { len }
    }

    /// Append the encoded header to `dst`.
    #[inline]
    pub fn encode(&self, dst: &mut impl BufMut) {
        let mut tmp = [0u8; MAX_HEADER_LEN];
        let n = self.encode_to_array(&mut tmp);
        dst.put_slice(&tmp[..n]);
    }

    /// Write the encoded header into `out`, returning its length.
    #[inline]
    pub fn encode_to_array(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        out[0] = (u8::from(self.fin) << 7) | (self.rsv & 0x70) | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut pos;
        if self.payload_len < 126 {
            out[1] = mask_bit | self.payload_len as u8;
            pos = 2;
        } else if self.payload_len <= 0xffff {
            out[1] = mask_bit | 126;
            out[2..4].copy_from_slice(&(self.payload_len as u16).to_be_bytes());
            pos = 4;
        } else {
            out[1] = mask_bit | 127;
            out[2..10].copy_from_slice(&self.payload_len.to_be_bytes());
            pos = 10;
        }
        if let Some(key) = self.mask {
            out[pos..pos + 4].copy_from_slice(&key);
            pos += 4;
        }
        pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(buf: &[u8]) -> (FrameHeader, usize) {
        FrameHeader::decode(buf).unwrap().unwrap()
    }

    #[test]
    fn every_prefix_of_a_header_is_incomplete() {
        let h = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: OpCode::Binary,
            mask: Some([1, 2, 3, 4]),
            payload_len: 70_000,
        };
        let mut v = Vec::new();
        h.encode(&mut v);
        assert_eq!(v.len(), 14);
        for n in 0..v.len() {
            assert_eq!(FrameHeader::decode(&v[..n]).unwrap(), None, "prefix {n}");
        }
        assert_eq!(decode_all(&v), (h, 14));
    }

    #[test]
    fn header_checks() {
        assert_eq!(
            FrameHeader::decode(&[0x83, 0]),
            Err(ProtocolError::ReservedOpcode(3))
        );
        assert_eq!(
            FrameHeader::decode(&[0x89, 126, 0, 126]),
            Err(ProtocolError::ControlFrameTooLong(126))
        );
        assert_eq!(
            FrameHeader::decode(&[0x09, 0]),
            Err(ProtocolError::FragmentedControlFrame)
        );
        assert_eq!(
            FrameHeader::decode(&[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            Err(ProtocolError::InvalidPayloadLength)
        );
    }
}
