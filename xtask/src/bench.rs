//! `cargo xtask bench`: not built yet (it comes with the benchmark issue).

use std::process::ExitCode;

use crate::Error;

pub(crate) fn run(_args: &[String]) -> Result<ExitCode, Error> {
    Err(Error::Failed(
        "`cargo xtask bench` is not built yet".to_owned(),
    ))
}
