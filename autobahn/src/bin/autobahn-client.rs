//! Client for `wstest -m fuzzingserver`: runs every case through the public client API.
//! `autobahn-client --url ws://127.0.0.1:9001 --agent sockudo-ws`

use sockudo_ws::Message;
use sockudo_ws_autobahn::{arg, config, echo};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = arg("--url").unwrap_or_else(|| "ws://127.0.0.1:9001".to_string());
    let agent = arg("--agent").unwrap_or_else(|| "sockudo-ws".to_string());

    let mut ws = sockudo_ws::connect(&format!("{url}/getCaseCount"), config()).await?;
    let mut count: Option<u32> = None;
    while let Some(message) = ws.recv().await {
        if let Message::Text(text) = message? {
            count = Some(text.trim().parse()?);
        }
    }
    let count = count.ok_or("the fuzzingserver sent no case count")?;
    println!("running {count} cases as agent {agent}");

    for case in 1..=count {
        let case_url = format!("{url}/runCase?case={case}&agent={agent}");
        match sockudo_ws::connect(&case_url, config()).await {
            Ok(ws) => echo(ws).await,
            Err(e) => eprintln!("case {case}: connect failed: {e}"),
        }
    }

    let mut ws =
        sockudo_ws::connect(&format!("{url}/updateReports?agent={agent}"), config()).await?;
    while let Some(message) = ws.recv().await {
        message?;
    }
    println!("reports updated");
    Ok(())
}
