//! The faults the fault matrix uses, seen from a plain HTTP client: status faults with the vendor's own
//! answers, oversized bodies, revoked credentials, held requests, refused connections and an untrusted
//! certificate, each cleared again by `set_faults`.

use std::time::Duration;

use mdmkit_core::{ExposeSecret, ProviderConfig, ProviderKind};
use mdmkit_sandbox::{Access, Faults, Sandbox, SandboxConfig};
use serde_json::Value;

const FLEET: ProviderKind = ProviderKind::Fleet;
const JAMF: ProviderKind = ProviderKind::Jamf;
const FLEET_TOKEN: &str = "Bearer sandbox-fleet-token";

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig {
        devices: 5,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

fn fleet_me(sandbox: &Sandbox) -> String {
    format!("{}api/v1/fleet/me", sandbox.url(FLEET))
}

async fn fleet_get(client: &reqwest::Client, url: &str) -> reqwest::Response {
    client
        .get(url)
        .header("authorization", FLEET_TOKEN)
        .send()
        .await
        .unwrap()
}

/// A Jamf bearer token from the sandbox's token endpoint.
async fn jamf_token(client: &reqwest::Client, sandbox: &Sandbox) -> reqwest::Response {
    let ProviderConfig::Jamf(config) = sandbox.config(JAMF, Access::Full) else {
        unreachable!()
    };
    client
        .post(format!("{}api/v1/oauth/token", sandbox.url(JAMF)))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", config.client_id.as_str()),
            ("client_secret", config.client_secret.expose_secret()),
        ])
        .send()
        .await
        .unwrap()
}

async fn jamf_version(client: &reqwest::Client, sandbox: &Sandbox, token: &str) -> u16 {
    client
        .get(format!("{}api/v1/jamf-pro-version", sandbox.url(JAMF)))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn json(r: reqwest::Response) -> Value {
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
}

fn status(code: u16) -> Faults {
    Faults {
        status: Some(code),
        ..Faults::default()
    }
}

#[tokio::test]
async fn status_faults_answer_as_the_vendor_does() {
    let sandbox = sandbox().await;
    let client = reqwest::Client::new();
    let me = fleet_me(&sandbox);

    // 401: the valid token is refused by the API's own check, with its own body.
    sandbox.set_faults(FLEET, status(401));
    let r = fleet_get(&client, &me).await;
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = json(r).await;
    assert_eq!(body["errors"][0]["reason"], "Authentication required");

    // 404: the server's answer for a path it does not serve (gorilla/mux's plain text for Fleet).
    sandbox.set_faults(FLEET, status(404));
    let r = fleet_get(&client, &me).await;
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(r.text().await.unwrap(), "404 page not found\n");
    let jamf_404 = Sandbox::start(SandboxConfig::default()).await.unwrap();
    jamf_404.set_faults(JAMF, status(404));
    let token: Value = json(jamf_token(&client, &jamf_404).await).await;
    let token = token["access_token"].as_str().unwrap();
    let r = client
        .get(format!("{}api/v1/jamf-pro-version", jamf_404.url(JAMF)))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let body: Value = json(r).await;
    assert_eq!(body, serde_json::json!({"httpStatus": 404, "errors": []}));

    // 429 carries Retry-After; 503 the vendor's error body.
    sandbox.set_faults(
        FLEET,
        Faults {
            status: Some(429),
            retry_after: Duration::from_secs(2),
            ..Faults::default()
        },
    );
    let r = fleet_get(&client, &me).await;
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "2");
    sandbox.set_faults(FLEET, status(503));
    let r = fleet_get(&client, &me).await;
    assert_eq!(r.status().as_u16(), 503);
    let body: Value = json(r).await;
    assert!(body["errors"].is_array(), "{body}");

    sandbox.set_faults(FLEET, Faults::default());
    assert_eq!(fleet_get(&client, &me).await.status().as_u16(), 200);
}

#[tokio::test]
async fn api_faults_spare_the_token_endpoint() {
    let sandbox = sandbox().await;
    let client = reqwest::Client::new();
    sandbox.set_faults(JAMF, status(503));
    let r = jamf_token(&client, &sandbox).await;
    assert_eq!(r.status().as_u16(), 200, "the token endpoint answers");
    let body: Value = json(r).await;
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(jamf_version(&client, &sandbox, token).await, 503);
}

#[tokio::test]
async fn oversized_bodies_are_valid_json_streamed_without_a_length() {
    let sandbox = sandbox().await;
    let client = reqwest::Client::new();
    let size = 300_000;
    sandbox.set_faults(
        FLEET,
        Faults {
            oversized_body: Some(size),
            ..Faults::default()
        },
    );
    let r = fleet_get(&client, &fleet_me(&sandbox)).await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers().get("content-length").is_none());
    let body = r.bytes().await.unwrap();
    assert_eq!(body.len(), size);
    let parsed: Value = serde_json::from_slice(&body).unwrap();
    assert!(parsed["user"].is_object(), "the real answer, padded");
    // Errors are not padded.
    let r = client.get(fleet_me(&sandbox)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.bytes().await.unwrap().len() < 1000);
}

#[tokio::test]
async fn static_credentials_are_refused_after_the_revocation_point() {
    let sandbox = sandbox().await;
    let client = reqwest::Client::new();
    let me = fleet_me(&sandbox);
    sandbox.set_faults(
        FLEET,
        Faults {
            revoke_credentials_after: Some(2),
            ..Faults::default()
        },
    );
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(fleet_get(&client, &me).await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 401, 401]);
    sandbox.set_faults(FLEET, Faults::default());
    assert_eq!(fleet_get(&client, &me).await.status().as_u16(), 200);
}

#[tokio::test]
async fn issued_tokens_expire_at_the_revocation_point_and_new_ones_work() {
    let sandbox = sandbox().await;
    let client = reqwest::Client::new();
    let body: Value = json(jamf_token(&client, &sandbox).await).await;
    let old = body["access_token"].as_str().unwrap().to_owned();
    sandbox.set_faults(
        JAMF,
        Faults {
            revoke_credentials_after: Some(1),
            ..Faults::default()
        },
    );
    assert_eq!(jamf_version(&client, &sandbox, &old).await, 200);
    assert_eq!(jamf_version(&client, &sandbox, &old).await, 401);
    let body: Value = json(jamf_token(&client, &sandbox).await).await;
    let fresh = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(jamf_version(&client, &sandbox, &fresh).await, 200);
    assert_eq!(
        jamf_version(&client, &sandbox, &fresh).await,
        200,
        "tokens are revoked once"
    );
}

#[tokio::test]
async fn a_hanging_server_answers_once_the_fault_is_cleared() {
    let sandbox = sandbox().await;
    let client = reqwest::Client::new();
    sandbox.set_faults(
        FLEET,
        Faults {
            hang: true,
            ..Faults::default()
        },
    );
    let me = fleet_me(&sandbox);
    let held = tokio::spawn({
        let client = client.clone();
        async move { fleet_get(&client, &me).await.status().as_u16() }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!held.is_finished(), "no answer while the fault holds");
    sandbox.set_faults(FLEET, Faults::default());
    let status = tokio::time::timeout(Duration::from_secs(10), held)
        .await
        .expect("answered after the fault is cleared")
        .unwrap();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn refused_connections_until_the_fault_is_cleared_then_the_same_port_again() {
    let sandbox = sandbox().await;
    let client = reqwest::Client::new();
    let me = fleet_me(&sandbox);
    // A connection opened before the fault is dropped, not kept alive past it.
    assert_eq!(fleet_get(&client, &me).await.status().as_u16(), 200);
    sandbox.set_faults(
        FLEET,
        Faults {
            refuse_connections: true,
            ..Faults::default()
        },
    );
    let mut refused = false;
    for _ in 0..50 {
        match client
            .get(&me)
            .header("authorization", FLEET_TOKEN)
            .send()
            .await
        {
            Err(e) if e.is_connect() => {
                refused = true;
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    assert!(refused, "connections are refused");
    let raw = std::net::TcpStream::connect(sandbox.url(FLEET).socket_addrs(|| None).unwrap()[0]);
    assert_eq!(
        raw.unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );
    // Listening again when `set_faults` returns, on the same port.
    sandbox.set_faults(FLEET, Faults::default());
    std::net::TcpStream::connect(sandbox.url(FLEET).socket_addrs(|| None).unwrap()[0])
        .expect("the port listens again at once");
    assert_eq!(fleet_get(&client, &me).await.status().as_u16(), 200);
}

#[tokio::test]
async fn an_untrusted_certificate_until_the_fault_is_cleared() {
    let sandbox = Sandbox::start(SandboxConfig {
        devices: 2,
        tls: true,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let ca = reqwest::Certificate::from_pem(sandbox.ca_pem().unwrap().as_bytes()).unwrap();
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let me = fleet_me(&sandbox);
    assert_eq!(fleet_get(&client, &me).await.status().as_u16(), 200);
    sandbox.set_faults(
        FLEET,
        Faults {
            untrusted_tls: true,
            ..Faults::default()
        },
    );
    // A request racing the drop of the kept-alive connection may fail on that connection first.
    let mut chain = String::new();
    for _ in 0..20 {
        let err = client
            .get(&me)
            .header("authorization", FLEET_TOKEN)
            .send()
            .await
            .expect_err("the certificate is not trusted");
        chain = format!("{:?}", error_chain(&err));
        if chain.contains("UnknownIssuer") {
            break;
        }
    }
    assert!(chain.contains("UnknownIssuer"), "{chain}");
    sandbox.set_faults(FLEET, Faults::default());
    assert_eq!(fleet_get(&client, &me).await.status().as_u16(), 200);
}

fn error_chain(err: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut out = vec![err.to_string()];
    let mut next = err.source();
    while let Some(e) = next {
        out.push(format!("{e:?}"));
        next = e.source();
    }
    out
}
