//! Client masking keys from an injected source: deterministic keys end up on the wire, and a
//! failing source is a typed error that closes the connection, never a panic.

mod support;

use std::sync::{Arc, Mutex};
use support::{RawFrame, Scripted};
use ws_proto::{
    CloseCode, CloseReason, Error, Fault, MaskKeySource, Message, RandomError, Role, State,
};

/// Hands out the keys 1, 2, 3, ... (each as four big-endian bytes) and records how many.
#[derive(Debug, Default, Clone)]
struct Sequential(Arc<Mutex<u32>>);

impl MaskKeySource for Sequential {
    fn fill(&mut self, dst: &mut [u8]) -> Result<(), RandomError> {
        let mut n = self.0.lock().unwrap();
        *n += 1;
        dst.copy_from_slice(&n.to_be_bytes()[..dst.len()]);
        Ok(())
    }
}

/// Works `ok` times, then fails for good.
#[derive(Debug)]
struct FailsAfter {
    ok: usize,
}

impl MaskKeySource for FailsAfter {
    fn fill(&mut self, dst: &mut [u8]) -> Result<(), RandomError> {
        if self.ok == 0 {
            return Err(RandomError::new("test source exhausted"));
        }
        self.ok -= 1;
        dst.fill(0x5a);
        Ok(())
    }
}

fn key(n: u32) -> [u8; 4] {
    n.to_be_bytes()
}

#[test]
fn frames_are_masked_with_the_injected_keys() {
    let mut c = Scripted::new(Role::Client);
    let source = Sequential::default();
    c.conn.set_mask_key_source(Box::new(source.clone()));
    c.conn.send(Message::from("one"), c.now).unwrap();
    c.conn
        .send(Message::Binary(vec![7u8; 3000].into()), c.now)
        .unwrap();
    c.conn.send(Message::Ping("p".into()), c.now).unwrap();
    // A ping from the server is answered with a pong masked with the next key.
    let events = c.recv(&[RawFrame::ping("q")]);
    assert_eq!(events.len(), 1);
    c.conn
        .close(Some(CloseReason::new(CloseCode::NORMAL, "")), c.now)
        .unwrap();
    let frames = c.sent();
    let keys: Vec<_> = frames.iter().map(|f| f.mask.unwrap()).collect();
    assert_eq!(keys, [key(1), key(2), key(3), key(4), key(5)]);
    assert_eq!(frames[0].payload, b"one");
    assert_eq!(frames[1].payload, vec![7u8; 3000]);
    assert_eq!(frames[3].opcode, 0xA);
    assert_eq!(frames[3].payload, b"q");
    assert_eq!(frames[4].opcode, 0x8);
    assert_eq!(*source.0.lock().unwrap(), 5);
}

#[test]
fn fragments_each_take_a_key() {
    let config = ws_proto::Config::builder().fragment_size(10).build();
    let mut c = Scripted::with_config(Role::Client, config);
    c.conn.set_mask_key_source(Box::new(Sequential::default()));
    c.conn
        .send(Message::Binary(vec![1u8; 25].into()), c.now)
        .unwrap();
    let keys: Vec<_> = c.sent().iter().map(|f| f.mask.unwrap()).collect();
    assert_eq!(keys, [key(1), key(2), key(3)]);
}

#[test]
fn a_server_never_draws_a_key() {
    let mut s = Scripted::new(Role::Server);
    let source = Sequential::default();
    s.conn.set_mask_key_source(Box::new(source.clone()));
    s.conn.send(Message::from("x"), s.now).unwrap();
    assert!(s.sent()[0].mask.is_none());
    assert_eq!(*source.0.lock().unwrap(), 0);
}

fn assert_random_failure(e: &Error) {
    assert!(matches!(e, Error::Random(_)), "{e:?}");
    assert_eq!(e.fault(), Fault::Local);
    assert_eq!(e.close_code(), None);
    assert!(e.is_fatal());
    assert!(e.to_string().contains("test source exhausted"), "{e}");
}

#[test]
fn a_failing_source_fails_send_with_a_typed_error() {
    let mut c = Scripted::new(Role::Client);
    c.conn.set_mask_key_source(Box::new(FailsAfter { ok: 1 }));
    c.conn.send(Message::from("fine"), c.now).unwrap();
    let err = c.conn.send(Message::from("no key"), c.now).unwrap_err();
    assert_random_failure(&err);
    // The connection is closed; what was queued before still goes out, nothing after it (no
    // close frame: it could not be masked either).
    assert_eq!(c.conn.state(), State::Closed);
    let frames = c.sent();
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].payload, b"fine");
    assert!(matches!(
        c.conn.send(Message::from("later"), c.now),
        Err(Error::ConnectionClosed)
    ));
}

#[test]
fn a_failing_source_mid_fragmentation_closes_the_connection() {
    let config = ws_proto::Config::builder().fragment_size(10).build();
    let mut c = Scripted::with_config(Role::Client, config);
    c.conn.set_mask_key_source(Box::new(FailsAfter { ok: 2 }));
    let err = c
        .conn
        .send(Message::Binary(vec![1u8; 25].into()), c.now)
        .unwrap_err();
    assert_random_failure(&err);
    assert!(c.conn.is_closed());
}

#[test]
fn a_failing_source_fails_close_and_automatic_replies() {
    // close
    let mut c = Scripted::new(Role::Client);
    c.conn.set_mask_key_source(Box::new(FailsAfter { ok: 0 }));
    let err = c.conn.close(None, c.now).unwrap_err();
    assert_random_failure(&err);
    assert!(c.conn.is_closed());
    assert!(c.sent().is_empty());

    // the automatic pong
    let mut c = Scripted::new(Role::Client);
    c.conn.set_mask_key_source(Box::new(FailsAfter { ok: 0 }));
    let events = c.recv(&[RawFrame::ping("x"), RawFrame::text("after")]);
    assert_eq!(events.len(), 1);
    assert_random_failure(events[0].as_ref().unwrap_err());
    assert!(c.conn.is_closed());
    assert!(c.sent().is_empty());

    // the close reply
    let mut c = Scripted::new(Role::Client);
    c.conn.set_mask_key_source(Box::new(FailsAfter { ok: 0 }));
    let events = c.recv(&[RawFrame::close(1000, b"")]);
    assert_random_failure(events[0].as_ref().unwrap_err());
    assert!(c.conn.is_closed());
    assert!(c.sent().is_empty());
}
