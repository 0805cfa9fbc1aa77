//! A web console that embeds mdmkit in an axum backend: MDM settings, devices and groups pages,
//! server-rendered, with the scheduler running inside the server.
//!
//! ```text
//! cargo run --example console                      # http://127.0.0.1:8080/, SQLite, sandbox MDM
//! cargo run --example console -- --listen 0.0.0.0:9000 --database-url postgres://postgres@127.0.0.1/test
//! ```
//!
//! - **Stores**: a SQLite file in the system's temporary directory by default; `--database-url URL` (or
//!   `DATABASE_URL`) for PostgreSQL.
//! - **Vault**: the key that encrypts saved credentials comes from `MDMKIT_KEYS` (`id:base64key`), else
//!   from `vault.key` beside the SQLite file, created on the first run (a real deployment keeps it in its
//!   secret store, never beside the data).
//! - **MDM**: a sandbox MDM (all six APIs over one seeded fleet) starts in-process, so the console works
//!   offline; its demo credentials are printed at start. A real MDM is reached by typing its host and
//!   credentials; the client refuses private addresses and plain HTTP for everything but the sandbox.
//!   `--no-sandbox` leaves it out.
//! - **One workspace** (`console`); a multi-tenant backend takes it from the signed-in user.
//!
//! The pieces, in `app.rs`: stores → vault → `MdmSync` with the provider factory → `Scheduler::run` in a
//! task → axum handlers calling `MdmSync`, each behind the CSRF check (`require_csrf`). Pages are in
//! `pages.rs` (maud), sessions and their CSRF tokens in `session.rs`.

mod app;
mod pages;
mod session;

use std::error::Error;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use mdmkit::sync::{SchedulerConfig, SystemClock, Vault};
use mdmkit::ProviderKind;
use mdmkit_sandbox::{Sandbox, SandboxConfig};

type Result<T, E = Box<dyn Error + Send + Sync>> = std::result::Result<T, E>;

#[tokio::main]
async fn main() -> Result<()> {
    let options =
        match app::parse_args(std::env::args().skip(1), std::env::var("DATABASE_URL").ok())? {
            app::Command::Run(options) => options,
            app::Command::Help => {
                println!("{}", app::USAGE);
                return Ok(());
            }
        };
    let data_dir = std::env::temp_dir().join("mdmkit-console");
    std::fs::create_dir_all(&data_dir)?;
    let url = options
        .database_url
        .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("mdmkit.db").display()));
    let stores = mdmkit_sqlx::open(&url).await?;
    let vault = vault(&data_dir.join("vault.key"))?;

    let sandbox = match options.sandbox_port {
        Some(port) => Some(
            Sandbox::start(SandboxConfig {
                devices: 12,
                base_port: Some(port),
                ..SandboxConfig::default()
            })
            .await?,
        ),
        None => None,
    };
    let running = app::start(app::Setup {
        listen: options.listen,
        stores,
        vault,
        clock: Arc::new(SystemClock),
        sandbox: sandbox.as_ref().map(app::SandboxEndpoints::of),
        scheduler: SchedulerConfig::default(),
    })
    .await?;
    if let Some(sandbox) = &sandbox {
        running.console.seed_inventory(sandbox).await?;
        print_sandbox(sandbox);
    }
    println!("{}", app::startup_line(running.addr));
    std::io::stdout().flush()?;
    tokio::signal::ctrl_c().await?;
    running.shutdown().await;
    Ok(())
}

/// The sandbox's addresses and demo credentials (they open nothing but the sandbox, so the sandbox hands
/// them out in clear; the console itself never exposes a configuration's secrets).
fn print_sandbox(sandbox: &Sandbox) {
    println!("sandbox MDM (demo credentials; host-less providers: tick \"Use the sandbox MDM\"):");
    for kind in ProviderKind::ALL {
        let fields: Vec<String> = sandbox
            .credentials(kind)
            .iter()
            .map(|c| format!("{}={}", c.field.label, c.value))
            .collect();
        println!("  {:<24} {}", kind.display_name(), fields.join("  "));
    }
}

/// The vault from `MDMKIT_KEYS`, else from `key_file`, created with a new key on the first run.
fn vault(key_file: &Path) -> Result<Vault> {
    if std::env::var_os("MDMKIT_KEYS").is_some() {
        return Ok(Vault::from_env("MDMKIT_KEYS")?);
    }
    if !key_file.exists() {
        let line = format!("{}\n", &*Vault::generate_key_entry("console")?);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(key_file)?.write_all(line.as_bytes())?;
    }
    Ok(Vault::from_key_list(&std::fs::read_to_string(key_file)?)?)
}
