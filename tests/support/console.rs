//! Starts the console example in-process, on a temporary SQLite file, against an in-process sandbox.
//! Included by the console's test files next to the example's own modules (`crate::app`).

use std::sync::Arc;
use std::time::Duration;

use mdmkit::sync::{SchedulerConfig, Stores, SystemClock, Vault};
use mdmkit::ProviderKind;
use mdmkit_sandbox::{Access, Sandbox, SandboxConfig};
use mdmkit_sqlx::testing::TempSqlite;

use crate::app;

const KEY: &str = "console-test:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// A running console with its sandbox.
pub(crate) struct Harness {
    pub(crate) sandbox: Sandbox,
    pub(crate) running: app::Running,
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub(crate) base: String,
    _db: TempSqlite,
}

/// A scheduler that ticks once at start and then only every `tick` (no jitter), so a test decides
/// whether the scheduler can interleave with what it clicks.
pub(crate) fn scheduler(tick: Duration) -> SchedulerConfig {
    let mut config = SchedulerConfig::default();
    config.tick_every = tick;
    config.jitter = Duration::ZERO;
    config.refresh_every = tick;
    config
}

impl Harness {
    pub(crate) async fn start(scheduler: SchedulerConfig) -> Harness {
        let sandbox = Sandbox::start(SandboxConfig {
            devices: 10,
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let db = TempSqlite::new().unwrap();
        let stores = Stores::from_one(Arc::new(db.open().await));
        let running = app::start(app::Setup {
            listen: "127.0.0.1:0".parse().unwrap(),
            stores,
            vault: Vault::from_key_list(KEY).unwrap(),
            clock: Arc::new(SystemClock),
            sandbox: Some(app::SandboxEndpoints::of(&sandbox)),
            scheduler,
        })
        .await
        .unwrap();
        assert!(running.console.seed_inventory(&sandbox).await.unwrap());
        let base = format!("http://{}", running.addr);
        Harness {
            sandbox,
            running,
            base,
            _db: db,
        }
    }

    /// A credential of the sandbox's `kind` with the given access, as a person would type it.
    pub(crate) fn credential(&self, kind: ProviderKind, access: Access, key: &str) -> String {
        if key == "host" {
            return self.sandbox.url(kind).to_string();
        }
        let config = self.sandbox.config(kind, access);
        serde_json::to_value(config.expose_secrets()).unwrap()[key]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub(crate) async fn stop(self) {
        self.running.shutdown().await;
        self.sandbox.shutdown().await;
    }
}
