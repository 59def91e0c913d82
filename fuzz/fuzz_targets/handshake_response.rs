//! The client side of the opening handshake: arbitrary response bytes are parsed and checked
//! against a real request without panicking; success only with an HTTP/1.1 101 carrying the
//! right accept key.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use ws_proto::handshake::{self, ClientOptions, HandshakeLimits, ResponseParser};

fuzz_target!(|data: &[u8]| {
    let options = ClientOptions {
        subprotocols: &["chat"],
        ..Default::default()
    };
    let (client, _request) =
        handshake::client_request_with_key("localhost", "/", &options, *b"the sample nonce")
            .expect("valid request");
    let mut buf = BytesMut::from(data);
    let mut parser = ResponseParser::new(HandshakeLimits::default());
    if let Ok(Some(response)) = parser.parse(&mut buf)
        && client.validate_response(&response, None).is_ok()
    {
        assert_eq!(response.status(), 101);
        assert!(matches!(response.version(), (1, minor) if minor >= 1));
        assert_eq!(
            response.header("sec-websocket-accept"),
            Some(client.expected_accept())
        );
    }
});
