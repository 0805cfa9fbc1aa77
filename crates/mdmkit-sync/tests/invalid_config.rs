//! `MdmSync::connect` refuses an invalid configuration with the constructor's message before building a
//! provider or sending a request, whichever way the configuration was made (issue 12, point 1).

mod sandbox_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use mdmkit::{ErrorKind, MdmProvider, ProviderConfig, ProviderKind, SecretString, Url};
use mdmkit_sync::{MdmSync, Plan, Stores, Vault};
use sandbox_support::{Env, VAULT_KEY};

/// A configuration of `kind` for the sandbox, broken the way a hand-edited or hand-built one can be, and
/// the message the constructor gives for the same input.
fn broken(env: &Env, kind: ProviderKind) -> (ProviderConfig, &'static str) {
    let mut config = env.config(kind);
    let message = match &mut config {
        ProviderConfig::Jamf(c) => {
            c.client_id = "  ".into();
            "API Client ID is required"
        }
        ProviderConfig::Iru(c) => {
            c.api_token = SecretString::from("");
            "API Token is required"
        }
        ProviderConfig::SimpleMdm(c) => {
            c.api_key = SecretString::from(" ");
            "API Secret Access Key is required"
        }
        ProviderConfig::Fleet(c) => {
            c.base_url = Url::parse(&c.base_url.as_str().replacen("http", "ftp", 1)).unwrap();
            "uses the scheme ftp://"
        }
        ProviderConfig::JumpCloud(c) => {
            c.api_token = SecretString::from("");
            "API Token is required"
        }
        ProviderConfig::Intune(c) => {
            c.tenant_id = String::new();
            "Tenant ID is required"
        }
        _ => unreachable!("six providers"),
    };
    (config, message)
}

#[tokio::test(flavor = "current_thread")]
async fn connect_refuses_an_invalid_configuration_before_any_request() {
    let env = Env::start(5).await;
    let builds = Arc::new(AtomicUsize::new(0));
    let options = env.sandbox.client_options();
    let counting = builds.clone();
    let sync = MdmSync::new(
        Arc::new(
            move |c: &ProviderConfig| -> mdmkit::Result<Arc<dyn MdmProvider>> {
                counting.fetch_add(1, Ordering::SeqCst);
                mdmkit::build_provider(c.clone(), &options)
            },
        ),
        Vault::new("k1", &VAULT_KEY).unwrap(),
        Stores::memory(),
        env.clock.clone(),
    );
    for kind in ProviderKind::ALL {
        let ws = env.workspace(kind.id(), Plan::Pro, &[]).await;
        env.sandbox.reset_request_counts();
        let (config, message) = broken(&env, kind);
        let err = sync.connect(&ws, config).await.unwrap_err();
        assert_eq!(
            err.kind(),
            Some(ErrorKind::InvalidConfiguration),
            "{kind:?}"
        );
        assert!(err.to_string().contains(message), "{kind:?}: {err}");
        assert!(
            err.to_string().starts_with(kind.display_name()),
            "{kind:?}: {err}"
        );
        assert_eq!(
            env.sandbox.request_count(kind),
            0,
            "{kind:?} sent a request"
        );
        assert_eq!(
            builds.load(Ordering::SeqCst),
            0,
            "{kind:?} built a provider"
        );
        assert!(
            sync.connection_info(&ws).await.unwrap().is_none(),
            "{kind:?}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn providers_refuse_an_invalid_configuration_too() {
    let env = Env::start(5).await;
    for kind in ProviderKind::ALL {
        let (config, message) = broken(&env, kind);
        let err = mdmkit::build_provider(config, &env.sandbox.client_options()).unwrap_err();
        assert!(err.to_string().contains(message), "{kind:?}: {err}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_configuration_from_a_request_body_is_normalised_and_connects() {
    let env = Env::start(5).await;
    let ws = env.workspace("acme", Plan::Free, &[]).await;
    // What a settings form would post: the Jamf host pasted with its API path.
    let mut form: serde_json::Value =
        serde_json::to_value(env.config(ProviderKind::Jamf).expose_secrets()).unwrap();
    let base = form["base_url"].as_str().unwrap().to_owned();
    let form = serde_json::json!({
        "provider": "jamf",
        "host": format!("{base}api/v1/"),
        "client_id": form["client_id"].take(),
        "client_secret": form["client_secret"].take(),
    });
    let config: ProviderConfig = serde_json::from_value(form.clone()).unwrap();
    let report = env.sync.connect(&ws, config).await.unwrap();
    assert!(report.connection_changed);

    // The same form with a blank client ID never reaches the network: it does not even deserialise.
    let mut blank = form;
    blank["client_id"] = "".into();
    let err = serde_json::from_value::<ProviderConfig>(blank).unwrap_err();
    assert!(
        err.to_string().contains("API Client ID is required"),
        "{err}"
    );
}
