//! `Sandbox::credentials`: each provider's settings-form values, the same ones `Sandbox::config` holds.

use mdmkit_core::{ProviderConfig, ProviderKind};
use mdmkit_sandbox::{Access, Sandbox, SandboxConfig};
use serde_json::{Map, Value};

fn exposed(config: &ProviderConfig) -> Value {
    serde_json::to_value(config.expose_secrets()).unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn credentials_are_the_form_fields_of_each_provider_with_the_sandbox_values() {
    let sandbox = Sandbox::start(SandboxConfig {
        devices: 3,
        secret_suffix: "-canary".into(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    for kind in ProviderKind::ALL {
        let credentials = sandbox.credentials(kind);
        let fields: Vec<_> = credentials.iter().map(|c| c.field).collect();
        assert_eq!(
            fields,
            kind.credential_fields(),
            "{kind:?}: one value per form field, in order"
        );
        let full = exposed(&sandbox.config(kind, Access::Full));
        let wrong = exposed(&sandbox.config(kind, Access::WrongSecret));
        for c in &credentials {
            // The serde form writes a host as `base_url` (it reads `host` too).
            let key = if c.field.key == "host" {
                "base_url"
            } else {
                c.field.key
            };
            assert_eq!(full[key], c.value.as_str(), "{kind:?} {}", c.field.key);
            // Secrets carry the test's canary; full access is not the wrong secret.
            assert_eq!(
                c.field.secret,
                c.value.ends_with("-canary"),
                "{kind:?} {}",
                c.field.key
            );
            if c.field.secret {
                assert_ne!(wrong[key], c.value.as_str(), "{kind:?}");
            }
        }

        // Posted as a settings form would be, the values make a valid configuration of the provider; for
        // Jamf and Fleet (any host, no fixed endpoint) it is exactly the sandbox's.
        if kind == ProviderKind::Iru {
            continue; // the sandbox's host is no Iru tenant host: only `Sandbox::config` marks it custom
        }
        let mut form = Map::new();
        form.insert("provider".into(), kind.id().into());
        for c in &credentials {
            form.insert(c.field.key.into(), c.value.clone().into());
        }
        let posted: ProviderConfig = serde_json::from_value(Value::Object(form)).unwrap();
        assert_eq!(posted.kind(), kind);
        if matches!(kind, ProviderKind::Jamf | ProviderKind::Fleet) {
            assert_eq!(exposed(&posted), full, "{kind:?}");
        }
    }
}
