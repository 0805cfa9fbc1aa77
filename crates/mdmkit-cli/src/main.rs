//! `mdmkit`: validate MDM credentials, look up and list devices and groups, run the sandbox MDM, and make
//! vault keys (`mdmkit keygen [ID]` prints a ready `MDMKIT_KEYS` entry).
//!
//! Secrets given as flags or environment variables are held as `SecretString`s from the moment they are
//! parsed, so no `Debug` of the parsed command line shows them.
//!
//! Exit codes: 0 success; 2 an MDM error (the first line on stderr is `error: <Category>: <meaning>`, the
//! user-facing category of a failed connection test, then the provider's own detail); 3 `lookup` found no device; 64 a usage error.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use futures::StreamExt;
use mdmkit::http::{ClientOptions, HostPolicy};
use mdmkit::paging::DEFAULT_MAX_PAGES;
use mdmkit::{
    device_page_stream_in_task, parse_base_url, Error, ExposeSecret, FleetConfig, IntuneCloud,
    IntuneConfig, IruConfig, JamfConfig, JumpCloudConfig, JumpCloudRegion, MdmDevice, MdmProvider,
    MdmProviderExt, ProviderConfig, ProviderKind, Resolution, SecretString, SerialNumber,
    SimpleMdmConfig, Unresolved,
};
use mdmkit_sync::Vault;

#[cfg(feature = "sandbox")]
mod sandbox;

const EXIT_MDM_ERROR: u8 = 2;
const EXIT_NOT_FOUND: u8 = 3;
const EXIT_USAGE: u8 = 64;

#[derive(Parser, Debug)]
#[command(
    name = "mdmkit",
    version,
    about = "Talk to Jamf, Iru (Kandji), SimpleMDM, Fleet, JumpCloud and Microsoft Intune",
    after_help = "Secrets can be given as flags, but prefer the environment variables \
                  (MDMKIT_CLIENT_SECRET, MDMKIT_API_TOKEN): flags end up in shell history and process lists."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the provider's connection test call; prints "OK: <provider>".
    Validate(Connection),
    /// Print the device with this serial number; exit 3 if the MDM has none.
    Lookup {
        /// The serial number.
        serial: String,
        #[command(flatten)]
        connection: Connection,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// List every device, streaming: rows are printed page by page as they arrive, the fleet is never
    /// held in memory.
    ///
    /// MDM DISPLAY NAME (`display_name` in JSON) is the assigned user's name, else the device's name.
    /// Fleet: where the token may not read Fleet's SCIM users (an observer role; Fleet Free; servers
    /// before 4.67), a listing cannot know users' names without reading every host, which this command
    /// does not do; it shows the user's IdP username (`user_id`) instead. `lookup` always shows the name.
    Devices {
        #[command(flatten)]
        connection: Connection,
        /// JSON Lines: one JSON object per device and line, written as each page arrives (`jq -s .`
        /// makes an array of it).
        #[arg(long)]
        json: bool,
    },
    /// List every group with its members.
    Groups {
        #[command(flatten)]
        connection: Connection,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Print a new vault key as a ready `MDMKIT_KEYS` entry, `ID:base64key`, for mdmkit-sync's vault.
    ///
    /// For a first key, the entry is the whole value; to rotate, append it after a comma (the last entry
    /// seals new credentials), reseal every workspace, then drop the old entry.
    Keygen {
        /// The key id: 1 to 64 characters of A-Z, a-z, 0-9, '-', '_' or '.'. Default: today's date (UTC),
        /// e.g. 2026-05-01.
        id: Option<String>,
    },
    /// Run the local sandbox MDM; prints "<provider> <url>" for each provider.
    #[cfg(feature = "sandbox")]
    Sandbox {
        /// First port (providers take consecutive ports); any free port if omitted.
        #[arg(long)]
        port: Option<u16>,
        /// Devices in the seeded fleet.
        #[arg(long, default_value_t = 50)]
        devices: usize,
        /// Serve HTTPS with a generated CA (its certificate is written to a file named on stderr).
        #[arg(long)]
        tls: bool,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Provider {
    Jamf,
    Iru,
    Simplemdm,
    Fleet,
    Jumpcloud,
    Intune,
}

impl Provider {
    fn kind(self) -> ProviderKind {
        match self {
            Provider::Jamf => ProviderKind::Jamf,
            Provider::Iru => ProviderKind::Iru,
            Provider::Simplemdm => ProviderKind::SimpleMdm,
            Provider::Fleet => ProviderKind::Fleet,
            Provider::Jumpcloud => ProviderKind::JumpCloud,
            Provider::Intune => ProviderKind::Intune,
        }
    }
}

#[derive(Args, Debug)]
struct Connection {
    /// The MDM provider.
    #[arg(long, value_enum)]
    provider: Provider,
    /// API base (scheme://host[:port]); for simplemdm, jumpcloud and intune it overrides the fixed endpoint
    /// (intune: the Graph root).
    #[arg(long, env = "MDMKIT_HOST")]
    host: Option<String>,
    /// intune only: overrides the Entra login host.
    #[arg(long)]
    login_host: Option<String>,
    /// jumpcloud: us|eu|in; intune: global|usgov|dod|china.
    #[arg(long)]
    region: Option<String>,
    /// jamf, intune.
    #[arg(long, env = "MDMKIT_CLIENT_ID")]
    client_id: Option<String>,
    /// jamf, intune (prefer the environment variable).
    #[arg(long, env = "MDMKIT_CLIENT_SECRET", hide_env_values = true, value_parser = secret)]
    client_secret: Option<SecretString>,
    /// iru, fleet, jumpcloud, and simplemdm's API Secret Access Key (prefer the environment variable).
    #[arg(long, env = "MDMKIT_API_TOKEN", hide_env_values = true, value_parser = secret)]
    api_token: Option<SecretString>,
    /// intune.
    #[arg(long, env = "MDMKIT_TENANT_ID")]
    tenant_id: Option<String>,
    /// jumpcloud, optional: the organisation for multi-tenant administrators.
    #[arg(long, env = "MDMKIT_ORG_ID")]
    org_id: Option<String>,
    /// simplemdm, optional: the name of the device custom attribute that holds the assigned user
    /// (SimpleMDM has no user field of its own); without it a device's display name is its own name.
    /// Ignored by the other providers, so the variable can stay set in a shared environment.
    #[arg(long, env = "MDMKIT_USER_ATTRIBUTE")]
    user_attribute: Option<String>,
    /// Extra trusted root certificate, PEM.
    #[arg(long, env = "MDMKIT_CA_CERT")]
    ca_cert: Option<std::path::PathBuf>,
}

/// Why the command failed, and so how it exits.
enum Failure {
    Usage(String),
    Mdm(Error),
    NotFound(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Mdm(e)
    }
}

/// Parses a secret flag straight into a `SecretString`.
fn secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value))
}

fn need(
    value: Option<&str>,
    flag: &str,
    env: &str,
    provider: ProviderKind,
) -> Result<String, Failure> {
    match value.map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v.to_owned()),
        _ => Err(Failure::Usage(format!(
            "{} needs {flag} (or {env})",
            provider.display_name()
        ))),
    }
}

fn is_loopback_host(host: &str) -> bool {
    parse_base_url(host, &[]).is_ok_and(|url| match url.host() {
        Some(mdmkit::url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(mdmkit::url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(mdmkit::url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    })
}

impl Connection {
    fn config(&self) -> Result<ProviderConfig, Failure> {
        let kind = self.provider.kind();
        let host = || need(self.host.as_deref(), "--host", "MDMKIT_HOST", kind);
        let token = || {
            need(
                self.api_token.as_ref().map(ExposeSecret::expose_secret),
                "--api-token",
                "MDMKIT_API_TOKEN",
                kind,
            )
        };
        let client_id = || {
            need(
                self.client_id.as_deref(),
                "--client-id",
                "MDMKIT_CLIENT_ID",
                kind,
            )
        };
        let secret = || {
            need(
                self.client_secret.as_ref().map(ExposeSecret::expose_secret),
                "--client-secret",
                "MDMKIT_CLIENT_SECRET",
                kind,
            )
        };
        let override_url = |value: &Option<String>| -> Result<Option<mdmkit::Url>, Failure> {
            value
                .as_deref()
                .map(|h| parse_base_url(h, &[]).map_err(Failure::Mdm))
                .transpose()
        };
        if self.login_host.is_some() && kind != ProviderKind::Intune {
            return Err(Failure::Usage("--login-host is for intune only".into()));
        }
        if self.region.is_some() && !matches!(kind, ProviderKind::JumpCloud | ProviderKind::Intune)
        {
            return Err(Failure::Usage(
                "--region is for jumpcloud and intune only".into(),
            ));
        }
        Ok(match kind {
            ProviderKind::Jamf => {
                ProviderConfig::Jamf(JamfConfig::new(&host()?, &client_id()?, secret()?)?)
            }
            ProviderKind::Iru => {
                let host = host()?;
                match IruConfig::new(&host, token()?) {
                    Ok(c) => ProviderConfig::Iru(c),
                    // The CLI serves operators: a loopback sandbox stands in for a tenant host.
                    Err(_) if is_loopback_host(&host) => {
                        ProviderConfig::Iru(IruConfig::with_base_url(&host, token()?)?)
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            ProviderKind::SimpleMdm => {
                let mut c = SimpleMdmConfig::new(token()?)?;
                c.base_url = override_url(&self.host)?;
                c.user_attribute = self
                    .user_attribute
                    .as_deref()
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned);
                ProviderConfig::SimpleMdm(c)
            }
            ProviderKind::Fleet => ProviderConfig::Fleet(FleetConfig::new(&host()?, token()?)?),
            ProviderKind::JumpCloud => {
                let mut c = JumpCloudConfig::new(token()?)?;
                if let Some(region) = &self.region {
                    c.region = region.parse::<JumpCloudRegion>().map_err(Failure::Usage)?;
                }
                c.org_id = self.org_id.clone().filter(|o| !o.trim().is_empty());
                c.base_url = override_url(&self.host)?;
                ProviderConfig::JumpCloud(c)
            }
            ProviderKind::Intune => {
                let tenant = need(
                    self.tenant_id.as_deref(),
                    "--tenant-id",
                    "MDMKIT_TENANT_ID",
                    kind,
                )?;
                let mut c = IntuneConfig::new(&tenant, &client_id()?, secret()?)?;
                if let Some(region) = &self.region {
                    c.cloud = region.parse::<IntuneCloud>().map_err(Failure::Usage)?;
                }
                c.graph_url = override_url(&self.host)?;
                c.login_url = override_url(&self.login_host)?;
                ProviderConfig::Intune(c)
            }
            _ => {
                return Err(Failure::Usage(format!(
                    "{} is not supported",
                    kind.display_name()
                )))
            }
        })
    }

    fn provider(&self) -> Result<Arc<dyn MdmProvider>, Failure> {
        let config = self.config()?;
        let extra_root_ca_pem = match &self.ca_cert {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                Failure::Usage(format!("cannot read --ca-cert {}: {e}", path.display()))
            })?),
            None => None,
        };
        let options = ClientOptions {
            extra_root_ca_pem,
            // An operator's own tool: loopback sandboxes and plain http are theirs to use.
            host_policy: HostPolicy::allow_all(),
            ..ClientOptions::default()
        };
        Ok(mdmkit::build_provider(config, &options)?)
    }
}

/// The display name shown: R4's, except that a listed user whose name the listing could not read
/// (Fleet without SCIM access) is shown by their username rather than by the device's name.
fn shown_name(d: &MdmDevice) -> Option<&str> {
    match d.unresolved {
        Some(Unresolved::UserName) => d.user_id.as_deref().or(d.display_name.as_deref()),
        _ => d.display_name.as_deref(),
    }
}

fn device_json(provider: &dyn MdmProvider, d: &MdmDevice) -> serde_json::Value {
    serde_json::json!({
        "serial_number": d.serial_number.as_ref().map(SerialNumber::as_str),
        "device_id": d.device_id,
        "user_id": d.user_id,
        "display_name": shown_name(d),
        "url": provider.device_url(&d.device_id).map(|u| u.to_string()),
    })
}

fn print_device_text(
    out: &mut impl Write,
    provider: &dyn MdmProvider,
    d: &MdmDevice,
) -> std::io::Result<()> {
    writeln!(
        out,
        "Serial number:    {}",
        d.serial_number
            .as_ref()
            .map(SerialNumber::as_str)
            .unwrap_or("-")
    )?;
    writeln!(out, "MDM device ID:    {}", d.device_id)?;
    writeln!(
        out,
        "MDM user ID:      {}",
        d.user_id.as_deref().unwrap_or("- (unassigned)")
    )?;
    writeln!(
        out,
        "MDM display name: {}",
        d.display_name.as_deref().unwrap_or("-")
    )?;
    if let Some(link) = provider.device_link(&d.device_id) {
        writeln!(out, "{}: {}", link.label, link.url)?;
    }
    Ok(())
}

async fn run(command: Command) -> Result<(), Failure> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let io = |e: std::io::Error| Failure::Usage(format!("cannot write output: {e}"));
    match command {
        Command::Validate(connection) => {
            let provider = connection.provider()?;
            provider.validate().await?;
            writeln!(out, "OK: {}", provider.kind().display_name()).map_err(io)?;
        }
        Command::Lookup {
            serial,
            connection,
            json,
        } => {
            let provider = connection.provider()?;
            let serial =
                SerialNumber::parse(&serial).map_err(|e| Failure::Usage(e.message().to_owned()))?;
            match provider.device_by_serial(&serial).await? {
                Some(device) if json => {
                    writeln!(out, "{}", device_json(provider.as_ref(), &device)).map_err(io)?
                }
                Some(device) => {
                    print_device_text(&mut out, provider.as_ref(), &device).map_err(io)?
                }
                None => {
                    return Err(Failure::NotFound(format!(
                        "{} has no device with serial number {serial}",
                        provider.kind().display_name()
                    )))
                }
            }
        }
        Command::Devices { connection, json } => {
            let provider = connection.provider()?;
            let progress = std::io::stderr().is_terminal().then(|| {
                let bar = indicatif::ProgressBar::new_spinner();
                bar.set_message(format!(
                    "listing {} devices",
                    provider.kind().display_name()
                ));
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            });
            // Pages are read by a task of their own: while a slow reader of stdout (a pager) holds this
            // one, the pages read ahead still arrive instead of waiting until their requests time out.
            let mut pages =
                device_page_stream_in_task(provider.clone(), DEFAULT_MAX_PAGES, Resolution::Inline);
            let mut count = 0u64;
            if !json {
                writeln!(
                    out,
                    "{:<16} {:<38} {:<32} LINK",
                    "SERIAL", "MDM DEVICE ID", "MDM DISPLAY NAME"
                )
                .map_err(io)?;
            }
            while let Some(page) = pages.next().await {
                for device in page?.items {
                    count += 1;
                    if let Some(bar) = &progress {
                        bar.set_position(count);
                    }
                    if json {
                        writeln!(out, "{}", device_json(provider.as_ref(), &device)).map_err(io)?;
                    } else {
                        writeln!(
                            out,
                            "{:<16} {:<38} {:<32} {}",
                            device
                                .serial_number
                                .as_ref()
                                .map(SerialNumber::as_str)
                                .unwrap_or("-"),
                            device.device_id,
                            shown_name(&device).unwrap_or("-"),
                            provider
                                .device_url(&device.device_id)
                                .map(|u| u.to_string())
                                .unwrap_or_default()
                        )
                        .map_err(io)?;
                    }
                }
            }
            if let Some(bar) = progress {
                bar.finish_and_clear();
            }
        }
        Command::Groups { connection, json } => {
            let provider = connection.provider()?;
            for group in provider.groups().await? {
                if json {
                    let line = serde_json::json!({"id": group.id, "name": group.name, "members": group.members_for_display()});
                    writeln!(out, "{line}").map_err(io)?;
                } else {
                    writeln!(
                        out,
                        "{} (id {}, {} members)",
                        group.name,
                        group.id,
                        group.member_device_ids.len()
                    )
                    .map_err(io)?;
                    if !group.member_device_ids.is_empty() {
                        writeln!(out, "  {}", group.members_for_display().join(", "))
                            .map_err(io)?;
                    }
                }
            }
        }
        Command::Keygen { id } => {
            let id = id.unwrap_or_else(|| chrono::Utc::now().format("%Y-%m-%d").to_string());
            let entry =
                Vault::generate_key_entry(&id).map_err(|e| Failure::Usage(e.to_string()))?;
            writeln!(out, "{}", *entry).map_err(io)?;
            out.flush().map_err(io)?;
            eprintln!(
                "a new vault key {id:?}: for a first key set MDMKIT_KEYS to the line above; to rotate, \
                 append it after a comma (the last entry seals), reseal, then drop the old entry. \
                 Keep it as secret as the credentials it protects."
            );
        }
        #[cfg(feature = "sandbox")]
        Command::Sandbox { port, devices, tls } => {
            drop(out);
            sandbox::run(port, devices, tls).await?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            eprintln!("Run `mdmkit --help` for usage.");
            ExitCode::from(EXIT_USAGE)
        }
        Err(Failure::NotFound(message)) => {
            eprintln!("{message}");
            ExitCode::from(EXIT_NOT_FOUND)
        }
        Err(Failure::Mdm(e)) => {
            eprintln!("error: {}", e.category());
            eprintln!("{e}");
            ExitCode::from(EXIT_MDM_ERROR)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "CANARY-cli-7f3a9c";

    #[test]
    fn the_parsed_command_line_never_shows_a_secret() {
        for secret_flag in ["--client-secret", "--api-token"] {
            let cli = Cli::try_parse_from([
                "mdmkit",
                "validate",
                "--provider",
                "jamf",
                "--host",
                "acme.jamfcloud.com",
                "--client-id",
                "id",
                secret_flag,
                CANARY,
            ])
            .unwrap();
            let shown = format!("{cli:?} {cli:#?}");
            assert!(!shown.contains(CANARY), "{shown}");
            let Command::Validate(connection) = cli.command else {
                panic!("not validate")
            };
            // The value is still there for the configuration to use.
            let held = connection.client_secret.or(connection.api_token).unwrap();
            assert_eq!(held.expose_secret(), CANARY);
        }
    }
}
