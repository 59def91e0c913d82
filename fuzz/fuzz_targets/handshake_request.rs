//! The server side of the opening handshake: the incremental request parser on arbitrary bytes
//! in arbitrary pieces never panics, gives the same result however the bytes are cut, never
//! scans a byte twice, and what it parses can be validated and answered without panicking, by
//! the HTTP/1.1 shell and (as if its headers had come over HTTP/2) the extended CONNECT shell.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use ws_proto::handshake::{
    self, Accept, AcceptOptions, HandshakeLimits, HandshakeRequest, RequestParser,
};

fuzz_target!(|input: (Vec<u8>, u8)| {
    let (data, chunk) = input;
    let limits = HandshakeLimits {
        max_header_bytes: 2048,
        max_headers: 16,
    };

    let mut whole = BytesMut::from(&data[..]);
    let whole_result = RequestParser::new(limits).parse(&mut whole);

    let chunk = usize::from(chunk.max(1));
    let mut parser = RequestParser::new(limits);
    let mut buf = BytesMut::new();
    let mut piecewise = Ok(None);
    for piece in data.chunks(chunk) {
        buf.extend_from_slice(piece);
        piecewise = parser.parse(&mut buf);
        if !matches!(piecewise, Ok(None)) {
            break;
        }
    }
    assert!(parser.scanned_bytes() <= data.len());
    match (&whole_result, &piecewise) {
        (Ok(Some(a)), Ok(Some(b))) => {
            assert_eq!(a, b);
            // The bytes behind the head stay in the buffer.
            assert_eq!(&whole[..], &data[data.len() - whole.len()..]);
            let _ = handshake::validate_request(a);
            let _ = handshake::accept(
                a,
                &AcceptOptions {
                    subprotocols: &["chat", "superchat"],
                    ..Default::default()
                },
            );
            let _ = a.extension_offers();
            if let Ok(mut request) = HandshakeRequest::try_from(a) {
                request.method = ws_proto::http::Method::CONNECT;
                request.version = ws_proto::http::Version::HTTP_2;
                let request = request.with_protocol("websocket");
                let _ = handshake::negotiate(&request, None, |req| {
                    Ok(Accept {
                        subprotocol: req.subprotocols().first().map(|p| p.to_string()),
                        ..Accept::default()
                    })
                })
                .map_err(|refusal| refusal.to_response());
            }
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        (Ok(None), Ok(None)) => {}
        (a, b) => panic!("whole {a:?} vs piecewise {b:?}"),
    }
});
