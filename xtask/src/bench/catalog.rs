//! What the benchmark compares: the servers (one example of the bench crate per WebSocket
//! crate, and a reference) and the cases (load shapes).

/// The name of our server.
pub(crate) const OURS: &str = "sockudo";

/// A server under test: an example of the bench crate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Server {
    /// Name on the command line and in reports.
    pub(crate) name: &'static str,
    /// The example that implements it.
    pub(crate) example: &'static str,
    /// The crate it exercises (its version is read from Cargo.lock).
    pub(crate) package: &'static str,
    /// Whether the crate has permessage-deflate.
    pub(crate) deflate: bool,
    /// A reference measurement rather than a WebSocket crate (the Tokio floor): left out of
    /// the default set, run only when `--servers` names it.
    pub(crate) reference: bool,
    /// What carries the WebSockets. Every crate's row is HTTP/1.1 on plain TCP; ours also
    /// runs over TLS and HTTP/2 (`sockudo-wss`, `sockudo-h2`, `sockudo-h2-mux`), rows run
    /// only when `--servers` names them and reported apart, as ratios to `sockudo`.
    pub(crate) transport: Transport,
}

/// What carries a server's WebSockets: the load generator's `--transport`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    /// HTTP/1.1 upgrade on plain TCP: every crate's, and the baseline of the others.
    H1,
    /// HTTP/1.1 upgrade over TLS (rustls, a self-signed certificate).
    Wss,
    /// HTTP/2 extended CONNECT (RFC 8441) on cleartext HTTP/2, this many WebSockets on each
    /// TCP connection (the case's connections are its WebSockets).
    H2 { streams_per_connection: usize },
}

impl Transport {
    /// The load generator's arguments for it (none for HTTP/1.1, whose command line stays as
    /// it always was).
    pub(crate) fn loadgen_args(self) -> Vec<String> {
        let args: Vec<&str> = match self {
            Transport::H1 => Vec::new(),
            Transport::Wss => vec!["--transport", "wss"],
            Transport::H2 {
                streams_per_connection,
            } => {
                return vec![
                    "--transport".to_owned(),
                    "h2".to_owned(),
                    "--streams-per-connection".to_owned(),
                    streams_per_connection.to_string(),
                ];
            }
        };
        args.into_iter().map(str::to_owned).collect()
    }

    /// For a column heading: `h2, 10 WebSockets / connection`.
    pub(crate) fn short(self) -> String {
        match self {
            Transport::H1 => "h1".to_owned(),
            Transport::Wss => "wss".to_owned(),
            Transport::H2 {
                streams_per_connection: 1,
            } => "h2".to_owned(),
            Transport::H2 {
                streams_per_connection,
            } => format!("h2, {streams_per_connection} WebSockets / connection"),
        }
    }

    /// For the report: `HTTP/2, 10 WebSockets per connection`.
    pub(crate) fn describe(self) -> String {
        match self {
            Transport::H1 => "HTTP/1.1".to_owned(),
            Transport::Wss => "HTTP/1.1 over TLS (wss)".to_owned(),
            Transport::H2 {
                streams_per_connection: 1,
            } => "HTTP/2, 1 WebSocket per connection".to_owned(),
            Transport::H2 {
                streams_per_connection,
            } => format!("HTTP/2, {streams_per_connection} WebSockets per connection"),
        }
    }
}

pub(crate) const SERVERS: &[Server] = &[
    Server {
        name: OURS,
        example: "echo_sockudo",
        package: "sockudo-ws",
        deflate: true,
        reference: false,
        transport: Transport::H1,
    },
    Server {
        name: "tungstenite",
        example: "echo_tungstenite",
        package: "tokio-tungstenite",
        deflate: false,
        reference: false,
        transport: Transport::H1,
    },
    Server {
        name: "fastwebsockets",
        example: "echo_fastwebsockets",
        package: "fastwebsockets",
        deflate: false,
        reference: false,
        transport: Transport::H1,
    },
    Server {
        name: "tokio-websockets",
        example: "echo_tokio_websockets",
        package: "tokio-websockets",
        deflate: false,
        reference: false,
        transport: Transport::H1,
    },
    // `echo_tokio_floor`: frames parsed by hand over a bare tokio `TcpStream`, no validation;
    // its instructions per message are what Tokio costs any server (see the example's docs).
    Server {
        name: "tokio-floor",
        example: "echo_tokio_floor",
        package: "tokio",
        deflate: false,
        reference: true,
        transport: Transport::H1,
    },
    // Ours over the other transports: the same echo loop, the same workload.
    Server {
        name: "sockudo-wss",
        example: "echo_sockudo_wss",
        package: "sockudo-ws",
        deflate: true,
        reference: false,
        transport: Transport::Wss,
    },
    Server {
        name: "sockudo-h2",
        example: "echo_sockudo_h2",
        package: "sockudo-ws",
        deflate: true,
        reference: false,
        transport: Transport::H2 {
            streams_per_connection: 1,
        },
    },
    Server {
        name: "sockudo-h2-mux",
        example: "echo_sockudo_h2",
        package: "sockudo-ws",
        deflate: true,
        reference: false,
        transport: Transport::H2 {
            streams_per_connection: 10,
        },
    },
];

/// The servers run when `--servers` is not given: every WebSocket crate over HTTP/1.1, no
/// reference and none of our other transports.
pub(super) fn default_servers() -> Vec<Server> {
    SERVERS
        .iter()
        .copied()
        .filter(|s| !s.reference && s.transport == Transport::H1)
        .collect()
}

/// One load shape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Case {
    pub(crate) name: &'static str,
    /// Payload bytes of each message (before compression).
    pub(crate) size: usize,
    pub(crate) connections: usize,
    /// Text (JSON-like) instead of binary.
    pub(crate) text: bool,
    /// Offer permessage-deflate and send compressed messages.
    pub(crate) deflate: bool,
    /// Messages in flight per connection: 1 is ping-pong.
    pub(crate) depth: usize,
}

const fn case(name: &'static str, size: usize, connections: usize) -> Case {
    Case {
        name,
        size,
        connections,
        text: false,
        deflate: false,
        depth: 1,
    }
}

pub(crate) const CASES: &[Case] = &[
    case("512B-x100", 512, 100),
    case("512B-x500", 512, 500),
    case("1KiB-x100", 1024, 100),
    case("1KiB-x500", 1024, 500),
    case("20B-x100", 20, 100),
    case("16KiB-x200", 16 << 10, 200),
    Case {
        depth: 16,
        ..case("512B-x100-pipe16", 512, 100)
    },
    Case {
        text: true,
        deflate: true,
        ..case("1KiB-json-deflate-x100", 1024, 100)
    },
];

impl Case {
    /// One line for the usage text and the report.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} connections x {} B {}{}{}",
            self.connections,
            self.size,
            if self.text { "JSON text" } else { "binary" },
            if self.deflate {
                ", permessage-deflate"
            } else {
                ""
            },
            if self.depth > 1 {
                format!(", {} in flight each", self.depth)
            } else {
                String::new()
            }
        )
    }
}
