//! Many connections at once on a multi-thread runtime: 200 clients, each echoing a few
//! messages through its own server task, all checked, all closed cleanly.

mod common;

use common::{TEST_TIMEOUT, echo, listener, url, within};
use tokio::task::JoinSet;
use ws_tokio::{Config, Message};

const CONNECTIONS: usize = 200;
const MESSAGES: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_echo_connections() {
    within(TEST_TIMEOUT, async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            for _ in 0..CONNECTIONS {
                let (tcp, _) = listener.accept().await.unwrap();
                connections.spawn(async move {
                    let ws = ws_tokio::accept(tcp, Config::default()).await.unwrap();
                    echo(ws).await
                });
            }
            let mut echoed = 0;
            while let Some(count) = connections.join_next().await {
                echoed += count.expect("server connection task");
            }
            echoed
        });

        let mut clients = JoinSet::new();
        for c in 0..CONNECTIONS {
            clients.spawn(async move {
                let mut ws =
                    ws_tokio::connect(&url(addr, &format!("/client/{c}")), Config::default())
                        .await
                        .expect("connect");
                for m in 0..MESSAGES {
                    let message = if m % 2 == 0 {
                        Message::text(format!("client {c} message {m}"))
                    } else {
                        Message::binary(common::binary_payload(100 * m + c, (c * 100 + m) as u64))
                    };
                    ws.send(message.clone()).await.expect("send");
                    assert_eq!(ws.recv().await.unwrap().unwrap(), message);
                }
                ws.close(1000u16, "").await.unwrap();
                assert!(matches!(ws.recv().await, Some(Ok(Message::Close(_)))));
                assert!(ws.recv().await.is_none());
            });
        }
        while let Some(done) = clients.join_next().await {
            done.expect("client task");
        }
        assert_eq!(server.await.unwrap(), CONNECTIONS * MESSAGES);
    })
    .await;
}
