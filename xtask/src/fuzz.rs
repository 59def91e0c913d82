//! `cargo xtask fuzz`: not built yet (it comes with the fuzzing issue).

use std::process::ExitCode;

use crate::Error;

pub(crate) fn run(_args: &[String]) -> Result<ExitCode, Error> {
    Err(Error::Failed(
        "`cargo xtask fuzz` is not built yet".to_owned(),
    ))
}
