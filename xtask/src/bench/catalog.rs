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
}

pub(crate) const SERVERS: &[Server] = &[
    Server {
        name: OURS,
        example: "echo_sockudo",
        package: "sockudo-ws",
        deflate: true,
        reference: false,
    },
    Server {
        name: "tungstenite",
        example: "echo_tungstenite",
        package: "tokio-tungstenite",
        deflate: false,
        reference: false,
    },
    Server {
        name: "fastwebsockets",
        example: "echo_fastwebsockets",
        package: "fastwebsockets",
        deflate: false,
        reference: false,
    },
    Server {
        name: "tokio-websockets",
        example: "echo_tokio_websockets",
        package: "tokio-websockets",
        deflate: false,
        reference: false,
    },
    // `echo_tokio_floor`: frames parsed by hand over a bare tokio `TcpStream`, no validation;
    // its instructions per message are what Tokio costs any server (see the example's docs).
    Server {
        name: "tokio-floor",
        example: "echo_tokio_floor",
        package: "tokio",
        deflate: false,
        reference: true,
    },
];

/// The servers run when `--servers` is not given: every WebSocket crate, no reference.
pub(super) fn default_servers() -> Vec<Server> {
    SERVERS.iter().copied().filter(|s| !s.reference).collect()
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
