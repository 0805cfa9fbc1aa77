//! The live-tenant check fails, rather than skipping, when its variables are set but unusable. Its own
//! test binary, because it sets process environment variables.

use std::sync::Arc;

use mdmkit_core::ProviderKind;
use mdmkit_testkit::{checks, live_config_from, Harness};

fn never_built() -> Harness {
    Harness::new(
        ProviderKind::Jamf,
        Arc::new(|_, _| panic!("an invalid configuration must not reach the factory")),
    )
}

#[test]
fn no_variables_is_a_skip_and_bad_ones_are_errors() {
    let none = |_: &str| None;
    assert!(matches!(
        live_config_from(ProviderKind::Jamf, none),
        Ok(None)
    ));
    let blank = |_: &str| Some("  ".to_owned());
    assert!(matches!(
        live_config_from(ProviderKind::Intune, blank),
        Ok(None)
    ));

    let secret = "s3cr3t-value-never-shown";
    let half = |name: &str| {
        name.ends_with("_HOST")
            .then(|| "https://jamf.example.com".to_owned())
    };
    let e = live_config_from(ProviderKind::Jamf, half).unwrap_err();
    assert!(
        e.contains("MDMKIT_TEST_JAMF_CLIENT_ID") && e.contains("MDMKIT_TEST_JAMF_CLIENT_SECRET"),
        "{e}"
    );

    let bad_host = |name: &str| {
        Some(match name {
            "MDMKIT_TEST_JAMF_HOST" => "not a host at all".to_owned(),
            "MDMKIT_TEST_JAMF_CLIENT_SECRET" => secret.to_owned(),
            _ => "client".to_owned(),
        })
    };
    let e = live_config_from(ProviderKind::Jamf, bad_host).unwrap_err();
    assert!(e.contains("set but invalid"), "{e}");
    assert!(!e.contains(secret), "{e}");

    let good = |name: &str| {
        Some(match name {
            "MDMKIT_TEST_FLEET_HOST" => "https://fleet.example.com".to_owned(),
            _ => "token".to_owned(),
        })
    };
    assert!(matches!(
        live_config_from(ProviderKind::Fleet, good),
        Ok(Some(_))
    ));
}

#[tokio::test]
#[should_panic(expected = "set but invalid")]
async fn the_live_check_fails_loudly_on_an_invalid_host() {
    std::env::set_var("MDMKIT_TEST_JAMF_HOST", "not a host at all");
    std::env::set_var("MDMKIT_TEST_JAMF_CLIENT_ID", "client");
    std::env::set_var("MDMKIT_TEST_JAMF_CLIENT_SECRET", "secret");
    checks::live_tenant(&never_built()).await;
}
