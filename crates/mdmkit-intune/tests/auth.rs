//! Client credentials against the Entra login host: the request, caching and renewal, every AADSTS case,
//! and the endpoints of each national cloud.

mod common;

use std::time::Duration;

use common::*;
use mdmkit_core::{Category, ErrorKind, IntuneCloud, IntuneConfig, MdmProvider, ProviderKind};
use mdmkit_intune::{graph_scope, token_endpoint, IntuneProvider};

const VALIDATE_QUERY: &[(&str, &str)] = &[("$top", "1"), ("$select", "id")];

#[tokio::test]
async fn validate_fetches_a_token_from_the_login_host_then_reads_one_device() {
    let env = Env::start().await;
    // The token mock only matches the exact form: grant type, client id, secret in the body, and the
    // scope `<Graph root>/.default`; the path carries the tenant.
    let token = env.token_ok().await;
    let graph = env
        .graph_get(
            DEVICES_PATH,
            VALIDATE_QUERY,
            200,
            "managed_devices_validate_top1.json",
        )
        .await;
    let sealed = env.seal().await;
    let intune = env.provider();

    intune.validate().await.unwrap();

    token.assert_calls_async(1).await;
    // The fixture's next link is not followed: one row is all validation needs.
    graph.assert_calls_async(1).await;
    assert_eq!(intune.request_count(), 2);
    assert_eq!(intune.token_requests(), 1);
    sealed.verify().await;
}

#[tokio::test]
async fn the_token_is_cached_across_operations() {
    let env = Env::start().await;
    let token = env.token_ok().await;
    let graph = env
        .graph_get(
            DEVICES_PATH,
            VALIDATE_QUERY,
            200,
            "managed_devices_validate_top1.json",
        )
        .await;
    let sealed = env.seal().await;
    let intune = env.provider();

    for _ in 0..3 {
        intune.validate().await.unwrap();
    }

    token.assert_calls_async(1).await;
    graph.assert_calls_async(3).await;
    assert_eq!(intune.request_count(), 4);
    sealed.verify().await;
}

#[tokio::test]
async fn the_token_is_renewed_before_expires_in_runs_out() {
    let env = Env::start().await;
    let token = env
        .token_mock(200, "token_success_expires_in_1s.json")
        .await;
    let graph = env
        .graph_get(
            DEVICES_PATH,
            VALIDATE_QUERY,
            200,
            "managed_devices_validate_top1.json",
        )
        .await;
    let sealed = env.seal().await;
    let intune = env.provider();

    intune.validate().await.unwrap();
    intune.validate().await.unwrap();
    token.assert_calls_async(1).await;
    // A 1 s token is renewed after 0.8 s (a fifth of its lifetime is the margin).
    tokio::time::sleep(Duration::from_millis(900)).await;
    intune.validate().await.unwrap();

    token.assert_calls_async(2).await;
    graph.assert_calls_async(3).await;
    sealed.verify().await;
}

struct AadstsCase {
    fixture: &'static str,
    status: u16,
    kind: ErrorKind,
    /// The R1 field the message must name.
    field: &'static str,
    code: &'static str,
    /// Something only Entra's own description says.
    vendor_detail: &'static str,
}

#[tokio::test]
async fn each_aadsts_code_gives_its_kind_and_names_the_field_to_fix() {
    let cases = [
        AadstsCase {
            fixture: "token_error_aadsts90002_tenant_not_found.json",
            status: 400,
            kind: ErrorKind::Unauthorized,
            field: "the Tenant ID \"contoso.onmicrosoft.com\" was not found",
            code: "AADSTS90002",
            vendor_detail: "Check that you are using the right cloud",
        },
        AadstsCase {
            fixture: "token_error_aadsts900023_tenant_not_guid_or_domain_no_error_codes.json",
            status: 400,
            kind: ErrorKind::Unauthorized,
            field: "the Tenant ID \"contoso.onmicrosoft.com\" is not a valid tenant",
            code: "AADSTS900023",
            vendor_detail: "neither a valid GUID nor a valid domain name",
        },
        AadstsCase {
            fixture: "token_error_aadsts700016_app_not_found_in_tenant.json",
            status: 400,
            kind: ErrorKind::Unauthorized,
            field: "the Client ID \"0a1b2c3d-0000-4000-8000-00000000c11e\" names no application",
            code: "AADSTS700016",
            vendor_detail: "No application with identifier",
        },
        AadstsCase {
            fixture: "token_error_aadsts7000215_secret_id_instead_of_value.json",
            status: 401,
            kind: ErrorKind::Unauthorized,
            field: "the Client Secret is invalid",
            code: "AADSTS7000215",
            vendor_detail: "not its ID",
        },
        AadstsCase {
            fixture: "token_error_aadsts7000222_secret_expired.json",
            status: 401,
            kind: ErrorKind::Unauthorized,
            field: "the Client Secret has expired",
            code: "AADSTS7000222",
            vendor_detail: "have expired",
        },
        AadstsCase {
            fixture: "token_error_aadsts70011_invalid_scope.json",
            status: 400,
            kind: ErrorKind::Forbidden,
            field: "refused the scope http://127.0.0.1",
            code: "AADSTS70011",
            vendor_detail: "'scope' is not valid",
        },
        AadstsCase {
            fixture: "token_error_aadsts1002012_invalid_scope.json",
            status: 400,
            kind: ErrorKind::Forbidden,
            field: "refused the scope http://127.0.0.1",
            code: "AADSTS1002012",
            vendor_detail: "not valid for a client credentials grant",
        },
    ];
    for case in cases {
        let env = Env::start().await;
        let token = env.token_mock(case.status, case.fixture).await;
        let sealed = env.seal().await;
        let intune = env.provider();

        let err = intune.validate().await.unwrap_err();

        let text = err.to_string();
        assert_eq!(err.kind(), case.kind, "{}: {text}", case.fixture);
        let category = match case.kind {
            ErrorKind::Forbidden => Category::Forbidden,
            _ => Category::Unauthorized,
        };
        assert_eq!(err.category(), category, "{}", case.fixture);
        assert_eq!(err.provider(), Some(ProviderKind::Intune));
        assert_eq!(err.operation(), Some("token"), "{}", case.fixture);
        assert_eq!(err.status(), Some(case.status), "{}", case.fixture);
        assert!(!err.is_retryable(), "{}", case.fixture);
        assert!(text.starts_with("Microsoft Intune token: "), "{text}");
        assert!(text.contains(case.field), "{}: {text}", case.fixture);
        assert!(text.contains(case.code), "{}: {text}", case.fixture);
        assert!(
            text.contains(case.vendor_detail),
            "{}: {text}",
            case.fixture
        );
        assert!(!text.contains("Trace ID"), "{text}");
        assert!(!text.contains(SECRET) && !format!("{err:?}").contains(SECRET));
        // A refused token is not retried, and Graph is never called without one.
        token.assert_calls_async(1).await;
        sealed.verify().await;
    }
}

#[tokio::test]
async fn a_token_endpoint_outage_is_a_retried_server_error() {
    let env = Env::start().await;
    let outage = env
        .login
        .mock_async(|when, then| {
            when.method("POST").path(TOKEN_PATH);
            then.status(503)
                .header("content-type", "application/json")
                .body(r#"{"error":"temporarily_unavailable","error_description":"AADSTS90033: A transient error has occurred. Try again.\r\nTrace ID: t"}"#);
        })
        .await;
    let sealed = env.seal().await;
    let mut options = Env::options();
    options.retry.max_attempts = 2;
    let intune = env.provider_with(&options);

    let err = intune.validate().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(err.operation(), Some("token"));
    assert!(
        err.to_string()
            .contains("temporarily_unavailable: AADSTS90033: A transient error has occurred"),
        "{err}"
    );
    outage.assert_calls_async(2).await;
    sealed.verify().await;
}

#[test]
fn each_national_cloud_selects_its_login_host_scope_and_portal() {
    let cases = [
        (
            IntuneCloud::Global,
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
            "https://graph.microsoft.com/.default",
            "https://intune.microsoft.com/",
        ),
        (
            IntuneCloud::UsGovL4,
            "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token",
            "https://graph.microsoft.us/.default",
            "https://intune.microsoft.us/",
        ),
        (
            IntuneCloud::UsGovL5Dod,
            "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token",
            "https://dod-graph.microsoft.us/.default",
            "https://intune.microsoft.us/",
        ),
        (
            IntuneCloud::China,
            "https://login.chinacloudapi.cn/contoso.onmicrosoft.com/oauth2/v2.0/token",
            "https://microsoftgraph.chinacloudapi.cn/.default",
            "https://intune.microsoftonline.cn/",
        ),
    ];
    for (cloud, token_url, scope, portal) in cases {
        let mut config = IntuneConfig::new(TENANT, CLIENT_ID, SECRET).unwrap();
        config.cloud = cloud;
        assert_eq!(token_endpoint(&config).unwrap().as_str(), token_url);
        assert_eq!(graph_scope(&config), scope);
        let intune = IntuneProvider::new(config, &Env::options()).unwrap();
        let link = intune
            .device_url("705c034c-034c-705c-4c03-5c704c035c70")
            .unwrap();
        assert_eq!(
            link.as_str(),
            format!("{portal}#view/Microsoft_Intune_Devices/DeviceSettingsMenuBlade/~/overview/mdmDeviceId/705c034c-034c-705c-4c03-5c704c035c70"),
            "{cloud:?}"
        );
    }
}

#[tokio::test]
async fn a_national_cloud_scope_is_sent_to_the_login_host() {
    // The US Government cloud with only the login host overridden: the scope must name the cloud's Graph
    // root, and no Graph request is attempted when the token is refused.
    let env = Env::start().await;
    let mut config = IntuneConfig::new(TENANT, CLIENT_ID, SECRET).unwrap();
    config.cloud = IntuneCloud::UsGovL4;
    config.login_url = Some(format!("{}/", env.login.base_url()).parse().unwrap());
    let token = env
        .login
        .mock_async(|when, then| {
            when.method("POST")
                .path(TOKEN_PATH)
                .form_urlencoded_tuple("scope", "https://graph.microsoft.us/.default");
            then.status(400)
                .header("content-type", "application/json")
                .body(env.fixture("token_error_aadsts90002_tenant_not_found.json"));
        })
        .await;
    let sealed = env.seal().await;
    let intune = IntuneProvider::new(config, &Env::options()).unwrap();

    let err = intune.validate().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert!(
        err.to_string().contains("US Government GCC High cloud"),
        "{err}"
    );
    token.assert_calls_async(1).await;
    sealed.verify().await;
}

#[tokio::test]
async fn debug_output_never_shows_the_secret_or_the_token() {
    let env = Env::start().await;
    env.token_ok().await;
    env.graph_get(
        DEVICES_PATH,
        VALIDATE_QUERY,
        200,
        "managed_devices_validate_top1.json",
    )
    .await;
    let sealed = env.seal().await;
    let intune = env.provider();
    intune.validate().await.unwrap();

    let shown = format!("{intune:?} {intune:#?}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(!shown.contains(&env.token()), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
    sealed.verify().await;
}
