//! The subcommands' command lines, read with lexopt; these helpers give its errors our wording
//! (every one is an [`Error::Usage`], which exits with 2).

use lexopt::{Arg, Parser};

use crate::Error;

/// A parser of the arguments after the subcommand's name.
pub(crate) fn parser(args: &[String]) -> Parser {
    Parser::from_args(args)
}

/// The next argument; a value given to a flag (`--flag=value`) is an error.
pub(crate) fn next(parser: &mut Parser) -> Result<Option<Arg<'_>>, Error> {
    parser.next().map_err(|e| match e {
        lexopt::Error::UnexpectedValue { option, .. } => {
            Error::Usage(format!("{option} takes no value"))
        }
        e => Error::Usage(e.to_string()),
    })
}

/// The value of the option just read: attached (`--name=value`) or the next argument, even
/// one that starts with `-`.
pub(crate) fn value(parser: &mut Parser) -> Result<String, Error> {
    match parser.value() {
        Ok(value) => Ok(value.to_string_lossy().into_owned()),
        Err(lexopt::Error::MissingValue {
            option: Some(option),
        }) => Err(Error::Usage(format!("{option} needs a value"))),
        Err(e) => Err(Error::Usage(e.to_string())),
    }
}

/// An argument that no option matched, as it was typed (`--name`, `-x`, `word`).
pub(crate) fn typed(arg: Arg<'_>) -> String {
    match arg {
        Arg::Long(name) => format!("--{name}"),
        Arg::Short(c) => format!("-{c}"),
        Arg::Value(word) => word.to_string_lossy().into_owned(),
    }
}

/// `typed` (from [`typed`]) with the value attached to it, if any: `--name=value`.
pub(crate) fn with_attached(parser: &mut Parser, typed: String) -> String {
    match parser.optional_value() {
        Some(value) if typed.starts_with("--") => format!("{typed}={}", value.to_string_lossy()),
        Some(value) => format!("{typed}{}", value.to_string_lossy()),
        None => typed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The first argument of `list` as an unknown one.
    fn unknown(list: &[&str]) -> String {
        let args = args(list);
        let mut p = parser(&args);
        let arg = typed(next(&mut p).unwrap().unwrap());
        with_attached(&mut p, arg)
    }

    #[test]
    fn errors_in_our_words() {
        let a = args(&["--flag=1"]);
        let mut p = parser(&a);
        assert!(matches!(next(&mut p), Ok(Some(Arg::Long("flag")))));
        let e = next(&mut p).unwrap_err();
        assert!(
            matches!(&e, Error::Usage(m) if m == "--flag takes no value"),
            "{e:?}"
        );

        let a = args(&["--cases"]);
        let mut p = parser(&a);
        next(&mut p).unwrap();
        let e = value(&mut p).unwrap_err();
        assert!(
            matches!(&e, Error::Usage(m) if m == "--cases needs a value"),
            "{e:?}"
        );

        let a = args(&["--cases", "-x", "--exclude=a,b"]);
        let mut p = parser(&a);
        next(&mut p).unwrap();
        assert_eq!(value(&mut p).unwrap(), "-x");
        next(&mut p).unwrap();
        assert_eq!(value(&mut p).unwrap(), "a,b");
        assert!(next(&mut p).unwrap().is_none());
    }

    #[test]
    fn unknown_arguments_as_typed() {
        assert_eq!(unknown(&["--frob"]), "--frob");
        assert_eq!(unknown(&["--frob=1"]), "--frob=1");
        assert_eq!(unknown(&["-x"]), "-x");
        assert_eq!(unknown(&["-xy"]), "-xy");
        assert_eq!(unknown(&["word"]), "word");
    }
}
