//! The secret canary suite (issue 9): for every provider, connect, refresh, group sync and every error
//! path run against the sandbox with canary secrets while a `tracing` subscriber records every event and
//! span, of every crate (the `log` records of dependencies included), at TRACE. The canary never appears
//! in a log line, in the `Debug` or `Display` of configurations, errors, reports, providers or the
//! engine, or in a default-serialised configuration. Neither do the bearer tokens the sandbox issues.
//!
//! Every test of this binary uses the same canary, so one process-wide subscriber serves them all.

mod sandbox_support;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::TimeDelta;
use mdmkit::{Category, ErrorKind, ExposeSecret, ProviderConfig, ProviderKind, Url};
use mdmkit_sandbox::{Access, Faults, SandboxConfig};
use mdmkit_sync::{Plan, Vault};
use mdmkit_testkit::{failing_mdm, quick_options};
use sandbox_support::{Env, VAULT_KEY};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Ends every secret the sandbox hands out and accepts.
const CANARY: &str = "CANARY-9d3e51f07b";

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything logged so far by any test of this binary.
fn logs() -> String {
    static SINK: OnceLock<Sink> = OnceLock::new();
    let sink = SINK.get_or_init(|| {
        let sink = Sink::default();
        let writer = sink.clone();
        tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
                    .with_writer(move || writer.clone()),
            )
            // The sandbox is the MDM's side of the wire: what it logs about requests it received is not
            // ours to keep secret. Everything else, dependencies included, at TRACE.
            .with(
                Targets::new()
                    .with_default(LevelFilter::TRACE)
                    .with_target("mdmkit_sandbox", LevelFilter::OFF),
            )
            .init();
        sink
    });
    String::from_utf8_lossy(&sink.0.lock().unwrap()).into_owned()
}

fn secret_of(config: &ProviderConfig) -> &str {
    match config {
        ProviderConfig::Jamf(c) => c.client_secret.expose_secret(),
        ProviderConfig::Iru(c) => c.api_token.expose_secret(),
        ProviderConfig::SimpleMdm(c) => c.api_key.expose_secret(),
        ProviderConfig::Fleet(c) => c.api_token.expose_secret(),
        ProviderConfig::JumpCloud(c) => c.api_token.expose_secret(),
        ProviderConfig::Intune(c) => c.client_secret.expose_secret(),
        _ => unreachable!("six providers"),
    }
}

/// `config` with every endpoint moved under a path the sandbox does not serve: its 404s.
fn moved(mut config: ProviderConfig) -> ProviderConfig {
    let under = |url: &Url| url.join("no-such-api/").unwrap();
    match &mut config {
        ProviderConfig::Jamf(c) => c.base_url = under(&c.base_url),
        ProviderConfig::Iru(c) => c.base_url = under(&c.base_url),
        ProviderConfig::SimpleMdm(c) => c.base_url = Some(under(&c.api_base())),
        ProviderConfig::Fleet(c) => c.base_url = under(&c.base_url),
        ProviderConfig::JumpCloud(c) => c.base_url = Some(under(&c.api_base())),
        // The token endpoint stays, so the 404 comes from Graph.
        ProviderConfig::Intune(c) => c.graph_url = Some(under(&c.graph_base())),
        _ => unreachable!("six providers"),
    }
    config
}

/// An error as every formatter shows it, with its whole source chain.
fn error_text(e: &dyn std::error::Error) -> String {
    let mut text = format!("{e} | {e:?} | {e:#?}");
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(" | {s} | {s:?}"));
        source = s.source();
    }
    text
}

async fn canary_never_shows(kind: ProviderKind) {
    logs();
    let env = Env::start_with(SandboxConfig {
        devices: 8,
        secret_suffix: CANARY.to_owned(),
        ..SandboxConfig::default()
    })
    .await;
    let (sandbox, clock, stores) = (&env.sandbox, &env.clock, &env.stores);
    // Quick retries, so fault cases end fast; `Retry-After` is still honoured.
    let options = quick_options(sandbox);
    let sync = env.engine(options.clone(), Vault::new("k1", &VAULT_KEY).unwrap());
    let serials = env.fleet_serials();
    // A fresh workspace holding the whole fleet, on a plan with group sync.
    let made = std::cell::Cell::new(0);
    let workspace = |id: &str| {
        made.set(made.get() + 1);
        let id = format!("{}-{id}-{}", kind.id(), made.get());
        let (env, serials) = (&env, &serials);
        async move { env.workspace(&id, Plan::Pro, serials).await }
    };
    let mut shown: Vec<String> = Vec::new();

    // Connect, refresh and group sync, all succeeding with canary secrets.
    let config = sandbox.config(kind, Access::Full);
    assert!(
        secret_of(&config).ends_with(CANARY),
        "the canary is in play"
    );
    shown.push(format!("{config:?} {config:#?}"));
    shown.push(format!("{:?}", config.expose_secrets()));
    shown.push(serde_json::to_string(&config).unwrap());
    shown.push(serde_json::to_string_pretty(&config).unwrap());
    let provider = mdmkit::build_provider(config.clone(), &options).unwrap();
    provider.validate().await.unwrap();
    shown.push(format!("{provider:?} {provider:#?}"));

    let ws = workspace("ok").await;
    let report = sync.connect(&ws, config.clone()).await.unwrap();
    assert!(
        matches!(report.refresh, Some(Ok(_))),
        "{kind:?}: {report:?}"
    );
    shown.push(format!("{report:?} {report:#?}"));
    clock.advance(TimeDelta::hours(25));
    let refresh = sync.refresh_due(&ws).await.unwrap();
    assert_eq!(refresh.errors, 0, "{kind:?}: {refresh:?}");
    shown.push(format!("{refresh:?}"));
    clock.advance(TimeDelta::minutes(20));
    let groups = sync.sync_groups_now(&ws).await.unwrap();
    shown.push(format!("{groups:?}"));
    shown.push(format!("{:?}", sync.devices(&ws).await.unwrap()));
    shown.push(format!("{:?}", sync.groups(&ws).await.unwrap()));
    shown.push(format!("{:?}", sync.connection_info(&ws).await.unwrap()));
    shown.push(format!(
        "{:?}",
        stores.credentials.load_credentials(&ws).await.unwrap()
    ));
    shown.push(format!("{sync:?} {sync:#?} {stores:?}"));

    // Faults on a connected workspace: refresh and group sync fail, token requests included (expired
    // tokens make Jamf and Entra ask again, into the fault).
    for (what, faults) in failing_mdm() {
        sandbox.set_faults(kind, faults);
        sandbox.expire_tokens(kind);
        clock.advance(TimeDelta::hours(25));
        match sync.refresh_due(&ws).await {
            Ok(report) => {
                assert!(report.errors > 0, "{kind:?} {what}: {report:?}");
                shown.push(format!("{report:?}"));
                if let Some(e) = &report.last_error {
                    shown.push(format!("{e:?}"));
                }
            }
            Err(e) => shown.push(error_text(&e)),
        }
        clock.advance(TimeDelta::minutes(20));
        let err = sync.sync_groups_now(&ws).await.unwrap_err();
        shown.push(error_text(&err));
        // Connecting through the fault: the test call fails, nothing is saved.
        let err = sync
            .connect(&workspace("fault").await, config.clone())
            .await
            .unwrap_err();
        assert!(err.category().is_some(), "{kind:?} {what}: {err:?}");
        shown.push(error_text(&err));
        let err = provider.validate().await.unwrap_err();
        shown.push(error_text(&err));
        sandbox.set_faults(kind, Faults::default());
    }

    // Credentials the MDM refuses: a wrong secret (the token endpoint's error for Jamf and Entra), a
    // secret without device access (403), and an API that is not where the configuration says (404).
    // (Jamf's token endpoint answers an unknown path with 401, as the sandbox does.)
    let not_found = match kind {
        ProviderKind::Jamf => Category::Unauthorized,
        _ => Category::NotFound,
    };
    let refused = [
        (
            sandbox.config(kind, Access::WrongSecret),
            Category::Unauthorized,
        ),
        (
            sandbox.config(kind, Access::NoDeviceRead),
            Category::Forbidden,
        ),
        (moved(config.clone()), not_found),
    ];
    for (bad, category) in refused {
        assert!(secret_of(&bad).ends_with(CANARY));
        shown.push(format!("{bad:?} {}", serde_json::to_string(&bad).unwrap()));
        let err = sync
            .connect(&workspace("bad").await, bad)
            .await
            .unwrap_err();
        assert_eq!(err.category(), Some(category), "{kind:?}: {err:?}");
        shown.push(error_text(&err));
    }

    // A configuration that fails its own checks.
    let ftp = Url::parse("ftp://mdm.example/").unwrap();
    let mut invalid = config.clone();
    match &mut invalid {
        ProviderConfig::Jamf(c) => c.client_id = String::new(),
        ProviderConfig::Iru(c) => c.custom_endpoint = false,
        ProviderConfig::SimpleMdm(c) => c.base_url = Some(ftp),
        ProviderConfig::Fleet(c) => c.base_url = ftp,
        ProviderConfig::JumpCloud(c) => c.base_url = Some(ftp),
        ProviderConfig::Intune(c) => c.login_url = Some(ftp),
        _ => unreachable!("six providers"),
    }
    let err = sync
        .connect(&workspace("invalid").await, invalid)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::InvalidConfiguration), "{err:?}");
    shown.push(error_text(&err));
    let redacted = serde_json::to_string(&config).unwrap();
    let err = serde_json::from_str::<ProviderConfig>(&redacted).unwrap_err();
    shown.push(format!("{err} {err:?}"));

    let logged = logs();
    assert!(
        logged.contains("MDM credentials saved") && logged.contains("TRACE"),
        "the subscriber records the engine's and its dependencies' logs"
    );
    for text in shown.iter().chain([&logged]) {
        for needle in [CANARY, "sbx-jamf-", "sbx-intune-"] {
            let lines: Vec<&str> = text.lines().filter(|l| l.contains(needle)).collect();
            assert!(lines.is_empty(), "{kind:?}: {needle} shows in {lines:#?}");
        }
    }
    // The canary is really the secret in use: the vault sealed it, and only `expose_secrets` writes it.
    let sealed = stores
        .credentials
        .load_credentials(&ws)
        .await
        .unwrap()
        .unwrap();
    let opened = Vault::new("k1", &VAULT_KEY)
        .unwrap()
        .open_config(&ws, &sealed)
        .unwrap();
    assert!(serde_json::to_string(&opened.expose_secrets())
        .unwrap()
        .contains(CANARY));
}

mdmkit_testkit::per_provider_tests!(canary_never_shows);
