//! What the echo servers of the end-to-end benchmark share: the command line and the message
//! counter behind `--exit-after-messages`.
//!
//! Every server is `echo_<crate> --port P [--deflate] [--exit-after-messages N]`, listens on
//! 127.0.0.1, prints one `listening on ... pid N` line once bound (the harness reads the pid to
//! sample the server's CPU time and memory) and calls [`echoed`] after each echoed message.

use std::sync::atomic::{AtomicU64, Ordering};

/// How many messages have been echoed so far, process wide.
static ECHOED: AtomicU64 = AtomicU64::new(0);
/// Exit after this many echoed messages (0: never).
static EXIT_AFTER: AtomicU64 = AtomicU64::new(0);

/// The parsed command line of an echo server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerArgs {
    /// Port to listen on (127.0.0.1).
    pub port: u16,
    /// Negotiate permessage-deflate (`--deflate`).
    pub deflate: bool,
    /// Exit with status 0 after this many echoed messages (`--exit-after-messages N`), so that
    /// profilers (callgrind, strace, perf) see a normal exit; 0 serves until killed.
    pub exit_after_messages: u64,
}

impl ServerArgs {
    /// Parses `args` (without the program name).
    pub fn parse_from<I>(args: I) -> Result<Self, String>
    where
        I: IntoIterator<Item = String>,
    {
        let mut port = None;
        let mut deflate = false;
        let mut exit_after_messages = 0;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None => (arg, None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            match name.as_str() {
                "--port" => {
                    let v = value()?;
                    port = Some(v.parse().map_err(|_| format!("bad --port '{v}'"))?);
                }
                "--exit-after-messages" => {
                    let v = value()?;
                    exit_after_messages = v
                        .parse()
                        .map_err(|_| format!("bad --exit-after-messages '{v}'"))?;
                }
                "--deflate" => deflate = true,
                other => return Err(format!("unknown argument '{other}'")),
            }
        }
        Ok(ServerArgs {
            port: port.ok_or("--port is required")?,
            deflate,
            exit_after_messages,
        })
    }

    /// Parses the process arguments and arms [`echoed`]; prints the usage and exits with status
    /// 2 on a bad command line, and with status 3 when `--deflate` is asked of a server whose
    /// crate has no permessage-deflate (`supports_deflate` false).
    pub fn from_env(name: &str, supports_deflate: bool) -> Self {
        let args = match Self::parse_from(std::env::args().skip(1)) {
            Ok(args) => args,
            Err(e) => {
                eprintln!(
                    "{name}: {e}\nusage: {name} --port P [--deflate] [--exit-after-messages N]"
                );
                std::process::exit(2);
            }
        };
        if args.deflate && !supports_deflate {
            eprintln!("{name}: this crate has no permessage-deflate; --deflate is not supported");
            std::process::exit(3);
        }
        EXIT_AFTER.store(args.exit_after_messages, Ordering::Relaxed);
        args
    }
}

/// Prints the line the harness waits for: the address and the process id.
pub fn announce(name: &str, addr: std::net::SocketAddr) {
    println!("{name} listening on {addr} pid {}", std::process::id());
}

/// Counts one echoed message; exits the process (status 0) when it is the last one that
/// `--exit-after-messages` allows. Call it after the echo was written (flushed).
pub fn echoed() {
    if count_echo() {
        std::process::exit(0);
    }
}

/// Counts one echoed message: whether it was the last one `--exit-after-messages` allows.
/// For a server whose `send` returns before the bytes reach the socket (HTTP/2: a connection
/// task writes them), which must let them out before it exits.
pub fn count_echo() -> bool {
    let n = ECHOED.fetch_add(1, Ordering::Relaxed) + 1;
    let limit = EXIT_AFTER.load(Ordering::Relaxed);
    limit != 0 && n >= limit
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<ServerArgs, String> {
        ServerArgs::parse_from(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn command_line() {
        assert_eq!(
            parse(&["--port", "9001"]).unwrap(),
            ServerArgs {
                port: 9001,
                deflate: false,
                exit_after_messages: 0
            }
        );
        assert_eq!(
            parse(&["--deflate", "--port=1", "--exit-after-messages", "20000"]).unwrap(),
            ServerArgs {
                port: 1,
                deflate: true,
                exit_after_messages: 20_000
            }
        );
        assert!(parse(&[]).is_err());
        assert!(parse(&["--port"]).is_err());
        assert!(parse(&["--port", "x"]).is_err());
        assert!(parse(&["--port", "1", "--bogus"]).is_err());
    }
}
