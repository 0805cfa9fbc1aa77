//! Limits belong to the MDM server (defect 5): clients for one server share them, token requests
//! included, and two servers or two tenants never do.

mod support;

use std::sync::Arc;
use std::time::Duration;

use mdmkit_core::http::{
    ClientCredentials, ClientOptions, HttpClient, LimitRegistry, RetryConfig, ServerKey,
};
use mdmkit_core::{ProviderKind, SecretString, Url};
use support::{Reply, Server};

fn url(server: &Server) -> Url {
    Url::parse(&server.url()).unwrap()
}

/// The production setting: the process-wide registry, the provider's default limits.
fn options() -> ClientOptions {
    ClientOptions {
        retry: RetryConfig::none(),
        ..ClientOptions::for_local_testing()
    }
}

/// Jamf's 5 requests in flight are per server: two `HttpClient::new` for the same Jamf host (two
/// provider instances) share them. The old clients had 5 each.
#[tokio::test]
async fn two_clients_for_one_jamf_server_keep_five_requests_in_flight_between_them() {
    let server =
        Server::start_slow(Duration::from_millis(150), |_, _| Reply::json(200, "{}")).await;
    let a = HttpClient::new(ProviderKind::Jamf, url(&server), &options()).unwrap();
    let b = HttpClient::new(ProviderKind::Jamf, url(&server), &options()).unwrap();
    assert!(Arc::ptr_eq(a.server_limits(), b.server_limits()));
    assert_eq!(a.server_limits().limits().max_concurrency, 5);
    // A later client asking for other limits fans out at the ones in force for the server.
    let c = HttpClient::new(
        ProviderKind::Jamf,
        url(&server),
        &ClientOptions {
            max_concurrency: Some(9),
            ..options()
        },
    )
    .unwrap();
    assert_eq!((a.max_concurrency(), c.max_concurrency()), (5, 5));
    drop(c);
    let calls = (0..16).map(|i| {
        let client = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move { client.get("x").send().await }
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
    assert_eq!(server.hits(), 16);
    assert!(server.max_in_flight() <= 5, "{}", server.max_in_flight());
    // Each provider instance still counts its own requests.
    assert_eq!(a.request_count() + b.request_count(), 16);
}

/// One slow server holds only its own slots: another server of the same kind answers at once.
#[tokio::test]
async fn a_server_that_hangs_stalls_no_other_server() {
    let stuck = Server::start(|_, _| Reply::Hang).await;
    let fine = Server::start(|_, _| Reply::json(200, "{}")).await;
    let opts = ClientOptions {
        max_concurrency: Some(1),
        request_timeout: Duration::from_secs(600),
        ..options()
    };
    let slow = HttpClient::new(ProviderKind::Jamf, url(&stuck), &opts).unwrap();
    let hung = tokio::spawn(async move { slow.get("x").send().await });
    while stuck.hits() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let other = HttpClient::new(ProviderKind::Jamf, url(&fine), &opts).unwrap();
    tokio::time::timeout(Duration::from_secs(30), other.get("x").send())
        .await
        .expect("not held up by the other server")
        .unwrap();
    assert!(!hung.is_finished());
    hung.abort();
}

/// Tenants on a host every tenant shares (SimpleMDM, JumpCloud, Graph) have a limit each, and the
/// same tenant shares its limit across clients.
#[tokio::test]
async fn tenants_of_a_shared_host_never_share_a_limit() {
    let registry = LimitRegistry::new();
    let opts = ClientOptions {
        limit_registry: registry.clone(),
        ..options()
    };
    let host = Url::parse("https://a.simplemdm.com/").unwrap();
    let client = |key: ServerKey| {
        HttpClient::for_server(ProviderKind::SimpleMdm, host.clone(), key, &opts).unwrap()
    };
    let secret = |s: &str| SecretString::from(s.to_owned());
    let simplemdm =
        |s: &str| ServerKey::credential(ProviderKind::SimpleMdm, &host, &secret(s), None);
    let a1 = client(simplemdm("key-a"));
    let a2 = client(simplemdm("key-a"));
    let b = client(simplemdm("key-b"));
    assert!(Arc::ptr_eq(a1.server_limits(), a2.server_limits()));
    assert!(!Arc::ptr_eq(a1.server_limits(), b.server_limits()));

    let jc = |org: Option<&str>| {
        ServerKey::credential(ProviderKind::JumpCloud, &host, &secret("jc-key"), org)
    };
    let org_a = client(jc(Some("org-a")));
    let org_b = client(jc(Some("org-b")));
    assert!(!Arc::ptr_eq(org_a.server_limits(), org_b.server_limits()));

    let graph = Url::parse("https://graph.microsoft.com/").unwrap();
    let tenant = |t: &str| {
        HttpClient::for_server(
            ProviderKind::Intune,
            graph.clone(),
            ServerKey::tenant(ProviderKind::Intune, &graph, t),
            &opts,
        )
        .unwrap()
    };
    let contoso = tenant("contoso.onmicrosoft.com");
    assert!(Arc::ptr_eq(
        contoso.server_limits(),
        tenant("Contoso.onmicrosoft.com").server_limits()
    ));
    assert!(!Arc::ptr_eq(
        contoso.server_limits(),
        tenant("fabrikam.onmicrosoft.com").server_limits()
    ));
    // The Entra login host beside Graph counts against the tenant's limits.
    let login = contoso.with_base_url(Url::parse("https://login.microsoftonline.com/").unwrap());
    assert!(Arc::ptr_eq(contoso.server_limits(), login.server_limits()));
    // Alive: key-a, key-b, org-a, org-b and contoso (fabrikam's client is gone).
    assert_eq!(registry.servers(), 5);
}

/// A tenant that hangs on a shared host stalls no other tenant of that host.
#[tokio::test]
async fn a_tenant_that_hangs_stalls_no_other_tenant_of_the_same_host() {
    let server = Server::start(|_, req| match req.header("authorization") {
        Some("slow") => Reply::Hang,
        _ => Reply::json(200, "{}"),
    })
    .await;
    let opts = ClientOptions {
        max_concurrency: Some(1),
        request_timeout: Duration::from_secs(600),
        limit_registry: LimitRegistry::new(),
        ..options()
    };
    let base = url(&server);
    let tenant = |key: &str| {
        let key = ServerKey::credential(
            ProviderKind::SimpleMdm,
            &base,
            &SecretString::from(key.to_owned()),
            None,
        );
        HttpClient::for_server(ProviderKind::SimpleMdm, base.clone(), key, &opts).unwrap()
    };
    let slow = tenant("slow");
    let hung = tokio::spawn(async move {
        slow.get("x")
            .header(
                mdmkit_core::http::header::AUTHORIZATION,
                mdmkit_core::http::HeaderValue::from_static("slow"),
            )
            .send()
            .await
    });
    while server.hits() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::timeout(Duration::from_secs(30), tenant("fast").get("x").send())
        .await
        .expect("not held up by the other tenant")
        .unwrap();
    assert!(!hung.is_finished());
    hung.abort();
}

/// Token requests to the same server count against its limit: with one slot, a token request and an
/// API request from another client for that server never overlap.
#[tokio::test]
async fn token_requests_count_against_the_servers_limit() {
    let server = Server::start_slow(Duration::from_millis(100), |i, req| {
        if req.target.starts_with("/oauth") {
            Reply::json(
                200,
                &format!(r#"{{"access_token":"t{i}","token_type":"Bearer","expires_in":600}}"#),
            )
        } else {
            Reply::json(200, "{}")
        }
    })
    .await;
    let opts = ClientOptions {
        max_concurrency: Some(1),
        limit_registry: LimitRegistry::new(),
        ..options()
    };
    let base = url(&server);
    let api = HttpClient::new(ProviderKind::Jamf, base.clone(), &opts).unwrap();
    let tokens = HttpClient::new(ProviderKind::Jamf, base.clone(), &opts).unwrap();
    let cc = ClientCredentials::new(
        tokens,
        vec![base.join("oauth/token").unwrap()],
        "client",
        SecretString::from("secret".to_owned()),
    );
    use mdmkit_core::http::TokenSource;
    let (token, listing) = tokio::join!(cc.fetch_token(), async {
        for _ in 0..3 {
            api.get("x").send().await?;
        }
        Ok::<_, mdmkit_core::Error>(())
    });
    token.unwrap();
    listing.unwrap();
    assert_eq!(server.hits(), 4);
    assert_eq!(server.max_in_flight(), 1);
}

/// The registry forgets a server once no client for it is left.
#[tokio::test]
async fn the_registry_forgets_servers_without_clients() {
    let registry = LimitRegistry::new();
    let opts = ClientOptions {
        limit_registry: registry.clone(),
        ..options()
    };
    let clients: Vec<HttpClient> = (0..20)
        .map(|n| {
            let url = Url::parse(&format!("https://fleet-{n}.example/")).unwrap();
            HttpClient::new(ProviderKind::Fleet, url, &opts).unwrap()
        })
        .collect();
    let clones: Vec<HttpClient> = clients
        .iter()
        .map(|c| c.with_base_url(c.base_url().clone()))
        .collect();
    assert_eq!(registry.servers(), 20);
    drop(clients);
    assert_eq!(
        registry.servers(),
        20,
        "clones keep their server's limits alive"
    );
    drop(clones);
    assert_eq!(registry.servers(), 0);
}
