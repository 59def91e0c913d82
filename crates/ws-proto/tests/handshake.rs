//! Tests of the HTTP/1.1 opening handshake (`ws_proto::handshake`).

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use ws_proto::extension::{
    Extension, ExtensionError, ExtensionNegotiator, ExtensionOffer, ExtensionParam, RSV1,
};
use ws_proto::handshake::{
    AcceptOptions, ClientOptions, HandshakeError, HandshakeLimits, Rejection, Request,
    RequestParser, Response, ResponseParser, accept, client_request, client_request_with_key,
    generate_accept_key, parse_extensions, parse_ws_url, reject_response, select_subprotocol,
    validate_request,
};

/// The sample request of RFC 6455 section 1.3 (plus the version header of section 4.1).
const RFC_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
Host: server.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\
\r\n";

/// A masked "Hello" text frame (RFC 6455 section 5.7).
const MASKED_HELLO: &[u8] = &[
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];

fn parse_request(bytes: &[u8]) -> Result<Request, HandshakeError> {
    let mut buf = BytesMut::from(bytes);
    let req = RequestParser::default().parse(&mut buf)?;
    let req = req.expect("complete head");
    assert!(buf.is_empty());
    Ok(req)
}

fn parse_response(bytes: &[u8]) -> Result<Response, HandshakeError> {
    let mut buf = BytesMut::from(bytes);
    Ok(ResponseParser::default()
        .parse(&mut buf)?
        .expect("complete head"))
}

/// A header to replace (`Some`) or remove (`None`).
type Change<'a> = (&'a str, Option<&'a str>);

/// A valid request with the given header lines replacing the defaults; `None` values drop a
/// default header.
fn request_with(start_line: &str, changes: &[Change<'_>]) -> Vec<u8> {
    let mut headers: Vec<(String, String)> = [
        ("Host", "example.com"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect();
    for (name, value) in changes {
        headers.retain(|(n, _)| n != name);
        if let Some(value) = value {
            headers.push((name.to_string(), value.to_string()));
        }
    }
    let mut out = format!("{start_line}\r\n");
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

fn validation_error(start_line: &str, changes: &[Change<'_>]) -> HandshakeError {
    let req = parse_request(&request_with(start_line, changes)).unwrap();
    let err = validate_request(&req).unwrap_err();
    // accept() reports the same error.
    let rejection = accept(&req, &AcceptOptions::default()).unwrap_err();
    assert_eq!(rejection.error, err);
    assert_eq!(rejection.status, err.http_status());
    err
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Accept key and the RFC sample

/// RFC 6455 section 1.3: the key `dGhlIHNhbXBsZSBub25jZQ==` is answered with
/// `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=` (base64 of SHA-1 b37a4f2cc0624f1690f64606cf385945b2bec4ea).
#[test]
fn rfc_accept_key() {
    assert_eq!(
        generate_accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    assert_eq!(
        generate_accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn rfc_sample_request_is_accepted() {
    let req = parse_request(RFC_REQUEST).unwrap();
    assert_eq!(req.method(), "GET");
    assert_eq!(req.path(), "/chat");
    assert_eq!(req.version(), (1, 1));
    assert_eq!(req.header("host"), Some("server.example.com"));
    assert_eq!(req.header("ORIGIN"), Some("http://example.com"));
    assert_eq!(req.key(), Some("dGhlIHNhbXBsZSBub25jZQ=="));
    assert_eq!(req.subprotocols(), ["chat", "superchat"]);
    assert_eq!(req.header_count(), 7);
    assert_eq!(req.headers().next(), Some(("Host", "server.example.com")));
    assert_eq!(req.extension_offers().unwrap(), []);

    let validated = validate_request(&req).unwrap();
    assert_eq!(validated.key(), "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(validated.accept_key(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

    let opts = AcceptOptions {
        subprotocols: &["chat"],
        ..Default::default()
    };
    let accepted = accept(&req, &opts).unwrap();
    assert_eq!(
        text(&accepted.response),
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
         Sec-WebSocket-Protocol: chat\r\n\
         \r\n"
    );
    assert_eq!(accepted.subprotocol.as_deref(), Some("chat"));
    assert!(accepted.extension.is_none());

    // Without subprotocols, and with extra headers.
    let opts = AcceptOptions {
        extra_headers: &[("Set-Cookie", "a=b"), ("X-Server", "test")],
        ..Default::default()
    };
    let accepted = accept(&req, &opts).unwrap();
    assert_eq!(
        text(&accepted.response),
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
         Set-Cookie: a=b\r\n\
         X-Server: test\r\n\
         \r\n"
    );
    assert_eq!(accepted.subprotocol, None);
}

#[test]
fn invalid_extra_headers_are_a_local_error() {
    let req = parse_request(RFC_REQUEST).unwrap();
    for extra in [
        [("X-A", "a\r\nInjected: 1")],
        [("Bad Name", "v")],
        [("", "v")],
    ] {
        let opts = AcceptOptions {
            extra_headers: &extra,
            ..Default::default()
        };
        let rejection = accept(&req, &opts).unwrap_err();
        assert!(matches!(rejection.error, HandshakeError::InvalidInput(_)));
        assert_eq!(rejection.status, 500);
        assert!(text(&rejection.response).ends_with("\r\n\r\ninternal server error\n"));
    }
}

// ---------------------------------------------------------------------------------------------
// Incremental parsing

#[test]
fn byte_at_a_time_equals_all_at_once_and_keeps_frames() {
    let whole = parse_request(RFC_REQUEST).unwrap();

    let mut parser = RequestParser::default();
    let mut buf = BytesMut::new();
    let mut input = RFC_REQUEST.to_vec();
    input.extend_from_slice(MASKED_HELLO);
    let mut result = None;
    for (i, &b) in input.iter().enumerate() {
        buf.extend_from_slice(&[b]);
        if let Some(req) = parser.parse(&mut buf).unwrap() {
            assert_eq!(i + 1, RFC_REQUEST.len(), "head found at its last byte");
            result = Some(req);
            break;
        }
    }
    let req = result.expect("head found");
    assert_eq!(req, whole);
    assert!(buf.is_empty());
    buf.extend_from_slice(&input[RFC_REQUEST.len()..]);
    assert_eq!(&buf[..], MASKED_HELLO);

    // All at once: the frame stays behind.
    let mut buf = BytesMut::from(&input[..]);
    let req = RequestParser::default().parse(&mut buf).unwrap().unwrap();
    assert_eq!(req, whole);
    assert_eq!(&buf[..], MASKED_HELLO);
}

#[test]
fn parser_is_reusable_after_a_head() {
    let mut parser = RequestParser::default();
    let mut buf = BytesMut::new();
    buf.extend_from_slice(RFC_REQUEST);
    buf.extend_from_slice(RFC_REQUEST);
    let first = parser.parse(&mut buf).unwrap().unwrap();
    let second = parser.parse(&mut buf).unwrap().unwrap();
    assert_eq!(first, second);
    assert!(buf.is_empty());
    assert_eq!(parser.parse(&mut buf).unwrap(), None);
}

#[test]
fn response_parser_keeps_frames() {
    let mut buf = BytesMut::from(
        &b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi"[..],
    );
    let mut parser = ResponseParser::default();
    let resp = parser.parse(&mut buf).unwrap().unwrap();
    assert_eq!(resp.status(), 101);
    assert_eq!(resp.reason(), "Switching Protocols");
    assert_eq!(resp.version(), (1, 1));
    assert_eq!(resp.header("upgrade"), Some("websocket"));
    assert_eq!(&buf[..], b"\x81\x02hi");

    // No reason phrase, with and without the space.
    for head in [&b"HTTP/1.1 101 \r\n\r\n"[..], &b"HTTP/1.1 101\r\n\r\n"[..]] {
        let resp = parse_response(head).unwrap();
        assert_eq!((resp.status(), resp.reason()), (101, ""));
    }
    for bad in [
        &b"HTTP/1.1 1010 X\r\n\r\n"[..],
        b"HTTP/1.1 10 X\r\n\r\n",
        b"HTTP/1.1 abc X\r\n\r\n",
        b"HTTP/1.1 099 X\r\n\r\n",
        b"HTTP/1.1\r\n\r\n",
        b"HTTP/11 101 X\r\n\r\n",
        b"ICY 200 OK\r\n\r\n",
    ] {
        assert!(
            matches!(parse_response(bad), Err(HandshakeError::Malformed(_))),
            "{:?}",
            text(bad)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_split_points(mut cuts in proptest::collection::vec(0..=RFC_REQUEST.len() + MASKED_HELLO.len(), 0..8)) {
        let mut input = RFC_REQUEST.to_vec();
        input.extend_from_slice(MASKED_HELLO);
        cuts.push(input.len());
        cuts.sort_unstable();
        let whole = parse_request(RFC_REQUEST).unwrap();

        let mut parser = RequestParser::default();
        let mut buf = BytesMut::new();
        let mut found = None;
        let mut start = 0;
        for cut in cuts {
            buf.extend_from_slice(&input[start..cut]);
            start = cut;
            if found.is_none() {
                found = parser.parse(&mut buf).unwrap();
                prop_assert_eq!(found.is_some(), cut >= RFC_REQUEST.len());
            }
        }
        prop_assert_eq!(found, Some(whole));
        prop_assert_eq!(&buf[..], MASKED_HELLO);
        prop_assert_eq!(parser.scanned_bytes(), RFC_REQUEST.len());
    }

    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), cut in 0usize..300) {
        let cut = cut.min(bytes.len());
        let mut parser = RequestParser::new(HandshakeLimits { max_header_bytes: 256, max_headers: 4 });
        let mut buf = BytesMut::from(&bytes[..cut]);
        let _ = parser.parse(&mut buf);
        buf.extend_from_slice(&bytes[cut..]);
        if let Ok(Some(req)) = parser.parse(&mut buf) {
            let _ = validate_request(&req);
            let _ = req.extension_offers();
        }
        let mut parser = ResponseParser::default();
        let _ = parser.parse(&mut BytesMut::from(&bytes[..]));
    }

    #[test]
    fn extension_parser_never_panics(s in "[ -~\t]{0,60}") {
        let _ = parse_extensions(&s);
    }
}

// ---------------------------------------------------------------------------------------------
// Limits and no rescanning

/// A valid head of about `target` bytes: the usual headers plus a few long ones.
fn big_request(target: usize) -> Vec<u8> {
    let mut head = request_with("GET / HTTP/1.1", &[]);
    head.truncate(head.len() - 2);
    let mut n = 0;
    loop {
        let room = target - head.len() - 2;
        if room == 0 {
            break;
        }
        assert!(room >= 11, "cannot pad to exactly {target} bytes");
        let filler = if room >= 1011 + 11 { 1000 } else { room - 11 };
        head.extend_from_slice(format!("X-Pad{n:02}: {}\r\n", "a".repeat(filler)).as_bytes());
        n += 1;
    }
    head.extend_from_slice(b"\r\n");
    head
}

#[test]
fn scanning_is_linear() {
    let head = big_request(8000);
    let whole = parse_request(&head).unwrap();

    // One byte at a time: every byte is examined exactly once.
    let mut parser = RequestParser::default();
    let mut buf = BytesMut::new();
    let mut found = None;
    for &b in &head {
        buf.extend_from_slice(&[b]);
        found = parser.parse(&mut buf).unwrap();
    }
    assert_eq!(found.as_ref(), Some(&whole));
    assert_eq!(parser.scanned_bytes(), head.len());

    // Odd-sized chunks: the same.
    let mut parser = RequestParser::default();
    let mut buf = BytesMut::new();
    for chunk in head.chunks(7) {
        buf.extend_from_slice(chunk);
        found = parser.parse(&mut buf).unwrap();
    }
    assert_eq!(found, Some(whole));
    assert_eq!(parser.scanned_bytes(), head.len());

    // Calls without new bytes examine nothing.
    let mut parser = RequestParser::default();
    let mut buf = BytesMut::from(&head[..100]);
    for _ in 0..1000 {
        assert_eq!(parser.parse(&mut buf).unwrap(), None);
    }
    assert_eq!(parser.scanned_bytes(), 100);
}

#[test]
fn head_over_the_limit_fails_before_its_end() {
    let limits = HandshakeLimits::default();
    assert_eq!(limits.max_header_bytes, 8192);
    assert_eq!(limits.max_headers, 64);

    // A head of exactly the limit is fine, one byte more is not.
    assert_eq!(big_request(8192).len(), 8192);
    parse_request(&big_request(8192)).unwrap();
    assert_eq!(
        parse_request(&big_request(8193)),
        Err(HandshakeError::HeadTooLarge)
    );

    // A head that never ends fails as soon as the limit is reached, byte by byte...
    let mut parser = RequestParser::default();
    let mut buf = BytesMut::new();
    buf.extend_from_slice(b"GET / HTTP/1.1\r\nX-Long: ");
    while buf.len() < 8191 {
        buf.extend_from_slice(b"a");
        assert_eq!(parser.parse(&mut buf), Ok(None));
    }
    buf.extend_from_slice(b"a");
    assert_eq!(parser.parse(&mut buf), Err(HandshakeError::HeadTooLarge));
    assert_eq!(buf.len(), 8192, "buffer untouched on error");
    // ... and stays failed.
    buf.extend_from_slice(b"\r\n\r\n");
    assert_eq!(parser.parse(&mut buf), Err(HandshakeError::HeadTooLarge));

    // ... or all at once, examining no more than the limit.
    let mut parser = RequestParser::default();
    let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\nX-Long: "[..]);
    buf.extend_from_slice(&vec![b'a'; 1 << 20]);
    assert_eq!(parser.parse(&mut buf), Err(HandshakeError::HeadTooLarge));
    assert_eq!(parser.scanned_bytes(), 8192);

    // Custom limit.
    let mut parser = ResponseParser::new(HandshakeLimits {
        max_header_bytes: 32,
        max_headers: 64,
    });
    assert_eq!(parser.limits().max_header_bytes, 32);
    let mut buf = BytesMut::from(&b"HTTP/1.1 101 Switching Protocols\r\n\r\n"[..]);
    assert_eq!(parser.parse(&mut buf), Err(HandshakeError::HeadTooLarge));

    let rejection = Rejection::from_error(HandshakeError::HeadTooLarge);
    assert_eq!(rejection.status, 431);
    assert!(
        text(&rejection.response).starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n")
    );
}

#[test]
fn too_many_headers() {
    let head = |count: usize, end: bool| {
        let mut s = String::from("GET / HTTP/1.1\r\n");
        for i in 0..count {
            s.push_str(&format!("X-H{i}: v\r\n"));
        }
        if end {
            s.push_str("\r\n");
        }
        s.into_bytes()
    };
    assert_eq!(parse_request(&head(64, true)).unwrap().header_count(), 64);
    assert_eq!(
        parse_request(&head(65, true)),
        Err(HandshakeError::TooManyHeaders)
    );
    // Detected before the end of the head arrives.
    let mut buf = BytesMut::from(&head(65, false)[..]);
    assert_eq!(
        RequestParser::default().parse(&mut buf),
        Err(HandshakeError::TooManyHeaders)
    );
    let mut parser = RequestParser::new(HandshakeLimits {
        max_header_bytes: 8192,
        max_headers: 2,
    });
    let mut buf = BytesMut::from(&head(3, false)[..]);
    assert_eq!(parser.parse(&mut buf), Err(HandshakeError::TooManyHeaders));
    assert_eq!(HandshakeError::TooManyHeaders.http_status(), 431);
}

// ---------------------------------------------------------------------------------------------
// Head syntax

#[test]
fn syntax_errors() {
    let cases: &[&[u8]] = &[
        b"GET / HTTP/1.1\nHost: a\r\n\r\n",                      // bare LF
        b"GET / HTTP/1.1\r\nHost: a\n\n",                        // bare LF
        b"GET / HTTP/1.1\r\nHost: a\r\n\n",                      // bare LF
        b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",                 // CR in a value
        b"GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n",                 // NUL in a value
        b"GET / HTTP/1.1\r\nHost: a\x7fb\r\n\r\n",               // DEL in a value
        b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",         // obs-fold
        b"GET / HTTP/1.1\r\nHost: a\r\n\tfolded\r\n\r\n",        // obs-fold
        b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",                   // space before the colon
        b"GET / HTTP/1.1\r\nHo(st: a\r\n\r\n",                   // not a token
        b"GET / HTTP/1.1\r\n: a\r\n\r\n",                        // empty name
        b"GET / HTTP/1.1\r\nHost a\r\n\r\n",                     // no colon
        b"GET / HTTP/1.1\r\nHost: \xff\r\n\r\n",                 // not UTF-8
        b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",                // empty line first
        b"GET /  HTTP/1.1\r\n\r\n",                              // two spaces
        b"GET / HTTP/1.1 \r\n\r\n",                              // trailing space
        b"GET /\r\n\r\n",                                        // HTTP/0.9 style
        b"GET / HTTP/1.1 x\r\n\r\n",                             // four parts
        b"G(T / HTTP/1.1\r\n\r\n",                               // method not a token
        b"GET / HTTP/1.10\r\n\r\n",                              // version
        b"GET / http/1.1\r\n\r\n",                               // version is case-sensitive
        b"GET /\xc3\xa9 HTTP/1.1\r\n\r\n",                       // non-ASCII target
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", // a TLS ClientHello
    ];
    for &case in cases {
        let err = parse_request(case).unwrap_err();
        assert!(
            matches!(err, HandshakeError::Malformed(_)),
            "{case:?}: {err:?}"
        );
        assert_eq!(err.http_status(), 400);
        assert!(err.is_peer_fault());
    }

    // Control bytes fail at once, without waiting for the end of the head.
    let mut buf = BytesMut::from(&b"\x16\x03\x01\x02\x00"[..]);
    assert!(matches!(
        RequestParser::default().parse(&mut buf),
        Err(HandshakeError::Malformed(_))
    ));
}

#[test]
fn lenient_where_http_allows() {
    // OWS around values is trimmed, empty values and UTF-8 text are kept, names keep their case.
    let req = parse_request(
        b"GET /a?b=c HTTP/1.1\r\nHost:example.com\r\nX-Empty:\r\nX-Tab:\t v \t\r\nX-Text: caf\xc3\xa9\r\n\r\n",
    )
    .unwrap();
    assert_eq!(req.path(), "/a?b=c");
    assert_eq!(req.header("host"), Some("example.com"));
    assert_eq!(req.header("x-empty"), Some(""));
    assert_eq!(req.header("x-tab"), Some("v"));
    assert_eq!(req.header("x-text"), Some("café"));
    assert_eq!(
        req.headers().map(|(n, _)| n).collect::<Vec<_>>(),
        ["Host", "X-Empty", "X-Tab", "X-Text"]
    );
    // A head without headers.
    let req = parse_request(b"OPTIONS * HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(
        (req.method(), req.path(), req.header_count()),
        ("OPTIONS", "*", 0)
    );
    assert!(format!("{req:?}").contains("OPTIONS"));
}

// ---------------------------------------------------------------------------------------------
// Server validation

#[test]
fn validation_failures_and_statuses() {
    let line = "GET /chat HTTP/1.1";
    let cases: &[(&str, &[Change<'_>], HandshakeError, u16)] = &[
        (
            "POST /chat HTTP/1.1",
            &[],
            HandshakeError::MethodNotGet,
            400,
        ),
        ("get /chat HTTP/1.1", &[], HandshakeError::MethodNotGet, 400),
        (
            "GET /chat HTTP/1.0",
            &[],
            HandshakeError::UnsupportedHttpVersion,
            400,
        ),
        (
            "GET /chat HTTP/2.0",
            &[],
            HandshakeError::UnsupportedHttpVersion,
            400,
        ),
        (
            "GET /chat HTTP/2",
            &[],
            HandshakeError::UnsupportedHttpVersion,
            400,
        ),
        (line, &[("Host", None)], HandshakeError::MissingHost, 400),
        (
            line,
            &[("Host", Some(""))],
            HandshakeError::MissingHost,
            400,
        ),
        (
            line,
            &[("Upgrade", None)],
            HandshakeError::MissingUpgrade,
            400,
        ),
        (
            line,
            &[("Upgrade", Some("h2c"))],
            HandshakeError::MissingUpgrade,
            400,
        ),
        (
            line,
            &[("Connection", None)],
            HandshakeError::MissingConnectionUpgrade,
            400,
        ),
        (
            line,
            &[("Connection", Some("keep-alive"))],
            HandshakeError::MissingConnectionUpgrade,
            400,
        ),
        (
            line,
            &[("Connection", Some("upgraded"))],
            HandshakeError::MissingConnectionUpgrade,
            400,
        ),
        (
            line,
            &[("Sec-WebSocket-Key", None)],
            HandshakeError::BadKey,
            400,
        ),
        (
            line,
            &[("Sec-WebSocket-Key", Some(""))],
            HandshakeError::BadKey,
            400,
        ),
        // 15 bytes
        (
            line,
            &[("Sec-WebSocket-Key", Some("AAAAAAAAAAAAAAAAAAAA"))],
            HandshakeError::BadKey,
            400,
        ),
        // 17 bytes
        (
            line,
            &[("Sec-WebSocket-Key", Some("AAAAAAAAAAAAAAAAAAAAAAA="))],
            HandshakeError::BadKey,
            400,
        ),
        // not base64
        (
            line,
            &[("Sec-WebSocket-Key", Some("not a base64 key at all!"))],
            HandshakeError::BadKey,
            400,
        ),
        (
            line,
            &[("Sec-WebSocket-Key", Some("dGhlIHNhbXBsZSBub25jZQ"))],
            HandshakeError::BadKey,
            400,
        ),
        (
            line,
            &[("Sec-WebSocket-Version", Some("8"))],
            HandshakeError::UnsupportedVersion,
            426,
        ),
        (
            line,
            &[("Sec-WebSocket-Version", Some("13, 8"))],
            HandshakeError::UnsupportedVersion,
            426,
        ),
        (
            line,
            &[("Sec-WebSocket-Version", None)],
            HandshakeError::UnsupportedVersion,
            426,
        ),
    ];
    for (start, changes, expected, status) in cases {
        let err = validation_error(start, changes);
        assert_eq!(&err, expected, "{start} {changes:?}");
        assert_eq!(err.http_status(), *status);
        assert!(err.is_peer_fault());
    }

    // Repeated headers.
    let mut twice = request_with(line, &[]);
    twice.truncate(twice.len() - 2);
    let mut with = |extra: &str| {
        let mut v = twice.clone();
        v.extend_from_slice(extra.as_bytes());
        v.extend_from_slice(b"\r\n");
        validate_request(&parse_request(&v).unwrap()).unwrap_err()
    };
    assert_eq!(
        with("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"),
        HandshakeError::BadKey
    );
    assert_eq!(
        with("Sec-WebSocket-Version: 13\r\n"),
        HandshakeError::UnsupportedVersion
    );
    assert!(matches!(
        with("Host: other\r\n"),
        HandshakeError::Malformed(_)
    ));
    let _ = &mut with;
}

#[test]
fn version_rejection_carries_the_supported_version() {
    let req = parse_request(&request_with(
        "GET / HTTP/1.1",
        &[("Sec-WebSocket-Version", Some("8"))],
    ))
    .unwrap();
    let rejection = accept(&req, &AcceptOptions::default()).unwrap_err();
    assert_eq!(rejection.status, 426);
    assert_eq!(rejection.error, HandshakeError::UnsupportedVersion);
    let response = text(&rejection.response);
    assert!(
        response.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{response}"
    );
    assert!(
        response.contains("\r\nSec-WebSocket-Version: 13\r\n"),
        "{response}"
    );
    assert!(response.contains("\r\nConnection: close\r\n"));
    assert!(rejection.to_string().contains("426"));

    // The rejection is a complete response whose Content-Length matches its body.
    let resp = parse_response(&rejection.response).unwrap();
    let mut buf = BytesMut::from(&rejection.response[..]);
    ResponseParser::default().parse(&mut buf).unwrap().unwrap();
    let length: usize = resp.header("content-length").unwrap().parse().unwrap();
    assert_eq!(buf.len(), length);
    assert_eq!(text(&buf), format!("{}\n", rejection.reason));
}

#[test]
fn lenient_token_lists_are_accepted() {
    for changes in [
        &[("Connection", Some("keep-alive, Upgrade"))][..],
        &[("Connection", Some("Upgrade,keep-alive"))],
        &[("Connection", Some("UPGRADE"))],
        &[("Upgrade", Some("WebSocket"))],
        &[("Upgrade", Some("h2c, websocket"))],
        &[("Sec-WebSocket-Key", Some("AAAAAAAAAAAAAAAAAAAAAA=="))],
    ] {
        let req = parse_request(&request_with("GET /x HTTP/1.1", changes)).unwrap();
        validate_request(&req).unwrap();
        accept(&req, &AcceptOptions::default()).unwrap();
    }
    // HTTP/1.2 would be a later 1.x.
    validate_request(&parse_request(&request_with("GET / HTTP/1.2", &[])).unwrap()).unwrap();
    // Connection spread over two headers.
    let mut req = request_with("GET / HTTP/1.1", &[("Connection", Some("keep-alive"))]);
    req.truncate(req.len() - 2);
    req.extend_from_slice(b"connection: upgrade\r\n\r\n");
    validate_request(&parse_request(&req).unwrap()).unwrap();
}

#[test]
fn reject_response_format() {
    let bytes = reject_response(
        403,
        "nope",
        &[
            ("X-Why", "policy"),
            ("Bad\r\nName", "x"),
            ("X-Inject", "a\r\nb: c"),
        ],
    );
    assert_eq!(
        text(&bytes),
        "HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: 5\r\nX-Why: policy\r\n\r\nnope\n"
    );
    assert!(text(&reject_response(599, "", &[])).starts_with("HTTP/1.1 599 Error\r\n"));
    assert!(
        text(&reject_response(7, "", &[])).starts_with("HTTP/1.1 500 Internal Server Error\r\n")
    );
    let redirect = reject_response(307, "moved", &[("Location", "ws://other/")]);
    assert!(text(&redirect).contains("\r\nLocation: ws://other/\r\n"));
}

// ---------------------------------------------------------------------------------------------
// Subprotocols

#[test]
fn subprotocol_selection() {
    // The client's order wins.
    assert_eq!(select_subprotocol(&["b", "a"], &["a", "b"]), Some("b"));
    assert_eq!(select_subprotocol(&["x", "a", "b"], &["b", "a"]), Some("a"));
    assert_eq!(select_subprotocol(&["x"], &["a"]), None);
    assert_eq!(select_subprotocol(&[], &["a"]), None);
    assert_eq!(select_subprotocol(&["a"], &[]), None);
    // Case-sensitive.
    assert_eq!(select_subprotocol(&["Chat"], &["chat"]), None);

    // Through accept: exactly one header with one value.
    let req = parse_request(&request_with(
        "GET / HTTP/1.1",
        &[("Sec-WebSocket-Protocol", Some("v2.chat , v1.chat"))],
    ))
    .unwrap();
    assert_eq!(req.subprotocols(), ["v2.chat", "v1.chat"]);
    let opts = AcceptOptions {
        subprotocols: &["v1.chat", "v2.chat"],
        ..Default::default()
    };
    let accepted = accept(&req, &opts).unwrap();
    assert_eq!(accepted.subprotocol.as_deref(), Some("v2.chat"));
    let resp = parse_response(&accepted.response).unwrap();
    assert_eq!(
        resp.header_all("sec-websocket-protocol")
            .collect::<Vec<_>>(),
        ["v2.chat"]
    );
    let opts = AcceptOptions {
        subprotocols: &["mqtt"],
        ..Default::default()
    };
    let accepted = accept(&req, &opts).unwrap();
    assert_eq!(accepted.subprotocol, None);
    assert!(!text(&accepted.response).contains("Sec-WebSocket-Protocol"));
}

// ---------------------------------------------------------------------------------------------
// Extensions

fn offer(name: &str, params: &[(&str, Option<&str>)]) -> ExtensionOffer {
    ExtensionOffer {
        name: name.into(),
        params: params
            .iter()
            .map(|(n, v)| ExtensionParam {
                name: (*n).into(),
                value: v.map(Into::into),
            })
            .collect(),
    }
}

#[test]
fn extension_header_parsing() {
    assert_eq!(
        parse_extensions(
            "permessage-deflate; client_max_window_bits, permessage-deflate; server_no_context_takeover; client_max_window_bits=10"
        )
        .unwrap(),
        [
            offer("permessage-deflate", &[("client_max_window_bits", None)]),
            offer(
                "permessage-deflate",
                &[("server_no_context_takeover", None), ("client_max_window_bits", Some("10"))]
            ),
        ]
    );
    assert_eq!(
        parse_extensions("x; a=\"10\"; b=\"\\1\\5\"").unwrap(),
        [offer("x", &[("a", Some("10")), ("b", Some("15"))])]
    );
    // Case, whitespace, empty elements.
    assert_eq!(
        parse_extensions(" ,Foo ;\tBar = Baz , ,x-y ,").unwrap(),
        [offer("foo", &[("bar", Some("Baz"))]), offer("x-y", &[])]
    );
    assert_eq!(parse_extensions("").unwrap(), []);
    assert_eq!(parse_extensions(" , ").unwrap(), []);

    for bad in [
        "; x",
        "foo;",
        "foo; =10",
        "foo; x=",
        "foo; x=\"\"",
        "foo; x=\"10",
        "foo; x=\"1 0\"",
        "foo; x=\"a,b\"",
        "foo bar",
        "foo; x=1 2",
        "foo; x y",
        "foo=1",
        "fo\"o",
        "foo, ;x",
        "foo; x=\"\\\"",
        "foo; x=a=b",
        "foo; x=\"1\"2",
    ] {
        assert!(
            matches!(parse_extensions(bad), Err(HandshakeError::Malformed(_))),
            "{bad:?}"
        );
    }

    // From a request: every header, in order.
    let mut head = request_with("GET / HTTP/1.1", &[]);
    head.truncate(head.len() - 2);
    head.extend_from_slice(
        b"Sec-WebSocket-Extensions: a; p=1\r\nsec-websocket-extensions: B, c\r\n\r\n",
    );
    let req = parse_request(&head).unwrap();
    assert_eq!(
        req.extension_offers().unwrap(),
        [
            offer("a", &[("p", Some("1"))]),
            offer("b", &[]),
            offer("c", &[])
        ]
    );
}

#[derive(Debug)]
struct TestExtension;

impl Extension for TestExtension {
    fn rsv_bits(&self) -> u8 {
        RSV1
    }
    fn decode(
        &mut self,
        input: &[u8],
        _fin: bool,
        out: &mut BytesMut,
        _limit: usize,
    ) -> Result<(), ExtensionError> {
        out.extend_from_slice(input);
        Ok(())
    }
    fn encode(&mut self, payload: &Bytes, _is_text: bool) -> Result<(u8, Bytes), ExtensionError> {
        Ok((0, payload.clone()))
    }
}

/// Accepts the first `permessage-deflate` offer without unknown parameters; answers
/// `permessage-deflate` plus `server_no_context_takeover` when offered.
#[derive(Debug, Default)]
struct TestNegotiator {
    /// What server_accept returns instead, if set.
    server_override: Option<Result<Option<String>, ExtensionError>>,
    client_offer: Option<&'static str>,
}

impl ExtensionNegotiator for TestNegotiator {
    fn client_offer(&self) -> Option<String> {
        Some(
            self.client_offer
                .unwrap_or("permessage-deflate; client_max_window_bits")
                .to_owned(),
        )
    }

    fn client_accept(
        &self,
        answer: &[ExtensionOffer],
    ) -> Result<Option<Box<dyn Extension>>, ExtensionError> {
        match answer {
            [] => Ok(None),
            [one]
                if one
                    .params
                    .iter()
                    .all(|p| p.name == "server_no_context_takeover") =>
            {
                Ok(Some(Box::new(TestExtension)))
            }
            _ => Err(ExtensionError::Negotiation("bad answer".into())),
        }
    }

    fn server_accept(
        &self,
        offers: &[ExtensionOffer],
    ) -> Result<Option<(String, Box<dyn Extension>)>, ExtensionError> {
        if let Some(result) = &self.server_override {
            return result
                .clone()
                .map(|answer| answer.map(|a| (a, Box::new(TestExtension) as Box<dyn Extension>)));
        }
        const KNOWN: &[&str] = &["client_max_window_bits", "server_no_context_takeover"];
        for o in offers {
            if o.name == "permessage-deflate"
                && o.params.iter().all(|p| KNOWN.contains(&p.name.as_str()))
            {
                let mut answer = String::from("permessage-deflate");
                if o.params
                    .iter()
                    .any(|p| p.name == "server_no_context_takeover")
                {
                    answer.push_str("; server_no_context_takeover");
                }
                return Ok(Some((answer, Box::new(TestExtension))));
            }
        }
        Ok(None)
    }
}

fn request_with_extensions(value: &str) -> Request {
    parse_request(&request_with(
        "GET / HTTP/1.1",
        &[("Sec-WebSocket-Extensions", Some(value))],
    ))
    .unwrap()
}

#[test]
fn server_answers_only_what_the_negotiator_returns() {
    let negotiator = TestNegotiator::default();
    let opts = AcceptOptions {
        negotiator: Some(&negotiator),
        ..Default::default()
    };

    let req = request_with_extensions(
        "x-unknown, permessage-deflate; bogus, permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
    );
    let accepted = accept(&req, &opts).unwrap();
    assert!(accepted.extension.is_some());
    let resp = parse_response(&accepted.response).unwrap();
    assert_eq!(
        resp.header_all("sec-websocket-extensions")
            .collect::<Vec<_>>(),
        ["permessage-deflate; server_no_context_takeover"]
    );

    // Declined: no header, no extension.
    let accepted = accept(&request_with_extensions("x-unknown"), &opts).unwrap();
    assert!(accepted.extension.is_none());
    assert!(!text(&accepted.response).contains("Extensions"));

    // Without a negotiator offers are ignored, even malformed ones.
    let accepted = accept(
        &request_with_extensions("permessage-deflate; =;"),
        &AcceptOptions::default(),
    )
    .unwrap();
    assert!(accepted.extension.is_none());
    assert!(!text(&accepted.response).contains("Extensions"));

    // With one, a malformed header is the client's fault.
    let rejection = accept(&request_with_extensions("permessage-deflate; =;"), &opts).unwrap_err();
    assert!(matches!(rejection.error, HandshakeError::Malformed(_)));
    assert_eq!(rejection.status, 400);
}

#[test]
fn negotiator_errors_map_to_statuses() {
    let req = request_with_extensions("permessage-deflate");
    let cases = [
        (Err(ExtensionError::Negotiation("no".into())), 400, true),
        (Err(ExtensionError::Internal("oops".into())), 500, false),
        (Ok(Some("x-not-offered".to_owned())), 500, false),
        (
            Ok(Some("permessage-deflate\r\nX-Injected: 1".to_owned())),
            500,
            false,
        ),
        (Ok(Some("permessage-deflate; =".to_owned())), 500, false),
    ];
    for (result, status, peer) in cases {
        let negotiator = TestNegotiator {
            server_override: Some(result),
            ..Default::default()
        };
        let opts = AcceptOptions {
            negotiator: Some(&negotiator),
            ..Default::default()
        };
        let rejection = accept(&req, &opts).unwrap_err();
        assert_eq!(rejection.status, status, "{:?}", rejection.error);
        assert!(matches!(rejection.error, HandshakeError::Extension(_)));
        assert_eq!(rejection.error.is_peer_fault(), peer);
    }
}

// ---------------------------------------------------------------------------------------------
// Client

const NONCE: [u8; 16] = *b"the sample nonce";

#[test]
fn client_request_bytes() {
    let negotiator = TestNegotiator::default();
    let opts = ClientOptions {
        subprotocols: &["chat", "superchat"],
        negotiator: Some(&negotiator),
        extra_headers: &[("Authorization", "Bearer t")],
        origin: Some("http://example.com"),
    };
    let (handshake, request) =
        client_request_with_key("server.example.com", "/chat?x=1", &opts, NONCE).unwrap();
    assert_eq!(handshake.key(), "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(handshake.expected_accept(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(
        text(&request),
        "GET /chat?x=1 HTTP/1.1\r\n\
         Host: server.example.com\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\
         Origin: http://example.com\r\n\
         Sec-WebSocket-Protocol: chat, superchat\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
         Authorization: Bearer t\r\n\
         \r\n"
    );
    let (_, minimal) =
        client_request_with_key("h:1", "/", &ClientOptions::default(), NONCE).unwrap();
    assert_eq!(
        text(&minimal),
        "GET / HTTP/1.1\r\nHost: h:1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );

    // Random keys: valid, and different each time.
    let (a, _) = client_request("h", "/", &ClientOptions::default()).unwrap();
    let (b, _) = client_request("h", "/", &ClientOptions::default()).unwrap();
    assert_ne!(a.key(), b.key());
    assert_eq!(a.key().len(), 24);
    assert!(a.key().ends_with("=="));
}

#[test]
fn client_request_rejects_bad_input() {
    let bad_offer = TestNegotiator {
        client_offer: Some("permessage-deflate; ="),
        ..Default::default()
    };
    let cases: Vec<(&str, &str, ClientOptions<'_>)> = vec![
        ("", "/", ClientOptions::default()),
        ("a b", "/", ClientOptions::default()),
        ("a\r\nX: y", "/", ClientOptions::default()),
        ("h", "", ClientOptions::default()),
        ("h", "chat", ClientOptions::default()),
        ("h", "/a b", ClientOptions::default()),
        ("h", "/\r\n", ClientOptions::default()),
        (
            "h",
            "/",
            ClientOptions {
                subprotocols: &["a b"],
                ..Default::default()
            },
        ),
        (
            "h",
            "/",
            ClientOptions {
                subprotocols: &[""],
                ..Default::default()
            },
        ),
        (
            "h",
            "/",
            ClientOptions {
                subprotocols: &["a", "b", "a"],
                ..Default::default()
            },
        ),
        (
            "h",
            "/",
            ClientOptions {
                origin: Some("x\ny"),
                ..Default::default()
            },
        ),
        (
            "h",
            "/",
            ClientOptions {
                extra_headers: &[("X", "a\rb")],
                ..Default::default()
            },
        ),
        (
            "h",
            "/",
            ClientOptions {
                negotiator: Some(&bad_offer),
                ..Default::default()
            },
        ),
    ];
    for (host, path, opts) in cases {
        let err = client_request(host, path, &opts).unwrap_err();
        assert!(
            matches!(err, HandshakeError::InvalidInput(_)),
            "{host:?} {path:?}"
        );
        assert!(!err.is_peer_fault());
    }
}

/// Runs a client request through the server and returns the server's response bytes.
fn server_response(request: &Bytes, opts: &AcceptOptions<'_>) -> Bytes {
    let mut buf = BytesMut::from(&request[..]);
    let req = RequestParser::default().parse(&mut buf).unwrap().unwrap();
    accept(&req, opts).unwrap().response
}

#[test]
fn round_trip() {
    let negotiator = TestNegotiator {
        client_offer: Some("permessage-deflate; server_no_context_takeover, permessage-deflate"),
        ..Default::default()
    };
    let client_opts = ClientOptions {
        subprotocols: &["v2", "v1"],
        negotiator: Some(&negotiator),
        ..Default::default()
    };
    let url = parse_ws_url("ws://[::1]:9001/echo?x").unwrap();
    let (client, request) =
        client_request(&url.host_header, &url.path_and_query, &client_opts).unwrap();

    let mut inbound = BytesMut::from(&request[..]);
    inbound.extend_from_slice(MASKED_HELLO);
    let req = RequestParser::default()
        .parse(&mut inbound)
        .unwrap()
        .unwrap();
    assert_eq!(&inbound[..], MASKED_HELLO);
    assert_eq!(req.header("host"), Some("[::1]:9001"));
    assert_eq!(req.path(), "/echo?x");
    let server_opts = AcceptOptions {
        subprotocols: &["v1", "v2"],
        negotiator: Some(&negotiator),
        ..Default::default()
    };
    let accepted = accept(&req, &server_opts).unwrap();
    assert_eq!(accepted.subprotocol.as_deref(), Some("v2"));
    assert!(accepted.extension.is_some());

    let mut reply = BytesMut::from(&accepted.response[..]);
    reply.extend_from_slice(b"\x81\x05Hello");
    let resp = ResponseParser::default()
        .parse(&mut reply)
        .unwrap()
        .unwrap();
    assert_eq!(&reply[..], b"\x81\x05Hello");
    let done = client.validate_response(&resp, Some(&negotiator)).unwrap();
    assert_eq!(done.subprotocol.as_deref(), Some("v2"));
    assert_eq!(done.extension.unwrap().rsv_bits(), RSV1);

    // The server declining everything is fine too.
    let response = server_response(&request, &AcceptOptions::default());
    let done = client
        .validate_response(&parse_response(&response).unwrap(), Some(&negotiator))
        .unwrap();
    assert!(done.subprotocol.is_none() && done.extension.is_none());
}

/// A 101 response for the sample key with extra lines.
fn response_101(extra: &str) -> Response {
    parse_response(
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n{extra}\r\n"
        )
        .as_bytes(),
    )
    .unwrap()
}

#[test]
fn client_rejects_bad_responses() {
    let offered = ClientOptions {
        subprotocols: &["chat", "superchat"],
        ..Default::default()
    };
    let (client, _) = client_request_with_key("h", "/", &offered, NONCE).unwrap();
    let (plain, _) = client_request_with_key("h", "/", &ClientOptions::default(), NONCE).unwrap();

    // Sanity: the base response is accepted.
    assert!(
        client
            .validate_response(&response_101(""), None)
            .unwrap()
            .subprotocol
            .is_none()
    );
    // Case-insensitive tokens.
    plain
        .validate_response(
            &parse_response(
                b"HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n\
                  sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
            )
            .unwrap(),
            None,
        )
        .unwrap();

    let not_101 = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").unwrap();
    assert_eq!(
        client.validate_response(&not_101, None).unwrap_err(),
        HandshakeError::BadStatus(200)
    );
    let forbidden = parse_response(&reject_response(403, "no", &[])).unwrap();
    assert_eq!(
        client.validate_response(&forbidden, None).unwrap_err(),
        HandshakeError::BadStatus(403)
    );

    let cases: &[(&str, HandshakeError)] = &[
        ("", HandshakeError::MissingUpgrade),
        (
            "Upgrade: websocket\r\n",
            HandshakeError::MissingConnectionUpgrade,
        ),
        (
            "Upgrade: websocket\r\nConnection: Upgrade\r\n",
            HandshakeError::BadAccept,
        ),
        (
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo\r\n",
            HandshakeError::BadAccept,
        ),
        (
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: S3PPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
            HandshakeError::BadAccept,
        ),
    ];
    for (headers, expected) in cases {
        let resp =
            parse_response(format!("HTTP/1.1 101 Switching Protocols\r\n{headers}\r\n").as_bytes())
                .unwrap();
        assert_eq!(
            &client.validate_response(&resp, None).unwrap_err(),
            expected,
            "{headers}"
        );
    }
    // A repeated accept header.
    assert_eq!(
        client
            .validate_response(
                &response_101("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
                None
            )
            .unwrap_err(),
        HandshakeError::BadAccept
    );

    // Only an HTTP/1.1 server switches protocols: a 101 on another version's status line is
    // refused, whatever its headers say (a later 1.x is read as 1.1, per RFC 9110).
    let with_version = |version: &str| {
        parse_response(
            format!(
                "{version} 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap()
    };
    for (version, major, minor) in [
        ("HTTP/1.0", 1, 0),
        ("HTTP/0.9", 0, 9),
        ("HTTP/2.0", 2, 0),
        ("HTTP/2", 2, 0),
        ("HTTP/3", 3, 0),
    ] {
        let response = with_version(version);
        assert_eq!(response.version(), (major, minor));
        let err = plain.validate_response(&response, None).unwrap_err();
        assert_eq!(
            err,
            HandshakeError::BadResponseVersion { major, minor },
            "{version}"
        );
        assert!(err.is_peer_fault());
        assert!(err.to_string().contains("HTTP/1.1"), "{err}");
    }
    plain
        .validate_response(&with_version("HTTP/1.1"), None)
        .unwrap();
    plain
        .validate_response(&with_version("HTTP/1.2"), None)
        .unwrap();
    // A refusal is reported as one, whatever the version.
    let old_refusal = parse_response(b"HTTP/1.0 403 Forbidden\r\n\r\n").unwrap();
    assert_eq!(
        plain.validate_response(&old_refusal, None).unwrap_err(),
        HandshakeError::BadStatus(403)
    );
    // Still not a version: malformed.
    for line in ["HTTP/11 101", "HTTP/1.1.1 101", "HTTP/ 101", "HTTP/x 101"] {
        assert!(
            matches!(
                parse_response(format!("{line}\r\n\r\n").as_bytes()),
                Err(HandshakeError::Malformed(_))
            ),
            "{line}"
        );
    }

    // Subprotocols.
    let chosen = client
        .validate_response(&response_101("Sec-WebSocket-Protocol: superchat\r\n"), None)
        .unwrap();
    assert_eq!(chosen.subprotocol.as_deref(), Some("superchat"));
    for (c, extra) in [
        (&client, "Sec-WebSocket-Protocol: other\r\n"),
        (&client, "Sec-WebSocket-Protocol: Chat\r\n"),
        (&client, "Sec-WebSocket-Protocol: chat, superchat\r\n"),
        (
            &client,
            "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n",
        ),
        (&plain, "Sec-WebSocket-Protocol: chat\r\n"),
    ] {
        assert_eq!(
            c.validate_response(&response_101(extra), None).unwrap_err(),
            HandshakeError::UnexpectedSubprotocol,
            "{extra}"
        );
    }
}

#[test]
fn client_rejects_unoffered_extensions() {
    let negotiator = TestNegotiator::default();
    let with_ext = ClientOptions {
        negotiator: Some(&negotiator),
        ..Default::default()
    };
    let (client, _) = client_request_with_key("h", "/", &with_ext, NONCE).unwrap();
    let (plain, _) = client_request_with_key("h", "/", &ClientOptions::default(), NONCE).unwrap();

    let answered = response_101("Sec-WebSocket-Extensions: permessage-deflate\r\n");
    let done = client
        .validate_response(&answered, Some(&negotiator))
        .unwrap();
    assert!(done.extension.is_some());
    // Not offered at all.
    assert_eq!(
        plain.validate_response(&answered, None).unwrap_err(),
        HandshakeError::UnexpectedExtension
    );
    // Offered, but the negotiator was not passed back in.
    assert_eq!(
        client.validate_response(&answered, None).unwrap_err(),
        HandshakeError::UnexpectedExtension
    );
    // An extension other than the one offered.
    let other =
        response_101("Sec-WebSocket-Extensions: permessage-deflate, x-webkit-deflate-frame\r\n");
    assert_eq!(
        client
            .validate_response(&other, Some(&negotiator))
            .unwrap_err(),
        HandshakeError::UnexpectedExtension
    );
    // The negotiator refuses the answer.
    let refused =
        response_101("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=9\r\n");
    assert_eq!(
        client
            .validate_response(&refused, Some(&negotiator))
            .unwrap_err(),
        HandshakeError::Extension(ExtensionError::Negotiation("bad answer".into()))
    );
    // Malformed answer.
    let malformed = response_101("Sec-WebSocket-Extensions: permessage-deflate;\r\n");
    assert!(matches!(
        client
            .validate_response(&malformed, Some(&negotiator))
            .unwrap_err(),
        HandshakeError::Malformed(_)
    ));
    // No answer: the negotiator sees an empty slice and declines.
    let done = client
        .validate_response(&response_101(""), Some(&negotiator))
        .unwrap();
    assert!(done.extension.is_none());
}

// ---------------------------------------------------------------------------------------------
// URLs

#[test]
fn url_parsing() {
    let cases: &[(&str, &str, u16, &str, bool, &str)] = &[
        (
            "ws://example.com",
            "example.com",
            80,
            "/",
            false,
            "example.com",
        ),
        (
            "ws://example.com/",
            "example.com",
            80,
            "/",
            false,
            "example.com",
        ),
        (
            "WSS://example.com",
            "example.com",
            443,
            "/",
            true,
            "example.com",
        ),
        (
            "ws://example.com:80/a",
            "example.com",
            80,
            "/a",
            false,
            "example.com",
        ),
        (
            "ws://example.com:443/a",
            "example.com",
            443,
            "/a",
            false,
            "example.com:443",
        ),
        (
            "wss://example.com:80/a",
            "example.com",
            80,
            "/a",
            true,
            "example.com:80",
        ),
        (
            "ws://example.com:/a",
            "example.com",
            80,
            "/a",
            false,
            "example.com",
        ),
        (
            "ws://example.com:9001/chat?room=1&x=%20",
            "example.com",
            9001,
            "/chat?room=1&x=%20",
            false,
            "example.com:9001",
        ),
        (
            "ws://example.com?q",
            "example.com",
            80,
            "/?q",
            false,
            "example.com",
        ),
        (
            "ws://127.0.0.1:8080",
            "127.0.0.1",
            8080,
            "/",
            false,
            "127.0.0.1:8080",
        ),
        ("ws://[::1]:9001/", "::1", 9001, "/", false, "[::1]:9001"),
        (
            "wss://[2001:db8::1]/x",
            "2001:db8::1",
            443,
            "/x",
            true,
            "[2001:db8::1]",
        ),
        (
            "ws://[::ffff:1.2.3.4]",
            "::ffff:1.2.3.4",
            80,
            "/",
            false,
            "[::ffff:1.2.3.4]",
        ),
        ("ws://a:65535", "a", 65535, "/", false, "a:65535"),
    ];
    for &(input, host, port, path, tls, host_header) in cases {
        let url = parse_ws_url(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(url.host, host, "{input}");
        assert_eq!(url.port, port, "{input}");
        assert_eq!(url.path_and_query, path, "{input}");
        assert_eq!(url.tls, tls, "{input}");
        assert_eq!(url.host_header, host_header, "{input}");
    }

    for bad in [
        "",
        "example.com",
        "http://example.com/",
        "ws:/example.com",
        "ws://",
        "ws:///path",
        "ws://:80/",
        "ws://example.com:0/",
        "ws://example.com:65536/",
        "ws://example.com:123456/",
        "ws://example.com:8o/",
        "ws://example.com:-1/",
        "ws://example.com:80:80/",
        "ws://user@example.com/",
        "ws://user:pw@example.com/",
        "ws://example.com/#frag",
        "ws://example.com/a b",
        "ws://exa mple.com/",
        "ws://example.com/\u{e9}",
        "ws://[::1/",
        "ws://[::1]x/",
        "ws://[not-ipv6]/",
        "ws://[::1]:abc/",
        "ws://::1/",
        "ws://exa[mple.com/",
    ] {
        let err = parse_ws_url(bad).unwrap_err();
        assert!(matches!(err, HandshakeError::BadUrl(_)), "{bad:?}");
        assert!(!err.is_peer_fault());
    }
}

// ---------------------------------------------------------------------------------------------
// The error type

#[test]
fn error_type() {
    fn assert_traits<T: std::error::Error + Clone + PartialEq + Send + Sync + 'static>() {}
    assert_traits::<HandshakeError>();
    assert_traits::<Rejection>();

    let ext = HandshakeError::from(ExtensionError::Negotiation("x".into()));
    assert!(std::error::Error::source(&ext).is_some());
    assert_eq!(ext.http_status(), 400);
    assert!(ext.is_peer_fault());

    for local in [
        HandshakeError::BadUrl("x"),
        HandshakeError::InvalidInput("x"),
        HandshakeError::Random,
        HandshakeError::Extension(ExtensionError::Internal("x".into())),
    ] {
        assert!(!local.is_peer_fault());
        assert_eq!(local.http_status(), 500);
        assert!(!local.to_string().is_empty());
    }
    for peer in [
        HandshakeError::BadStatus(404),
        HandshakeError::BadResponseVersion { major: 1, minor: 0 },
        HandshakeError::BadAccept,
        HandshakeError::UnexpectedSubprotocol,
        HandshakeError::UnexpectedExtension,
        HandshakeError::MissingHost,
    ] {
        assert!(peer.is_peer_fault());
        assert_eq!(peer.http_status(), 400);
    }
    assert!(HandshakeError::BadStatus(404).to_string().contains("404"));
}

/// Details of the head grammar now that httparse reads it: versions it does not know are still
/// read (and refused later by the version checks), status codes are three digits from 100.
#[test]
fn head_grammar_details() {
    let req = parse_request(b"GET /x HTTP/1.2\r\nHost: h \t\r\n\r\n").unwrap();
    assert_eq!((req.version(), req.header("host")), ((1, 2), Some("h")));
    let req = parse_request(b"GET /x HTTP/2\r\nA: 1\r\nB:2\r\n\r\n").unwrap();
    assert_eq!(req.version(), (2, 0));
    assert_eq!(req.headers().collect::<Vec<_>>(), [("A", "1"), ("B", "2")]);
    assert!(matches!(
        parse_request(b"GET /x HTTP/2\r\nA 1\r\n\r\n"),
        Err(HandshakeError::Malformed(_))
    ));

    let resp = parse_response(b"HTTP/1.1 101\r\nUpgrade: websocket\r\n\r\n").unwrap();
    assert_eq!((resp.status(), resp.reason()), (101, ""));
    let resp = parse_response(b"HTTP/2 404 Not Here\r\n\r\n").unwrap();
    assert_eq!(
        (resp.version(), resp.status(), resp.reason()),
        ((2, 0), 404, "Not Here")
    );
    for bad in [
        &b"HTTP/1.1 099 Low\r\n\r\n"[..],
        b"HTTP/2 099 Low\r\n\r\n",
        b"HTTP/1.1 1010 Long\r\n\r\n",
        b"HTTP/1.1 10 Short\r\n\r\n",
    ] {
        assert!(
            matches!(parse_response(bad), Err(HandshakeError::Malformed(_))),
            "{bad:?}"
        );
    }
}
