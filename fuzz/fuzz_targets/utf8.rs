//! UTF-8 validation: every path against std, and the incremental validator fed in arbitrary
//! pieces against std, including where it fails.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_simd::{Utf8Validator, utf8};

fuzz_target!(|input: (Vec<u8>, Vec<u8>)| {
    let (data, cuts) = input;
    let std_result = std::str::from_utf8(&data);
    for imp in utf8::available() {
        let ours = utf8::validate_with(imp, &data);
        match (&std_result, ours) {
            (Ok(_), Ok(())) => {}
            (Err(e), Err(o)) => assert_eq!(e.valid_up_to(), o.valid_up_to(), "{imp:?}"),
            (s, o) => panic!("{imp:?}: std {s:?} vs ours {o:?}"),
        }
    }

    // Split points from the second input.
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|&c| c as usize % (data.len() + 1))
        .collect();
    points.sort_unstable();
    points.push(data.len());
    let mut v = Utf8Validator::new();
    let mut prev = 0;
    let mut failed_at_piece_end = None;
    for p in points {
        if v.feed(&data[prev..p]).is_err() {
            failed_at_piece_end = Some(p);
            break;
        }
        prev = p;
    }
    match std_result {
        Ok(_) => {
            assert_eq!(failed_at_piece_end, None);
            assert!(v.finish().is_ok());
        }
        Err(e) => match failed_at_piece_end {
            // Fail-fast: the validator fails on the piece that holds the first byte after which
            // no continuation can make the input valid.
            Some(end) => {
                assert!(e.error_len().is_some(), "failed on an incomplete tail");
                assert!(end > e.valid_up_to());
            }
            None => {
                // Only an incomplete code point at the very end may pass every feed.
                assert!(e.error_len().is_none());
                assert!(v.finish().is_err());
            }
        },
    }
});
