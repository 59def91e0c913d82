//! `Utf8Bytes` (needs the `bytes` feature: `cargo test -p ws-simd --all-features`).
#![cfg(feature = "bytes")]

use std::collections::HashMap;

use bytes::Bytes;
use ws_simd::Utf8Bytes;

#[test]
fn conversions() {
    let s = Utf8Bytes::from_static("héllo");
    assert_eq!(s.as_str(), "héllo");
    assert_eq!(s.len(), 6);
    assert!(!s.is_empty());
    assert_eq!(&*s, "héllo");
    assert_eq!(s, "héllo");
    assert_eq!(s, *"héllo");
    assert_eq!(s, String::from("héllo"));
    assert_eq!("héllo", s);
    assert_eq!(String::from("héllo"), s);
    assert_eq!(s.as_bytes(), "héllo".as_bytes());
    let r: &str = s.as_ref();
    assert_eq!(r, "héllo");
    let b: &[u8] = s.as_ref();
    assert_eq!(b, "héllo".as_bytes());
    assert_eq!(s.to_string(), "héllo");
    assert_eq!(format!("{s:?}"), format!("{:?}", "héllo"));
    assert_eq!(Utf8Bytes::from(String::from("héllo")), s);
    assert_eq!(Utf8Bytes::from("héllo"), s);
    assert_eq!(
        Bytes::from(s.clone()),
        Bytes::from_static("héllo".as_bytes())
    );
    assert_eq!(
        s.clone().into_bytes(),
        Bytes::from_static("héllo".as_bytes())
    );
    assert_eq!(
        Utf8Bytes::try_from(Bytes::from_static("héllo".as_bytes())).unwrap(),
        s
    );
    assert_eq!(Utf8Bytes::try_from("héllo".as_bytes().to_vec()).unwrap(), s);
    assert_eq!(Utf8Bytes::try_from_bytes(Bytes::from("héllo")).unwrap(), s);
    assert!(Utf8Bytes::default().is_empty());
    assert!(s.starts_with("hé")); // str methods through Deref
    // SAFETY: the bytes are valid UTF-8.
    let u = unsafe { Utf8Bytes::from_bytes_unchecked(Bytes::from_static(b"ok")) };
    assert_eq!(u, "ok");
}

#[test]
fn rejection_returns_the_input() {
    let bad = Bytes::from_static(b"abc\xC3\x28def");
    let (back, e) = Utf8Bytes::try_from_bytes(bad.clone()).unwrap_err();
    assert_eq!(back, bad);
    assert_eq!(e.valid_up_to(), 3);
    let (back, e) = Utf8Bytes::try_from(bad.clone()).unwrap_err();
    assert_eq!(back, bad);
    assert_eq!(e.valid_up_to(), 3);
    let long = [b"a".repeat(100), vec![0xFF]].concat();
    let (back, e) = Utf8Bytes::try_from(long.clone()).unwrap_err();
    assert_eq!(back, long);
    assert_eq!(e.valid_up_to(), 100);
}

#[test]
fn hashes_and_orders_like_str() {
    let mut map = HashMap::new();
    map.insert(Utf8Bytes::from("key"), 1);
    assert_eq!(map.get("key"), Some(&1));
    let mut v = vec![
        Utf8Bytes::from("b"),
        Utf8Bytes::from("é"),
        Utf8Bytes::from("a"),
    ];
    v.sort();
    assert_eq!(v, ["a", "b", "é"]);
}

#[test]
fn clone_shares_the_buffer() {
    let s = Utf8Bytes::from("x".repeat(1000));
    let t = s.clone();
    assert_eq!(s.as_ptr(), t.as_ptr());
}
