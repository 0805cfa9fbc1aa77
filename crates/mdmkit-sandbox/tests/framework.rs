//! The sandbox framework: servers, faults, TLS, counters and mutations (exercised through the Fleet API).

use std::time::Duration;

use mdmkit_core::ProviderKind;
use mdmkit_sandbox::{Access, Faults, Sandbox, SandboxConfig};
use serde_json::Value;

const TOKEN: &str = "Bearer sandbox-fleet-token";

async fn get(client: &reqwest::Client, url: String) -> (u16, String) {
    let r = client
        .get(url)
        .header("authorization", TOKEN)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn serves_the_seeded_fleet_with_fleet_paging_rules() {
    let sandbox = Sandbox::start(SandboxConfig {
        devices: 45,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let base = sandbox.url(ProviderKind::Fleet).clone();
    let client = reqwest::Client::new();
    let (status, body) = get(
        &client,
        format!("{base}api/v1/fleet/hosts?page=2&per_page=20&order_key=id"),
    )
    .await;
    assert_eq!(status, 200);
    let hosts: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(hosts["hosts"].as_array().unwrap().len(), 5);
    // page without per_page: 20 rows; neither: everything.
    let (_, body) = get(&client, format!("{base}api/v1/fleet/hosts?page=0")).await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["hosts"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
    let (_, body) = get(&client, format!("{base}api/v1/fleet/hosts")).await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["hosts"]
            .as_array()
            .unwrap()
            .len(),
        45
    );
    let (status, _) = get(
        &client,
        format!("{base}api/v1/fleet/hosts?page=0&per_page=0"),
    )
    .await;
    assert_eq!(status, 400);
    // `query` is a substring search (device 1's serial extends device 0's).
    let serial0 = sandbox.fleet().devices[&0].serial.to_lowercase();
    let (_, body) = get(
        &client,
        format!("{base}api/v1/fleet/hosts?page=0&per_page=10&query={serial0}"),
    )
    .await;
    let found: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(found["hosts"].as_array().unwrap().len(), 2);
    // Wrong token: the vendor's error body.
    let r = client
        .get(format!("{base}api/v1/fleet/me"))
        .header("authorization", "Bearer nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(body["errors"][0]["reason"], "Authentication required");
    assert_eq!(sandbox.request_count(ProviderKind::Fleet), 6);
    assert_eq!(sandbox.request_count(ProviderKind::Jamf), 0);
}

#[tokio::test]
async fn faults_are_injected_at_the_configured_rates() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let base = sandbox.url(ProviderKind::Fleet).clone();
    let client = reqwest::Client::new();
    sandbox.set_faults(
        ProviderKind::Fleet,
        Faults {
            rate_limited: 0.5,
            retry_after: Duration::from_secs(3),
            ..Faults::default()
        },
    );
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = client
            .get(format!("{base}api/v1/fleet/me"))
            .header("authorization", TOKEN)
            .send()
            .await
            .unwrap();
        if r.status().as_u16() == 429 {
            assert_eq!(r.headers()["retry-after"], "3");
        }
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [200, 429, 200, 429]);

    sandbox.set_faults(
        ProviderKind::Fleet,
        Faults {
            html_errors: 1.0,
            ..Faults::default()
        },
    );
    let (status, body) = get(&client, format!("{base}api/v1/fleet/me")).await;
    assert_eq!(status, 502);
    assert!(body.contains("<title>502 Bad Gateway</title>"));

    sandbox.set_faults(
        ProviderKind::Fleet,
        Faults {
            truncated: 1.0,
            ..Faults::default()
        },
    );
    let (status, body) = get(
        &client,
        format!("{base}api/v1/fleet/hosts?page=0&per_page=5"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        serde_json::from_str::<Value>(&body).is_err(),
        "truncated JSON does not parse"
    );

    sandbox.set_faults(
        ProviderKind::Fleet,
        Faults {
            malformed: 1.0,
            ..Faults::default()
        },
    );
    let (_, body) = get(&client, format!("{base}api/v1/fleet/me")).await;
    assert!(serde_json::from_str::<Value>(&body).is_err());

    sandbox.set_faults(
        ProviderKind::Fleet,
        Faults {
            server_errors: 1.0,
            ..Faults::default()
        },
    );
    let (status, body) = get(&client, format!("{base}api/v1/fleet/me")).await;
    assert_eq!(status, 503);
    assert!(
        body.contains("\"errors\""),
        "the vendor's error shape: {body}"
    );
}

#[tokio::test]
async fn latency_is_added() {
    let mut config = SandboxConfig::default();
    config.faults.insert(
        ProviderKind::Fleet,
        Faults {
            latency: Duration::from_millis(300),
            ..Faults::default()
        },
    );
    let sandbox = Sandbox::start(config).await.unwrap();
    let started = std::time::Instant::now();
    get(
        &reqwest::Client::new(),
        format!("{}api/v1/fleet/me", sandbox.url(ProviderKind::Fleet)),
    )
    .await;
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn tls_mode_serves_https_with_a_generated_ca() {
    let sandbox = Sandbox::start(SandboxConfig {
        tls: true,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let url = sandbox.url(ProviderKind::Fleet).clone();
    assert_eq!(url.scheme(), "https");
    let untrusting = reqwest::Client::builder().use_rustls_tls().build().unwrap();
    assert!(untrusting
        .get(format!("{url}api/v1/fleet/me"))
        .send()
        .await
        .is_err());
    let ca = reqwest::Certificate::from_pem(sandbox.ca_pem().unwrap().as_bytes()).unwrap();
    let trusting = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let (status, _) = get(&trusting, format!("{url}api/v1/fleet/me")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn mutations_are_visible_at_once() {
    let sandbox = Sandbox::start(SandboxConfig {
        devices: 3,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let base = sandbox.url(ProviderKind::Fleet).clone();
    let client = reqwest::Client::new();
    let added = sandbox.mutate(|f| f.add_device("NEWSERIAL01", "Loaner 1", None));
    let (status, body) = get(
        &client,
        format!("{base}api/v1/fleet/hosts/identifier/NEWSERIAL01"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["host"]["id"],
        added + 1
    );
    sandbox.mutate(|f| f.remove_device(added));
    let (status, _) = get(
        &client,
        format!("{base}api/v1/fleet/hosts/identifier/NEWSERIAL01"),
    )
    .await;
    assert_eq!(status, 404);
    let expected = sandbox.expected_devices(ProviderKind::Fleet);
    assert_eq!(expected.len(), 3);
}

#[tokio::test]
async fn next_links_say_https_in_tls_mode() {
    let sandbox = Sandbox::start(SandboxConfig {
        devices: 400,
        tls: true,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let url = sandbox.url(ProviderKind::Iru).clone();
    let token = match sandbox.config(ProviderKind::Iru, mdmkit_sandbox::Access::Full) {
        mdmkit_core::ProviderConfig::Iru(c) => {
            use mdmkit_core::ExposeSecret;
            c.api_token.expose_secret().to_owned()
        }
        _ => unreachable!(),
    };
    let ca = reqwest::Certificate::from_pem(sandbox.ca_pem().unwrap().as_bytes()).unwrap();
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let body = client
        .get(format!("{url}api/v1/tags"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let page: Value = serde_json::from_str(&body).unwrap();
    let next = page["next"].as_str().expect("several tag pages");
    assert!(
        next.starts_with(&format!("https://{}", url.host_str().unwrap())),
        "{next}"
    );
}

/// Six consecutive free ports on loopback (bound and released, so another process may take them first;
/// good enough for a test).
fn free_port_block() -> u16 {
    let start = 20_000 + (std::process::id() % 20_000) as u16;
    (0..2_000u16)
        .map(|i| start.wrapping_add(i.wrapping_mul(7)) % 40_000 + 20_000)
        .find(|base| (0..6).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()))
        .expect("six free consecutive ports")
}

#[tokio::test]
async fn a_sandbox_restarted_on_its_ports_with_its_seed_is_the_same_mdm() {
    let config = SandboxConfig {
        devices: 12,
        seed: 7,
        base_port: Some(free_port_block()),
        ..SandboxConfig::default()
    };
    let first = Sandbox::start(config.clone()).await.unwrap();
    let urls: Vec<String> = first.urls().map(|(_, u)| u.to_string()).collect();
    let devices = first.expected_devices(ProviderKind::Jamf);
    let groups = first.expected_groups(ProviderKind::Intune);
    let jamf = first.config(ProviderKind::Jamf, Access::Full);
    first.shutdown().await;

    // The ports are free again at once, and the second sandbox serves the same fleet at the same URLs.
    let second = Sandbox::start(config).await.expect("the ports were let go");
    assert_eq!(
        second
            .urls()
            .map(|(_, u)| u.to_string())
            .collect::<Vec<_>>(),
        urls
    );
    assert_eq!(second.expected_devices(ProviderKind::Jamf), devices);
    assert_eq!(second.expected_groups(ProviderKind::Intune), groups);
    assert!(second
        .config(ProviderKind::Jamf, Access::Full)
        .same_connection(&jamf));
}
