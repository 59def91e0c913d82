//! The frame header decoder on arbitrary bytes: never panics, never claims more bytes than it
//! was given, and what it decodes re-encodes to a header that decodes the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto::frame::{FrameHeader, MAX_HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((header, len))) = FrameHeader::decode(data) {
        assert!(len <= data.len() && len <= MAX_HEADER_LEN);
        let mut out = [0u8; MAX_HEADER_LEN];
        let n = header.encode_to_array(&mut out);
        assert_eq!(n, header.encoded_len());
        // The encoder writes the minimal length form; the decoder accepts any form.
        assert!(n <= len);
        assert_eq!(FrameHeader::decode(&out[..n]), Ok(Some((header, n))));
    }
});
