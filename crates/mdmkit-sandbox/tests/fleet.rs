//! The simulated Fleet API's list paging beyond what the conformance suite exercises.

use mdmkit_core::ProviderKind;
use mdmkit_sandbox::{Access, Sandbox, SandboxConfig};
use serde_json::Value;

/// Labels page like hosts: with more labels than a page holds, a listing must end (it did not when the
/// label list ignored `page`/`per_page`).
#[tokio::test]
async fn labels_page_by_page_and_per_page() {
    let sandbox = Sandbox::start(SandboxConfig {
        devices: 300,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let base = sandbox.url(ProviderKind::Fleet).to_string();
    let token = serde_json::to_value(
        sandbox
            .config(ProviderKind::Fleet, Access::Full)
            .expose_secrets(),
    )
    .unwrap()["api_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let http = reqwest::Client::new();
    let get = |q: &str| {
        http.get(format!("{base}api/v1/fleet/labels?{q}"))
            .bearer_auth(&token)
            .send()
    };
    let all: Value = serde_json::from_str(&get("").await.unwrap().text().await.unwrap()).unwrap();
    let total = all["labels"].as_array().unwrap().len();
    assert_eq!(total, sandbox.fleet().groups.len() + 1, "with All Hosts");
    let mut seen = 0;
    for page in 0.. {
        let body: Value = serde_json::from_str(
            &get(&format!("page={page}&per_page=5&order_key=id"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        )
        .unwrap();
        let n = body["labels"].as_array().unwrap().len();
        seen += n;
        if n < 5 {
            break;
        }
    }
    assert_eq!(seen, total);
}
