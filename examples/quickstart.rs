//! The mdmkit quickstart: six MDM providers, offline, with storage that persists.
//!
//! Starts the sandbox MDM in-process (it speaks the Jamf, Iru, SimpleMDM, Fleet, JumpCloud and Microsoft
//! Graph APIs over one seeded fleet, on fixed ports, so it is the same MDM every run), opens the store (a
//! SQLite file by default; `--database-url URL` or `DATABASE_URL` for PostgreSQL), then for each provider:
//! 1. if the workspace is already connected (a previous run saved it), says so and asks the MDM nothing;
//! 2. otherwise tries wrong credentials (and shows the error category a person would see), then connects
//!    with the right ones: validated, encrypted, saved, device metadata fetched, groups synced;
//! 3. prints each device's serial number, MDM display name and "View on …" link, and the synced groups.
//!
//! Then one scheduler tick runs whatever is due (nothing, while devices are fresh and groups were synced in
//! the last 6 hours), a search by display name, and the line `MDM requests: N`: a second run against the
//! same database makes none.
//!
//! ```text
//! cargo run --example quickstart
//! cargo run --example quickstart -- --database-url postgres://postgres@127.0.0.1/test
//! ```
//!
//! The vault key that encrypts the saved credentials is read from `MDMKIT_KEYS` (`id:base64key`, see
//! `Vault::from_key_list`) or kept in `vault.key` beside the SQLite file (for PostgreSQL, in the system's
//! temporary directory): a real deployment keeps it in its secret store, never beside the data.

use std::error::Error;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use mdmkit::sync::{
    GroupSyncOutcome, MdmSync, Plan, Scheduler, SchedulerConfig, Stores, SystemClock, Vault,
    WorkspaceId,
};
use mdmkit::{ProviderKind, SerialNumber};
use mdmkit_sandbox::{Access, Sandbox, SandboxConfig};

const DEVICES: usize = 8;
/// The sandbox's first port (providers take six in a row): fixed, so saved connections still point at it.
const SANDBOX_PORT: u16 = 47_310;
/// The sandbox fleet's seed: the same devices, users and groups every run.
const SEED: u64 = 1;

type Result<T, E = Box<dyn Error + Send + Sync>> = std::result::Result<T, E>;

/// What the quickstart runs against.
pub(crate) struct Setup {
    /// The stores, opened and migrated.
    pub(crate) stores: Stores,
    /// The vault whose key sealed any credentials already saved.
    pub(crate) vault: Vault,
    /// Where the data lives, as shown to the person.
    pub(crate) database: String,
    /// The sandbox's first port.
    pub(crate) sandbox_port: u16,
}

/// What the command line asked for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Args {
    /// Run against `database_url` (PostgreSQL), or the SQLite file when `None`.
    Run {
        database_url: Option<String>,
        sandbox_port: u16,
    },
    /// Print the usage line.
    Help,
}

/// Reads the arguments; `--database-url` wins over `env_database_url` (`DATABASE_URL`).
pub(crate) fn parse_args(
    args: impl IntoIterator<Item = String>,
    env_database_url: Option<String>,
) -> Result<Args> {
    let mut args = args.into_iter();
    let mut database_url = env_database_url;
    let mut sandbox_port = SANDBOX_PORT;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--database-url" => database_url = Some(args.next().ok_or("--database-url URL")?),
            "--sandbox-port" => sandbox_port = args.next().ok_or("--sandbox-port N")?.parse()?,
            "-h" | "--help" => return Ok(Args::Help),
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    Ok(Args::Run {
        database_url,
        sandbox_port,
    })
}

/// The URL to open and how to name it to the person: PostgreSQL at `database_url` (its host, port and
/// database only), else a SQLite file in `data_dir`.
pub(crate) fn database_target(database_url: Option<String>, data_dir: &Path) -> (String, String) {
    match database_url {
        Some(url) => {
            // Where the data lives, never who opens it: no user, password or query (which may carry
            // a password too).
            let shown = mdmkit::Url::parse(&url).map_or_else(
                |_| "the given URL".to_owned(),
                |u| {
                    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
                    format!("{}{port}{}", u.host_str().unwrap_or_default(), u.path())
                },
            );
            (url, format!("PostgreSQL at {shown} (schema mdmkit)"))
        }
        None => {
            let file = data_dir.join("mdmkit.db");
            (
                format!("sqlite://{}", file.display()),
                format!("SQLite file {}", file.display()),
            )
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let (database_url, sandbox_port) =
        match parse_args(std::env::args().skip(1), std::env::var("DATABASE_URL").ok())? {
            Args::Help => {
                println!("usage: quickstart [--database-url URL] [--sandbox-port N]");
                return Ok(());
            }
            Args::Run {
                database_url,
                sandbox_port,
            } => (database_url, sandbox_port),
        };
    let data_dir = std::env::temp_dir().join("mdmkit-quickstart");
    std::fs::create_dir_all(&data_dir)?;
    let (url, database) = database_target(database_url, &data_dir);
    let stores = mdmkit_sqlx::open(&url).await?;
    let vault = vault(&data_dir.join("vault.key"))?;
    let requests = run(
        Setup {
            stores,
            vault,
            database,
            sandbox_port,
        },
        &mut std::io::stdout(),
    )
    .await?;
    let _ = requests;
    Ok(())
}

/// The vault from `MDMKIT_KEYS`, else from `key_file`, created with a new key on the first run.
fn vault(key_file: &Path) -> Result<Vault> {
    if std::env::var_os("MDMKIT_KEYS").is_some() {
        return Ok(Vault::from_env("MDMKIT_KEYS")?);
    }
    if !key_file.exists() {
        let key = Vault::generate_key()?;
        let line = format!(
            "quickstart:{}\n",
            base64::engine::general_purpose::STANDARD.encode(&key[..])
        );
        write_private(key_file, line.as_bytes())?;
    }
    Ok(Vault::from_key_list(&std::fs::read_to_string(key_file)?)?)
}

/// Writes a file only its owner may read.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents)
}

/// The whole walk-through; returns the number of requests the MDM received.
pub(crate) async fn run(setup: Setup, out: &mut (dyn Write + Send)) -> Result<u64> {
    let sandbox = Sandbox::start(SandboxConfig {
        devices: DEVICES,
        seed: SEED,
        base_port: Some(setup.sandbox_port),
        ..SandboxConfig::default()
    })
    .await?;
    writeln!(out, "mdmkit quickstart")?;
    writeln!(out, "  data: {}", setup.database)?;
    writeln!(
        out,
        "  a sandbox MDM with {DEVICES} devices is listening on"
    )?;
    for (kind, url) in sandbox.urls() {
        writeln!(out, "    {:<24} {url}", kind.display_name())?;
    }

    // The real provider factory turns a saved configuration into a live provider. The sandbox runs on
    // loopback, which the default host policy refuses, so its client options allow it.
    let sync = Arc::new(MdmSync::new(
        mdmkit::provider_factory(sandbox.client_options()),
        setup.vault,
        setup.stores,
        Arc::new(SystemClock),
    ));

    // Every workspace owns the same laptops (by serial), plus one the MDM has never seen.
    let fleet = sandbox.fleet();
    let mut serials: Vec<SerialNumber> = fleet
        .devices
        .values()
        .map(|d| SerialNumber::parse(&d.serial))
        .collect::<Result<_, _>>()?;
    serials.push(SerialNumber::parse("NOTINTHEMDM1")?);

    for kind in ProviderKind::ALL {
        let workspace = WorkspaceId::new(format!("acme-{}", kind.id()));
        writeln!(out, "\n━━ {} ━━", kind.display_name())?;
        connect(&sync, &sandbox, &workspace, kind, &serials, out).await?;

        // What a person sees on the Devices page.
        writeln!(out, "  {:<14} {:<28} LINK", "SERIAL", "MDM DISPLAY NAME")?;
        for device in sync.devices(&workspace).await? {
            let display = device.display_name.as_deref().unwrap_or("—");
            let link = device
                .link
                .as_ref()
                .map(|l| format!("{}: {}", l.label, l.url))
                .unwrap_or_else(|| "not in the MDM".to_owned());
            writeln!(
                out,
                "  {:<14} {:<28} {}",
                device.serial_number.as_str(),
                display,
                link
            )?;
        }
        for group in sync.groups(&workspace).await? {
            writeln!(
                out,
                "    {:<22} {:>2} devices  {}",
                group.name,
                group.members.len(),
                group.managed_by().unwrap_or_default()
            )?;
        }
    }

    // What the scheduler of a running backend would do now: only what is due.
    let scheduler = Scheduler::new(sync.clone(), SchedulerConfig::default());
    let now = sync.clock().now();
    let tick = scheduler.tick(now).await?;
    writeln!(
        out,
        "\n━━ Scheduler: {} of {} workspaces had something due ━━",
        tick.runs.len(),
        tick.considered
    )?;

    // Search by MDM display name or serial (R6).
    let user = fleet
        .devices
        .values()
        .find_map(|d| fleet.user_of(d))
        .map(|u| u.full_name.split(' ').next().unwrap_or("a").to_owned())
        .unwrap_or_else(|| "Mac".to_owned());
    let workspace = WorkspaceId::new("acme-jamf");
    writeln!(out, "\n━━ Search \"{user}\" in the Jamf workspace ━━")?;
    for device in sync.search(&workspace, &user).await? {
        writeln!(
            out,
            "  {:<14} {}",
            device.serial_number.as_str(),
            device.display_name.as_deref().unwrap_or("—")
        )?;
    }

    let requests: u64 = ProviderKind::ALL
        .into_iter()
        .map(|k| sandbox.request_count(k))
        .sum();
    writeln!(out, "\nMDM requests: {requests}")?;
    sandbox.shutdown().await;
    Ok(requests)
}

/// Connects the workspace unless a previous run did.
async fn connect(
    sync: &MdmSync,
    sandbox: &Sandbox,
    workspace: &WorkspaceId,
    kind: ProviderKind,
    serials: &[SerialNumber],
    out: &mut (dyn Write + Send),
) -> Result<()> {
    if let Some(saved) = sync.connection_info(workspace).await? {
        writeln!(
            out,
            "  ✓ already connected to {} (saved {})",
            saved.provider.display_name(),
            saved.saved_at.format("%Y-%m-%d %H:%M UTC")
        )?;
        return Ok(());
    }
    sync.set_plan(workspace, Plan::Pro).await?;
    sync.stores()
        .devices
        .add_devices(workspace, serials)
        .await?;

    // Wrong credentials: the test call fails, nothing is saved, and the person sees a category.
    match sync
        .connect(workspace, sandbox.config(kind, Access::WrongSecret))
        .await
    {
        Ok(_) => writeln!(out, "  unexpected: wrong credentials were accepted")?,
        Err(e) => {
            let category = e.category().map(|c| c.to_string());
            writeln!(
                out,
                "  ✗ wrong credentials refused → {}",
                category.unwrap_or_else(|| e.to_string())
            )?;
        }
    }

    // The right credentials: validated, encrypted, saved; metadata fetched; groups synced.
    let report = sync
        .connect(workspace, sandbox.config(kind, Access::Full))
        .await?;
    write!(out, "  ✓ connected")?;
    if let Some(refresh) = report.refresh.report() {
        write!(
            out,
            ": {} of {} devices matched ({} not in the MDM) with {} request{}",
            refresh.matched,
            refresh.due,
            refresh.not_found,
            refresh.requests,
            if refresh.requests == 1 { "" } else { "s" }
        )?;
    }
    writeln!(out)?;
    if let GroupSyncOutcome::Completed(groups) = &report.group_sync {
        writeln!(
            out,
            "  groups: {} {} synced ({} created), {} members matched",
            groups.mdm_groups,
            kind.group_noun(),
            groups.created,
            groups.members_matched
        )?;
    }
    Ok(())
}
