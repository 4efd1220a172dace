//! SMS senders: the dev console, or a generic HTTP gateway (JSON POST `{"to", "text"}`).

use std::time::Duration;

#[derive(Clone, Debug)]
pub enum SmsSender {
    /// Dev mode: the console is the phone. Printed to stdout, never through the logger.
    Console,
    Http {
        client: reqwest::Client,
        url: String,
        auth_header: Option<String>,
    },
}

impl SmsSender {
    pub fn http(url: String, auth_header: Option<String>) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
        Ok(Self::Http { client, url, auth_header })
    }

    pub async fn send(&self, to: &str, text: &str) -> Result<(), String> {
        match self {
            Self::Console => {
                println!("\n┌─ SMS to {to}\n│ {text}\n└─");
                Ok(())
            }
            Self::Http { client, url, auth_header } => {
                let mut req = client.post(url).json(&serde_json::json!({ "to": to, "text": text }));
                if let Some(value) = auth_header {
                    req = req.header(reqwest::header::AUTHORIZATION, value);
                }
                let resp = req.send().await.map_err(|e| format!("gateway unreachable: {}", e.without_url()))?;
                if resp.status().is_success() { Ok(()) } else { Err(format!("gateway answered {}", resp.status())) }
            }
        }
    }
}
