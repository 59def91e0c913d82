//! The negotiation matrix (RFC 7692 section 7.1): every parameter with and without values,
//! several offers in one header, what the server declines, that it answers only with what was
//! offered or allowed, and that the client rejects anything it did not ask for.

mod common;

use bytes::BytesMut;
use proptest::prelude::*;
use ws_deflate::{DeflateConfig, DeflateNegotiator, DeflateParams, PerMessageDeflate};
use ws_proto::extension::{ExtensionError, ExtensionNegotiator};
use ws_proto::handshake::{
    AcceptOptions, ClientOptions, HandshakeError, RequestParser, ResponseParser, accept,
    client_request, parse_extensions,
};
use ws_proto::{Compression, Role};

fn server(mode: Compression) -> DeflateNegotiator {
    DeflateNegotiator::new(mode)
}

/// The server's answer to `offer`, or `None` when it declines.
fn answer_with(n: &DeflateNegotiator, offer: &str) -> Option<String> {
    let offers = parse_extensions(offer).unwrap();
    n.server_accept(&offers).unwrap().map(|(answer, _)| answer)
}

fn answer(mode: Compression, offer: &str) -> Option<String> {
    answer_with(&server(mode), offer)
}

/// The parameters the server's extension ended up with.
fn server_params(n: &DeflateNegotiator, offer: &str) -> DeflateParams {
    let (_, ext) = n
        .server_accept(&parse_extensions(offer).unwrap())
        .unwrap()
        .unwrap();
    let dbg = format!("{ext:?}");
    // The extension is a PerMessageDeflate; its Debug output names the params.
    assert!(dbg.contains("PerMessageDeflate"), "{dbg}");
    params_of(&dbg)
}

fn params_of(dbg: &str) -> DeflateParams {
    let field = |name: &str| {
        let start = dbg.find(&format!("{name}: ")).unwrap() + name.len() + 2;
        let rest = &dbg[start..];
        rest[..rest.find([',', ' ', '}']).unwrap()].to_owned()
    };
    let mut p = DeflateParams::default();
    p.server_no_context_takeover = field("server_no_context_takeover") == "true";
    p.client_no_context_takeover = field("client_no_context_takeover") == "true";
    p.server_max_window_bits = field("server_max_window_bits").parse().unwrap();
    p.client_max_window_bits = field("client_max_window_bits").parse().unwrap();
    p
}

const PMD: &str = "permessage-deflate";

#[test]
fn server_plain_offer() {
    assert_eq!(answer(Compression::Dedicated, PMD).as_deref(), Some(PMD));
    // Shared modes say they drop context takeover and ask the client to do the same, which a
    // server may always do (RFC 7692 7.1.1.1, 7.1.1.2).
    for mode in [
        Compression::Shared,
        Compression::Shared4KB,
        Compression::Shared8KB,
        Compression::Shared16KB,
    ] {
        assert_eq!(
            answer(mode, PMD).as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
            "{mode:?}"
        );
    }
    assert_eq!(answer(Compression::Disabled, PMD), None);
}

#[test]
fn server_no_context_takeover_is_honoured() {
    let n = server(Compression::Dedicated);
    let offer = "permessage-deflate; server_no_context_takeover";
    assert_eq!(answer_with(&n, offer).as_deref(), Some(offer));
    let p = server_params(&n, offer);
    assert!(p.server_no_context_takeover && !p.client_no_context_takeover);
    // With a value it is malformed: declined.
    assert_eq!(
        answer(
            Compression::Dedicated,
            "permessage-deflate; server_no_context_takeover=1"
        ),
        None
    );
}

#[test]
fn client_no_context_takeover_is_a_hint_answered_only_when_configured() {
    let offer = "permessage-deflate; client_no_context_takeover";
    // Dedicated keeps context for the client's direction: the hint is not echoed, so the
    // client may still use context takeover (and our inflater keeps it).
    let n = server(Compression::Dedicated);
    assert_eq!(answer_with(&n, offer).as_deref(), Some(PMD));
    assert!(!server_params(&n, offer).client_no_context_takeover);
    // Configured to ask for it: answered (with or without the hint).
    let n = DeflateNegotiator::with_config(
        DeflateConfig::new(Compression::Dedicated).peer_no_context_takeover(true),
    );
    assert_eq!(answer_with(&n, offer).as_deref(), Some(offer));
    assert_eq!(answer_with(&n, PMD).as_deref(), Some(offer));
    assert!(server_params(&n, PMD).client_no_context_takeover);
    assert_eq!(
        answer(
            Compression::Dedicated,
            "permessage-deflate; client_no_context_takeover=x"
        ),
        None
    );
}

#[test]
fn server_max_window_bits_values() {
    for bits in 9..=15 {
        let offer = format!("permessage-deflate; server_max_window_bits={bits}");
        assert_eq!(answer(Compression::Dedicated, &offer), Some(offer.clone()));
        assert_eq!(
            server_params(&server(Compression::Dedicated), &offer).server_max_window_bits,
            bits
        );
        // A quoted value is the same value.
        let quoted = format!("permessage-deflate; server_max_window_bits=\"{bits}\"");
        assert_eq!(answer(Compression::Dedicated, &quoted), Some(offer));
    }
    // A narrow Shared mode answers its own window when the client allows a wider one.
    assert_eq!(
        answer(
            Compression::Shared4KB,
            "permessage-deflate; server_max_window_bits=15"
        )
        .as_deref(),
        Some(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=12"
        )
    );
    assert_eq!(
        answer(
            Compression::Shared16KB,
            "permessage-deflate; server_max_window_bits=10"
        )
        .as_deref(),
        Some(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10"
        )
    );
    // Declined: 8 (zlib would use 9), no value, out of range, leading zero, not a number.
    for bad in ["=8", "", "=16", "=7", "=0", "=010", "=09", "=abc", "=-9"] {
        let offer = format!("permessage-deflate; server_max_window_bits{bad}");
        assert_eq!(answer(Compression::Dedicated, &offer), None, "{offer}");
    }
}

#[test]
fn client_max_window_bits_with_and_without_value() {
    // Allowed but not asked for: no answer parameter.
    assert_eq!(
        answer(
            Compression::Dedicated,
            "permessage-deflate; client_max_window_bits"
        )
        .as_deref(),
        Some(PMD)
    );
    assert_eq!(
        answer(
            Compression::Dedicated,
            "permessage-deflate; client_max_window_bits=10"
        )
        .as_deref(),
        Some(PMD)
    );
    // Asked for (peer_max_window_bits): answered only when the client allowed it, never above
    // the value it gave.
    let n = DeflateNegotiator::with_config(
        DeflateConfig::new(Compression::Dedicated).peer_max_window_bits(Some(11)),
    );
    assert_eq!(answer_with(&n, PMD).as_deref(), Some(PMD));
    assert_eq!(
        answer_with(&n, "permessage-deflate; client_max_window_bits").as_deref(),
        Some("permessage-deflate; client_max_window_bits=11")
    );
    assert_eq!(
        answer_with(&n, "permessage-deflate; client_max_window_bits=9").as_deref(),
        Some("permessage-deflate; client_max_window_bits=9")
    );
    assert_eq!(
        answer_with(&n, "permessage-deflate; client_max_window_bits=15").as_deref(),
        Some("permessage-deflate; client_max_window_bits=11")
    );
    assert_eq!(
        server_params(&n, "permessage-deflate; client_max_window_bits").client_max_window_bits,
        11
    );
    // Declined: 8, bad values.
    for bad in ["=8", "=16", "=08", "=x"] {
        let offer = format!("permessage-deflate; client_max_window_bits{bad}");
        assert_eq!(answer(Compression::Dedicated, &offer), None, "{offer}");
        assert_eq!(answer_with(&n, &offer), None, "{offer}");
    }
}

#[test]
fn all_four_parameters_together() {
    let offer = "permessage-deflate; client_max_window_bits; server_max_window_bits=10; \
                 server_no_context_takeover; client_no_context_takeover";
    let n = DeflateNegotiator::with_config(
        DeflateConfig::new(Compression::Dedicated)
            .peer_max_window_bits(Some(12))
            .peer_no_context_takeover(true),
    );
    assert_eq!(
        answer_with(&n, offer).as_deref(),
        Some(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10; client_max_window_bits=12"
        )
    );
    let p = server_params(&n, offer);
    assert_eq!(
        (p.server_no_context_takeover, p.client_no_context_takeover),
        (true, true)
    );
    assert_eq!(
        (p.server_max_window_bits, p.client_max_window_bits),
        (10, 12)
    );
}

#[test]
fn several_offers_first_acceptable_wins() {
    let d = Compression::Dedicated;
    // The first is declined (8), the second taken.
    assert_eq!(
        answer(
            d,
            "permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9"
        )
        .as_deref(),
        Some("permessage-deflate; server_max_window_bits=9")
    );
    // Unknown parameters, repeated parameters and other extensions are skipped.
    assert_eq!(
        answer(
            d,
            "x-webkit-deflate-frame, permessage-deflate; foo, \
             permessage-deflate; server_no_context_takeover; server_no_context_takeover, \
             permessage-deflate; client_max_window_bits"
        )
        .as_deref(),
        Some(PMD)
    );
    // The first acceptable one wins even if a later one would compress better.
    assert_eq!(
        answer(
            d,
            "permessage-deflate; server_no_context_takeover, permessage-deflate"
        )
        .as_deref(),
        Some("permessage-deflate; server_no_context_takeover")
    );
    // Nothing acceptable: declined (not an error).
    assert_eq!(
        answer(
            d,
            "permessage-deflate; server_max_window_bits=8, permessage-deflate; bar=1"
        ),
        None
    );
    assert_eq!(answer(d, "x-webkit-deflate-frame"), None);
    // Autobahn 13.7's three offers.
    assert_eq!(
        answer(
            d,
            "permessage-deflate; client_no_context_takeover; client_max_window_bits; \
             server_no_context_takeover; server_max_window_bits=9, \
             permessage-deflate; client_no_context_takeover; client_max_window_bits; \
             server_no_context_takeover, \
             permessage-deflate; client_no_context_takeover; client_max_window_bits"
        )
        .as_deref(),
        Some("permessage-deflate; server_no_context_takeover; server_max_window_bits=9")
    );
}

#[test]
fn client_offers_per_mode() {
    let offer = |n: DeflateNegotiator| n.client_offer();
    assert_eq!(
        offer(DeflateNegotiator::new(Compression::Dedicated)).as_deref(),
        Some("permessage-deflate; client_max_window_bits")
    );
    assert_eq!(
        offer(DeflateNegotiator::new(Compression::Shared)).as_deref(),
        Some(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             client_max_window_bits, \
             permessage-deflate; client_no_context_takeover; client_max_window_bits"
        )
    );
    assert_eq!(
        offer(DeflateNegotiator::with_config(
            DeflateConfig::new(Compression::Shared4KB).peer_no_context_takeover(false)
        ))
        .as_deref(),
        Some("permessage-deflate; client_no_context_takeover; client_max_window_bits=12")
    );
    assert_eq!(
        offer(DeflateNegotiator::with_config(
            DeflateConfig::new(Compression::Dedicated).peer_max_window_bits(Some(10))
        ))
        .as_deref(),
        Some(
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits, \
             permessage-deflate; client_max_window_bits"
        )
    );
    assert_eq!(offer(DeflateNegotiator::new(Compression::Disabled)), None);
}

/// What the client makes of `answer`.
fn client_check(n: &DeflateNegotiator, answer: &str) -> Result<bool, ExtensionError> {
    n.client_accept(&parse_extensions(answer).unwrap())
        .map(|e| e.is_some())
}

#[test]
fn client_accepts_valid_answers() {
    let d = DeflateNegotiator::new(Compression::Dedicated);
    assert_eq!(client_check(&d, ""), Ok(false), "declined");
    for ok in [
        PMD,
        // A server may always say these two.
        "permessage-deflate; server_no_context_takeover",
        "permessage-deflate; client_no_context_takeover",
        "permessage-deflate; client_max_window_bits=9",
        "permessage-deflate; client_max_window_bits=15",
        "permessage-deflate;client_max_window_bits=\"10\"",
    ] {
        assert_eq!(client_check(&d, ok), Ok(true), "{ok}");
    }
    let asks = DeflateNegotiator::with_config(
        DeflateConfig::new(Compression::Dedicated).peer_max_window_bits(Some(10)),
    );
    for ok in [
        "permessage-deflate; server_max_window_bits=10",
        "permessage-deflate; server_max_window_bits=9",
        // The fallback offer was taken.
        PMD,
    ] {
        assert_eq!(client_check(&asks, ok), Ok(true), "{ok}");
    }
    let narrow = DeflateNegotiator::new(Compression::Shared4KB);
    assert_eq!(
        client_check(&narrow, "permessage-deflate; client_max_window_bits=12"),
        Ok(true)
    );
}

#[test]
fn client_rejects_what_it_did_not_ask_for() {
    let d = DeflateNegotiator::new(Compression::Dedicated);
    let asks = DeflateNegotiator::with_config(
        DeflateConfig::new(Compression::Dedicated).peer_max_window_bits(Some(10)),
    );
    let narrow = DeflateNegotiator::new(Compression::Shared4KB);
    for (n, bad) in [
        (&d, "permessage-deflate; server_max_window_bits=15"),
        (&d, "permessage-deflate; server_max_window_bits=9"),
        (&asks, "permessage-deflate; server_max_window_bits=11"),
        (&asks, "permessage-deflate; server_max_window_bits=8"),
        (&asks, "permessage-deflate; server_max_window_bits"),
        (&d, "permessage-deflate; client_max_window_bits"),
        (&d, "permessage-deflate; client_max_window_bits=8"),
        (&d, "permessage-deflate; client_max_window_bits=16"),
        (&narrow, "permessage-deflate; client_max_window_bits=13"),
        (&d, "permessage-deflate; server_no_context_takeover=1"),
        (&d, "permessage-deflate; mystery"),
        (
            &d,
            "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        ),
        (&d, "permessage-deflate, permessage-deflate"),
    ] {
        match client_check(n, bad) {
            Err(ExtensionError::Negotiation(why)) => assert!(!why.is_empty()),
            other => panic!("{bad}: {other:?}"),
        }
    }
    // A client that offered nothing accepts nothing.
    assert!(client_check(&DeflateNegotiator::new(Compression::Disabled), PMD).is_err());
}

#[test]
fn the_answer_configures_the_client_extension() {
    let d = DeflateNegotiator::new(Compression::Dedicated);
    let ext = d
        .client_accept(
            &parse_extensions(
                "permessage-deflate; client_no_context_takeover; client_max_window_bits=10; \
                 server_no_context_takeover",
            )
            .unwrap(),
        )
        .unwrap()
        .unwrap();
    let dbg = format!("{ext:?}");
    let p = params_of(&dbg);
    assert!(p.client_no_context_takeover && p.server_no_context_takeover);
    assert_eq!(p.client_max_window_bits, 10);
    // The same through the public constructor.
    let ext = PerMessageDeflate::new(Role::Client, p, &DeflateConfig::new(Compression::Dedicated));
    assert!(!ext.compresses_with_context_takeover());
    assert_eq!(ext.compression_window_bits(), 10);
    assert!(!ext.decompresses_with_context_takeover());
}

#[test]
fn full_handshake_through_ws_proto() {
    let client = DeflateNegotiator::new(Compression::Shared8KB);
    let server = DeflateNegotiator::new(Compression::Dedicated);
    let opts = ClientOptions {
        negotiator: Some(&client),
        ..Default::default()
    };
    let (handshake, request) = client_request("example.com", "/", &opts).unwrap();
    let text = String::from_utf8(request.to_vec()).unwrap();
    assert!(text.contains(
        "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; \
         client_no_context_takeover; client_max_window_bits=13, permessage-deflate; \
         client_no_context_takeover; client_max_window_bits=13\r\n"
    ));
    let mut buf = BytesMut::from(&request[..]);
    let req = RequestParser::default().parse(&mut buf).unwrap().unwrap();
    let accepted = accept(
        &req,
        &AcceptOptions {
            negotiator: Some(&server),
            ..Default::default()
        },
    )
    .unwrap();
    let text = String::from_utf8(accepted.response.to_vec()).unwrap();
    assert!(
        text.contains(
            "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n"
        ),
        "{text}"
    );
    assert!(accepted.extension.is_some());
    let mut buf = BytesMut::from(&accepted.response[..]);
    let resp = ResponseParser::default().parse(&mut buf).unwrap().unwrap();
    let done = handshake.validate_response(&resp, Some(&client)).unwrap();
    assert!(done.extension.is_some());

    // A server answer the client did not ask for fails the handshake.
    let bad = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n\r\n",
        handshake.expected_accept()
    );
    let mut buf = BytesMut::from(bad.as_bytes());
    let resp = ResponseParser::default().parse(&mut buf).unwrap().unwrap();
    assert!(matches!(
        handshake.validate_response(&resp, Some(&client)),
        Err(HandshakeError::Extension(ExtensionError::Negotiation(_)))
    ));
}

fn offer_param() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("server_no_context_takeover".to_owned()),
        Just("client_no_context_takeover".to_owned()),
        (8u8..=15).prop_map(|b| format!("server_max_window_bits={b}")),
        Just("client_max_window_bits".to_owned()),
        (8u8..=15).prop_map(|b| format!("client_max_window_bits={b}")),
    ]
}

proptest! {
    /// Whatever the client offers, the answer only holds parameters the offer allowed, with
    /// values no larger than offered and never 8; and a client offering exactly that accepts
    /// the answer.
    #[test]
    fn the_server_answers_only_what_was_offered(
        params in prop::collection::vec(offer_param(), 0..5),
        mode in prop::sample::select(vec![
            Compression::Dedicated, Compression::Shared, Compression::Shared4KB,
            Compression::Shared8KB, Compression::Shared16KB,
        ]),
        peer_bits in prop::option::of(9u8..=15),
        peer_nct in any::<bool>(),
    ) {
        let mut offer = PMD.to_owned();
        for p in &params {
            offer.push_str("; ");
            offer.push_str(p);
        }
        let n = DeflateNegotiator::with_config(
            DeflateConfig::new(mode).peer_max_window_bits(peer_bits).peer_no_context_takeover(peer_nct),
        );
        let offered = &parse_extensions(&offer).unwrap()[0];
        let Some(answer) = answer_with(&n, &offer) else {
            // Declined: the offer repeats a parameter or carries an 8.
            let names: Vec<&str> = params.iter().map(|p| p.split('=').next().unwrap()).collect();
            let repeated = (1..names.len()).any(|i| names[..i].contains(&names[i]));
            prop_assert!(repeated || params.iter().any(|p| p.ends_with("=8")), "{offer}");
            return Ok(());
        };
        let answered = &parse_extensions(&answer).unwrap()[0];
        for a in &answered.params {
            let o = offered.params.iter().find(|o| o.name == a.name);
            match a.name.as_str() {
                "server_no_context_takeover" | "client_no_context_takeover" => {
                    prop_assert!(a.value.is_none());
                }
                "server_max_window_bits" | "client_max_window_bits" => {
                    let o = o.ok_or_else(|| TestCaseError::fail(format!("{answer} to {offer}")))?;
                    let v: u8 = a.value.as_deref().unwrap().parse().unwrap();
                    prop_assert!((9..=15).contains(&v));
                    if let Some(ov) = &o.value {
                        prop_assert!(v <= ov.parse::<u8>().unwrap(), "{answer} to {offer}");
                    }
                }
                other => prop_assert!(false, "unexpected {other}"),
            }
        }
    }
}

/// `DeflateNegotiator::for_config` takes every setting from `Config::deflate`: the answer a
/// server gives, the offer a client makes, and the same negotiator as `with_config` built by
/// hand.
#[test]
fn the_config_carries_the_deflate_settings() {
    use ws_proto::{Config, DeflateSettings};

    let config = Config::builder()
        .compression(Compression::Dedicated)
        .deflate(
            DeflateSettings::default()
                .level(7)
                .min_message_size(100)
                .peer_no_context_takeover(true)
                .peer_max_window_bits(10),
        )
        .try_build()
        .unwrap();
    let n = DeflateNegotiator::for_config(&config).unwrap();
    assert_eq!(
        n,
        DeflateNegotiator::with_config(
            DeflateConfig::new(Compression::Dedicated)
                .level(7)
                .min_message_size(100)
                .peer_no_context_takeover(true)
                .peer_max_window_bits(Some(10))
        )
    );
    assert_eq!(
        answer_with(&n, "permessage-deflate; client_max_window_bits").as_deref(),
        Some("permessage-deflate; client_no_context_takeover; client_max_window_bits=10")
    );
    assert_eq!(
        n.client_offer().as_deref(),
        Some(
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; \
             client_max_window_bits, permessage-deflate; client_max_window_bits"
        )
    );

    // A Shared mode asks the peer to drop context takeover unless told otherwise.
    let shared = |settings: DeflateSettings| {
        let config = Config::builder()
            .compression(Compression::Shared)
            .deflate(settings)
            .build();
        DeflateNegotiator::for_config(&config).unwrap()
    };
    assert_eq!(
        answer_with(&shared(DeflateSettings::default()), PMD).as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    );
    assert_eq!(
        answer_with(
            &shared(DeflateSettings::default().peer_no_context_takeover(false)),
            PMD
        )
        .as_deref(),
        Some("permessage-deflate; server_no_context_takeover")
    );

    // Compression off: no negotiator, whatever the settings.
    let off = Config::builder()
        .deflate(DeflateSettings::default().peer_max_window_bits(10))
        .build();
    assert!(DeflateNegotiator::for_config(&off).is_none());
}
