//! The version-agnostic negotiation (`ws_proto::handshake::negotiate*`): one request type for
//! every transport, the HTTP/1.1 upgrade shell (101 + `Sec-WebSocket-Accept`) and the extended
//! CONNECT shell of HTTP/2 and HTTP/3 (200, no key).

use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Method, StatusCode, Version, header};
use ws_proto::extension::{
    Extension, ExtensionError, ExtensionNegotiator, ExtensionOffer, ServerAcceptance,
};
use ws_proto::handshake::{
    Accept, HandshakeError, HandshakeRequest, Refusal, Reject, RequestParser, is_extended_connect,
    negotiate, negotiate_extended_connect, negotiate_upgrade, validate_extended_connect,
    write_response_head,
};

/// An HTTP/1.1 upgrade request as hyper would hand it over.
fn h1_request() -> http::request::Builder {
    http::Request::get("/chat?room=1")
        .header("Host", "example.com")
        .header("Upgrade", "websocket")
        .header("Connection", "keep-alive, Upgrade")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("Sec-WebSocket-Version", "13")
}

/// An RFC 8441 extended CONNECT as an HTTP/2 server hands it over (`:protocol` set apart).
fn h2_request() -> http::request::Builder {
    http::Request::connect("http://example.com/chat?room=1")
        .version(Version::HTTP_2)
        .header("Sec-WebSocket-Version", "13")
}

fn build(builder: http::request::Builder) -> HandshakeRequest {
    HandshakeRequest::from(builder.body(()).unwrap())
}

fn h2(builder: http::request::Builder) -> HandshakeRequest {
    build(builder).with_protocol("websocket")
}

fn accept_all(_: &HandshakeRequest) -> Result<Accept, Reject> {
    Ok(Accept::default())
}

fn invalid(
    result: Result<(http::Response<()>, ws_proto::handshake::Negotiated), Refusal>,
) -> HandshakeError {
    match result {
        Err(Refusal::Invalid(e)) => e,
        other => panic!("expected an invalid request, got {other:?}"),
    }
}

#[derive(Debug)]
struct Identity;

impl Extension for Identity {
    fn rsv_bits(&self) -> u8 {
        0
    }
    fn decode(
        &mut self,
        input: &[u8],
        _: bool,
        out: &mut BytesMut,
        _: usize,
    ) -> Result<(), ExtensionError> {
        out.extend_from_slice(input);
        Ok(())
    }
    fn encode(&mut self, payload: &Bytes, _: bool) -> Result<(u8, Bytes), ExtensionError> {
        Ok((0, payload.clone()))
    }
}

/// Accepts `x-test` (answering `x-test; ok`), declines anything else.
#[derive(Debug)]
struct TestNegotiator;

impl ExtensionNegotiator for TestNegotiator {
    fn client_offer(&self) -> Option<String> {
        Some("x-test".into())
    }
    fn client_accept(
        &self,
        _: &[ExtensionOffer],
    ) -> Result<Option<Box<dyn Extension>>, ExtensionError> {
        Ok(Some(Box::new(Identity)))
    }
    fn server_accept(
        &self,
        offers: &[ExtensionOffer],
    ) -> Result<Option<ServerAcceptance>, ExtensionError> {
        Ok(offers.iter().any(|o| o.name == "x-test").then(|| {
            (
                "x-test; ok".to_owned(),
                Box::new(Identity) as Box<dyn Extension>,
            )
        }))
    }
}

#[test]
fn the_request_type_carries_path_authority_headers_and_offers() {
    let req = build(
        h1_request()
            .header("Sec-WebSocket-Protocol", "chat.v2, chat")
            .header("sec-websocket-protocol", "other")
            .header("Sec-WebSocket-Extensions", "x-test; a=1, x-other")
            .header("Origin", "https://example.com")
            .header("X-Binary", HeaderValue::from_bytes(b"\xff").unwrap()),
    );
    assert_eq!(req.path, "/chat?room=1");
    assert_eq!(req.authority.as_deref(), Some("example.com"));
    assert_eq!(req.method, Method::GET);
    assert_eq!(req.version, Version::HTTP_11);
    assert_eq!(req.protocol, None);
    assert_eq!(req.header("ORIGIN"), Some("https://example.com"));
    assert_eq!(req.subprotocols(), ["chat.v2", "chat", "other"]);
    let offers = req.extension_offers().unwrap();
    assert_eq!(
        offers.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
        ["x-test", "x-other"]
    );
    assert!(req.has_token("connection", "UPGRADE"));
    // Not UTF-8: not a `&str`, still in `headers`.
    assert_eq!(req.header("x-binary"), None);
    assert_eq!(req.headers["x-binary"].as_bytes(), b"\xff");

    // The authority comes from the URI when there is one, else from `Host`.
    let absolute = build(http::Request::get("ws://a.example:9001/x").header("Host", "b.example"));
    assert_eq!(absolute.authority.as_deref(), Some("a.example:9001"));
    assert_eq!(absolute.path, "/x");

    // The same request from a parsed HTTP/1.1 head.
    let mut head = BytesMut::from(
        &b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
           Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
           Sec-WebSocket-Version: 13\r\nX-Multi: a\r\nX-Multi: b\r\n\r\n"[..],
    );
    let parsed = RequestParser::default().parse(&mut head).unwrap().unwrap();
    let from_h1 = HandshakeRequest::try_from(&parsed).unwrap();
    assert_eq!(from_h1.path, "/chat?room=1");
    assert_eq!(from_h1.authority.as_deref(), Some("example.com"));
    assert_eq!(from_h1.version, Version::HTTP_11);
    assert_eq!(
        from_h1.header_all("x-multi").collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert!(negotiate_upgrade(&from_h1, None, accept_all).is_ok());

    // An absolute-form target gives path and authority.
    let mut head = BytesMut::from(&b"GET ws://a.example:9001/x?y HTTP/1.1\r\nHost: b\r\n\r\n"[..]);
    let parsed = RequestParser::default().parse(&mut head).unwrap().unwrap();
    let absolute = HandshakeRequest::try_from(&parsed).unwrap();
    assert_eq!(absolute.path, "/x?y");
    assert_eq!(absolute.authority.as_deref(), Some("a.example:9001"));

    // HTTP/1.2 is taken as 1.1; versions `http` cannot name are refused.
    let mut head = BytesMut::from(&b"GET / HTTP/1.2\r\nHost: h\r\n\r\n"[..]);
    let parsed = RequestParser::default().parse(&mut head).unwrap().unwrap();
    assert_eq!(
        HandshakeRequest::try_from(&parsed).unwrap().version,
        Version::HTTP_11
    );
    let mut head = BytesMut::from(&b"GET / HTTP/4.0\r\nHost: h\r\n\r\n"[..]);
    let parsed = RequestParser::default().parse(&mut head).unwrap().unwrap();
    assert_eq!(
        HandshakeRequest::try_from(&parsed).unwrap_err(),
        HandshakeError::UnsupportedHttpVersion
    );
}

#[test]
fn http1_shell_answers_101_with_the_accept_key() {
    let req = build(
        h1_request()
            .header("Sec-WebSocket-Protocol", "chat.v2, chat")
            .header("Sec-WebSocket-Extensions", "x-other, x-test"),
    );
    let (response, negotiated) = negotiate_upgrade(&req, Some(&TestNegotiator), |req| {
        assert_eq!(req.path, "/chat?room=1");
        let mut headers = http::HeaderMap::new();
        headers.insert(header::SET_COOKIE, HeaderValue::from_static("a=b"));
        Ok(Accept {
            subprotocol: Some("chat".into()),
            headers,
        })
    })
    .unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(negotiated.subprotocol.as_deref(), Some("chat"));
    assert!(negotiated.extension.is_some());
    assert_eq!(
        &write_response_head(&response)[..],
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\
          Sec-WebSocket-Extensions: x-test; ok\r\nSet-Cookie: a=b\r\n\r\n"
    );
}

#[test]
fn http1_shell_refuses_what_rfc_6455_refuses() {
    let cases = [
        (h1_request().method("POST"), HandshakeError::MethodNotGet),
        (
            h1_request().version(Version::HTTP_10),
            HandshakeError::UnsupportedHttpVersion,
        ),
        // An HTTP/2 request must use the extended CONNECT shell.
        (
            h1_request().version(Version::HTTP_2),
            HandshakeError::UnsupportedHttpVersion,
        ),
        (
            http::Request::get("/")
                .header("Host", "h")
                .header("Connection", "upgrade"),
            HandshakeError::MissingUpgrade,
        ),
        (
            h1_request().header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            HandshakeError::BadKey,
        ),
        (
            h1_request().header("Sec-WebSocket-Version", "8"),
            HandshakeError::UnsupportedVersion,
        ),
    ];
    for (builder, expected) in cases {
        let mut called = false;
        let err = invalid(negotiate_upgrade(&build(builder), None, |_| {
            called = true;
            Ok(Accept::default())
        }));
        assert_eq!(err, expected);
        // The callback only ever sees valid requests.
        assert!(!called);
    }
    let mut no_host = h1_request().body(()).unwrap();
    no_host.headers_mut().remove(header::HOST);
    assert_eq!(
        invalid(negotiate_upgrade(&no_host.into(), None, accept_all)),
        HandshakeError::MissingHost
    );
}

#[test]
fn extended_connect_shell_answers_200_without_a_key() {
    let req = h2(h2_request()
        .header("Sec-WebSocket-Protocol", "chat")
        .header("Sec-WebSocket-Extensions", "x-test")
        // A key means nothing here: ignored.
        .header("Sec-WebSocket-Key", "not even base64"));
    assert!(is_extended_connect(&req));
    validate_extended_connect(&req).unwrap();
    let (response, negotiated) = negotiate_extended_connect(&req, Some(&TestNegotiator), |req| {
        assert_eq!(req.path, "/chat?room=1");
        assert_eq!(req.authority.as_deref(), Some("example.com"));
        assert_eq!(req.protocol.as_deref(), Some("websocket"));
        Ok(Accept {
            subprotocol: Some("chat".into()),
            ..Default::default()
        })
    })
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(headers["sec-websocket-protocol"], "chat");
    assert_eq!(headers["sec-websocket-extensions"], "x-test; ok");
    for absent in ["sec-websocket-accept", "upgrade", "connection"] {
        assert!(!headers.contains_key(absent), "{absent}");
    }
    assert_eq!(headers.len(), 2);
    assert_eq!(negotiated.subprotocol.as_deref(), Some("chat"));
    assert!(negotiated.extension.is_some());

    // `negotiate` picks the shell from the request; HTTP/3 is the same shell.
    let (response, _) = negotiate(&req, None, accept_all).unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let h3 = h2(h2_request().version(Version::HTTP_3));
    assert_eq!(
        negotiate(&h3, None, accept_all).unwrap().0.status(),
        StatusCode::OK
    );
    let (response, _) = negotiate(&build(h1_request()), None, accept_all).unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
}

#[test]
fn extended_connect_shell_refuses_what_rfc_8441_refuses() {
    let cases = [
        // Over HTTP/1.1, CONNECT is not a WebSocket handshake.
        (
            h2(h2_request().version(Version::HTTP_11)),
            HandshakeError::UnsupportedHttpVersion,
        ),
        (
            h2(h2_request().method("GET")),
            HandshakeError::MethodNotConnect,
        ),
        (build(h2_request()), HandshakeError::MissingProtocol),
        (
            build(h2_request()).with_protocol("webtransport"),
            HandshakeError::MissingProtocol,
        ),
        (
            h2(http::Request::connect("/chat")
                .version(Version::HTTP_2)
                .header("Sec-WebSocket-Version", "13")),
            HandshakeError::MissingHost,
        ),
        (
            h2(http::Request::connect("http://h/").version(Version::HTTP_2)),
            HandshakeError::UnsupportedVersion,
        ),
        (
            h2(h2_request().header("Sec-WebSocket-Version", "13")),
            HandshakeError::UnsupportedVersion,
        ),
    ];
    for (req, expected) in cases {
        assert_eq!(validate_extended_connect(&req).unwrap_err(), expected);
        assert_eq!(
            invalid(negotiate_extended_connect(&req, None, |_| panic!("called"))),
            expected
        );
    }
    // A malformed extension offer is the client's fault once there is a negotiator.
    let req = h2(h2_request().header("Sec-WebSocket-Extensions", "x-test; =1"));
    assert!(negotiate_extended_connect(&req, None, accept_all).is_ok());
    let err = invalid(negotiate_extended_connect(
        &req,
        Some(&TestNegotiator),
        accept_all,
    ));
    assert!(matches!(err, HandshakeError::Malformed(_)));
    assert!(err.is_peer_fault());
}

#[test]
fn subprotocol_must_be_offered() {
    for req in [
        build(h1_request().header("Sec-WebSocket-Protocol", "a")),
        h2(h2_request().header("Sec-WebSocket-Protocol", "a")),
    ] {
        let (response, negotiated) = negotiate(&req, None, |_| {
            Ok(Accept {
                subprotocol: Some("b".into()),
                ..Default::default()
            })
        })
        .unwrap();
        assert_eq!(negotiated.subprotocol, None);
        assert!(!response.headers().contains_key("sec-websocket-protocol"));
    }
}

#[test]
fn refusals_become_responses_in_any_framing() {
    // The application's refusal, with a header of its own.
    let req = h2(h2_request());
    let refusal = negotiate_extended_connect(&req, None, |_| {
        Err(Reject::new(401, "log in first")
            .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")))
    })
    .unwrap_err();
    assert!(matches!(&refusal, Refusal::Rejected(r) if r.status == 401));
    assert_eq!(refusal.status(), StatusCode::UNAUTHORIZED);
    let response = refusal.to_response();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(response.body(), "log in first\n");
    let bytes = refusal.to_http1();
    let text = std::str::from_utf8(&bytes).unwrap();
    assert!(
        text.starts_with("HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n"),
        "{text}"
    );
    assert!(text.contains("\r\nWww-Authenticate: Bearer\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nlog in first\n"), "{text}");

    // An invalid request: the error's status, and 426 names the version spoken.
    let refusal = negotiate(
        &h2(http::Request::connect("http://h/").version(Version::HTTP_2)),
        None,
        accept_all,
    )
    .unwrap_err();
    assert_eq!(refusal.status(), StatusCode::UPGRADE_REQUIRED);
    let response: http::Response<String> = refusal.into();
    assert_eq!(response.headers()["sec-websocket-version"], "13");
    assert!(response.body().contains("Sec-WebSocket-Version"));

    // A status that is not one is sent as 500.
    let refusal = negotiate(&build(h1_request()), None, |_| Err(Reject::new(7, "?"))).unwrap_err();
    assert_eq!(refusal.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(refusal.to_http1().starts_with(b"HTTP/1.1 500 "));

    // Local failures are not explained to the peer.
    let refusal = Refusal::Invalid(HandshakeError::InvalidInput("secret detail"));
    assert_eq!(refusal.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(refusal.to_response().body(), "internal server error\n");
}

/// A head with more headers than an `http::HeaderMap` holds (the limits allow it here) is
/// refused as too many headers, without a panic.
#[test]
fn more_headers_than_a_header_map_holds_is_an_error() {
    let count = 40_000;
    let mut head = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..count {
        head.extend_from_slice(format!("x-{i}: v\r\n").as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    let limits = ws_proto::handshake::HandshakeLimits {
        max_header_bytes: head.len() + 1,
        max_headers: count,
    };
    let mut buf = BytesMut::from(&head[..]);
    let parsed = RequestParser::new(limits).parse(&mut buf).unwrap().unwrap();
    assert_eq!(parsed.header_count(), count);
    assert_eq!(
        HandshakeRequest::try_from(&parsed).unwrap_err(),
        HandshakeError::TooManyHeaders
    );
}

proptest::proptest! {
    /// Any head the parser takes, with WebSocket-ish headers in any combination and values
    /// from a hostile alphabet, goes through both shells (with a negotiator) without a panic,
    /// and a refusal always becomes a response.
    #[test]
    fn both_shells_never_panic(
        lines in proptest::collection::vec(
            (
                proptest::sample::select(vec![
                    "Host", "Upgrade", "Connection", "Sec-WebSocket-Key",
                    "Sec-WebSocket-Version", "Sec-WebSocket-Protocol",
                    "Sec-WebSocket-Extensions", "Origin",
                ]),
                "[ -~\t]{0,40}",
            ),
            0..10,
        ),
    ) {
        let mut head = String::from("GET /p HTTP/1.1\r\n");
        for (name, value) in &lines {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut buf = BytesMut::from(head.as_bytes());
        let Ok(Some(parsed)) = RequestParser::default().parse(&mut buf) else {
            return Ok(());
        };
        let Ok(request) = HandshakeRequest::try_from(&parsed) else {
            return Ok(());
        };
        let pick = |req: &HandshakeRequest| {
            Ok(Accept {
                subprotocol: req.subprotocols().first().map(|p| p.to_string()),
                ..Accept::default()
            })
        };
        if let Err(refusal) = negotiate_upgrade(&request, Some(&TestNegotiator), pick) {
            proptest::prop_assert!(refusal.status().as_u16() >= 400);
            let _ = refusal.to_http1();
        }
        let mut h2 = request.with_protocol("websocket");
        h2.method = Method::CONNECT;
        h2.version = Version::HTTP_2;
        h2.authority = Some("example.com".into());
        match negotiate_extended_connect(&h2, Some(&TestNegotiator), pick) {
            Ok((response, _)) => proptest::prop_assert_eq!(response.status(), StatusCode::OK),
            Err(refusal) => {
                proptest::prop_assert!(refusal.status().as_u16() >= 400);
                let _ = refusal.to_response();
            }
        }
    }
}

mod extended_connect_client {
    use super::*;
    use ws_proto::handshake::{ClientOptions, ExtendedConnectHandshake, extended_connect_request};

    fn request(opts: &ClientOptions<'_>) -> (ExtendedConnectHandshake, http::Request<()>) {
        extended_connect_request(
            Version::HTTP_2,
            "https",
            "example.com:8443",
            "/chat?x=1",
            opts,
        )
        .unwrap()
    }

    fn response(status: u16, headers: &[(&str, &str)]) -> http::Response<()> {
        let mut builder = http::Response::builder().status(status);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn the_request_is_what_the_server_shell_accepts() {
        let opts = ClientOptions {
            subprotocols: &["a", "b"],
            origin: Some("https://app.example"),
            extra_headers: &[("authorization", "Bearer x")],
            ..Default::default()
        };
        let (_, req) = request(&opts);
        assert_eq!(req.method(), Method::CONNECT);
        assert_eq!(req.version(), Version::HTTP_2);
        assert_eq!(req.uri(), "https://example.com:8443/chat?x=1");
        assert!(req.headers().get(header::SEC_WEBSOCKET_KEY).is_none());
        assert!(req.headers().get(header::UPGRADE).is_none());
        // Round trip: our server shell takes it (with the transport's `:protocol`).
        let server_side = HandshakeRequest::from(req).with_protocol("websocket");
        let (answer, negotiated) = negotiate_extended_connect(&server_side, None, |r| {
            assert_eq!(r.header("authorization"), Some("Bearer x"));
            Ok(Accept::subprotocol("b"))
        })
        .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(negotiated.subprotocol.as_deref(), Some("b"));
        assert_eq!(server_side.path, "/chat?x=1");
        assert_eq!(server_side.authority.as_deref(), Some("example.com:8443"));
    }

    #[test]
    fn what_cannot_be_sent_is_refused() {
        let opts = ClientOptions::default();
        for version in [Version::HTTP_11, Version::HTTP_10] {
            assert!(matches!(
                extended_connect_request(version, "https", "h", "/", &opts),
                Err(HandshakeError::InvalidInput(_))
            ));
        }
        assert!(extended_connect_request(Version::HTTP_3, "https", "h", "/", &opts).is_ok());
        assert!(extended_connect_request(Version::HTTP_2, "https", "h", "chat", &opts).is_err());
        assert!(
            extended_connect_request(Version::HTTP_2, "https", "bad host", "/", &opts).is_err()
        );
        let duplicate = ClientOptions {
            subprotocols: &["a", "a"],
            ..Default::default()
        };
        assert!(extended_connect_request(Version::HTTP_2, "https", "h", "/", &duplicate).is_err());
    }

    #[test]
    fn the_answer_is_checked_like_an_http1_answer() {
        let opts = ClientOptions {
            subprotocols: &["a"],
            ..Default::default()
        };
        let (handshake, _) = request(&opts);
        let ok = handshake
            .validate_response(&response(200, &[]), None)
            .unwrap();
        assert!(ok.subprotocol.is_none() && ok.extension.is_none());
        // RFC 8441: any 2xx is success.
        assert!(
            handshake
                .validate_response(&response(204, &[]), None)
                .is_ok()
        );
        assert_eq!(
            handshake
                .validate_response(&response(101, &[]), None)
                .unwrap_err(),
            HandshakeError::BadStatus(101)
        );
        assert_eq!(
            handshake
                .validate_response(&response(200, &[("sec-websocket-protocol", "b")]), None)
                .unwrap_err(),
            HandshakeError::UnexpectedSubprotocol
        );
        assert_eq!(
            handshake
                .validate_response(
                    &response(
                        200,
                        &[
                            ("sec-websocket-protocol", "a"),
                            ("sec-websocket-protocol", "a")
                        ]
                    ),
                    None
                )
                .unwrap_err(),
            HandshakeError::UnexpectedSubprotocol
        );
        assert_eq!(
            handshake
                .validate_response(
                    &response(200, &[("sec-websocket-extensions", "permessage-deflate")]),
                    None
                )
                .unwrap_err(),
            HandshakeError::UnexpectedExtension
        );
    }
}
