//! The command line of `cargo xtask autobahn` (its usage text is `crate::USAGE`).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use lexopt::Arg::{Long, Short};

use super::report;
use crate::{Error, cli};

/// The command line of `cargo xtask autobahn`.
#[derive(Debug, PartialEq)]
pub(super) struct Options {
    pub(super) server: bool,
    pub(super) client: bool,
    pub(super) cases: Vec<String>,
    pub(super) exclude: Vec<String>,
    pub(super) allow_unimplemented: BTreeSet<u32>,
    pub(super) report_dir: Option<PathBuf>,
    pub(super) timeout: Duration,
}

impl Options {
    /// Parses the arguments after `autobahn`; `None` when help was asked for.
    pub(super) fn parse(args: &[String]) -> Result<Option<Options>, Error> {
        let (mut server, mut client) = (false, false);
        let mut opts = Options {
            server: true,
            client: true,
            cases: vec!["*".to_owned()],
            exclude: Vec::new(),
            allow_unimplemented: BTreeSet::new(),
            report_dir: None,
            timeout: Duration::from_secs(40 * 60),
        };
        let mut parser = cli::parser(args);
        while let Some(arg) = cli::next(&mut parser)? {
            match arg {
                Short('h') | Long("help") => return Ok(None),
                Long("server") => server = true,
                Long("client") => client = true,
                Long("both") => (server, client) = (true, true),
                Long("cases") => opts.cases = split_list(&cli::value(&mut parser)?),
                Long("exclude") => opts.exclude = split_list(&cli::value(&mut parser)?),
                Long("allow-unimplemented") => {
                    opts.allow_unimplemented =
                        report::parse_sections(&cli::value(&mut parser)?).map_err(Error::Usage)?;
                }
                Long("report-dir") => opts.report_dir = Some(cli::value(&mut parser)?.into()),
                Long("timeout") => {
                    let v = cli::value(&mut parser)?;
                    let minutes: u64 = v.parse().ok().filter(|m| *m > 0).ok_or_else(|| {
                        Error::Usage(format!("--timeout takes minutes, not '{v}'"))
                    })?;
                    opts.timeout = Duration::from_secs(minutes * 60);
                }
                other => {
                    let typed = cli::typed(other);
                    let typed = cli::with_attached(&mut parser, typed);
                    return Err(Error::Usage(format!("unknown autobahn option '{typed}'")));
                }
            }
        }
        if server || client {
            (opts.server, opts.client) = (server, client);
        }
        if opts.cases.is_empty() {
            return Err(Error::Usage(
                "--cases needs at least one pattern".to_owned(),
            ));
        }
        Ok(Some(opts))
    }
}

fn split_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Options>, Error> {
        Options::parse(&args.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn defaults() {
        let opts = parse(&[]).unwrap().unwrap();
        assert!(opts.server && opts.client);
        assert_eq!(opts.cases, ["*"]);
        assert!(opts.exclude.is_empty());
        assert!(opts.allow_unimplemented.is_empty());
        assert_eq!(opts.report_dir, None);
        assert_eq!(opts.timeout, Duration::from_secs(2400));
    }

    #[test]
    fn options() {
        let opts = parse(&[
            "--server",
            "--cases",
            "1.*, 2.*,6.4.*",
            "--exclude=2.1*",
            "--allow-unimplemented=",
            "--report-dir",
            "/tmp/r",
            "--timeout",
            "5",
        ])
        .unwrap()
        .unwrap();
        assert!(opts.server && !opts.client);
        assert_eq!(opts.cases, ["1.*", "2.*", "6.4.*"]);
        assert_eq!(opts.exclude, ["2.1*"]);
        assert!(opts.allow_unimplemented.is_empty());
        assert_eq!(opts.report_dir, Some(PathBuf::from("/tmp/r")));
        assert_eq!(opts.timeout, Duration::from_secs(300));

        let opts = parse(&["--client", "--allow-unimplemented", ""])
            .unwrap()
            .unwrap();
        assert!(!opts.server && opts.client);
        assert!(opts.allow_unimplemented.is_empty());
        let opts = parse(&["--allow-unimplemented", "12,13"]).unwrap().unwrap();
        assert_eq!(opts.allow_unimplemented, BTreeSet::from([12, 13]));
        let opts = parse(&["--server", "--client"]).unwrap().unwrap();
        assert!(opts.server && opts.client);
        assert!(parse(&["--help"]).unwrap().is_none());
    }

    #[test]
    fn bad_options() {
        for args in [
            &["--cases"][..],
            &["--cases", ""],
            &["--frobnicate"],
            &["--timeout", "0"],
            &["--timeout", "x"],
            &["--allow-unimplemented", "12,x"],
            &["--server=yes"],
        ] {
            assert!(matches!(parse(args), Err(Error::Usage(_))), "{args:?}");
        }
    }
}
