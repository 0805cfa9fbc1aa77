//! `mdmkit sandbox`: the local MDM, behind the `sandbox` feature (on by default) so an operator's build can
//! leave its web server out.

use std::io::Write;

use mdmkit::{ExposeSecret, ProviderConfig, ProviderKind};
use mdmkit_sandbox::{Access, Sandbox, SandboxConfig};

use crate::Failure;

/// Starts the sandbox, prints "<provider> <url>" for each provider on stdout and how to reach each one on
/// stderr, then serves until Ctrl-C.
pub(crate) async fn run(port: Option<u16>, devices: usize, tls: bool) -> Result<(), Failure> {
    let io = |e: std::io::Error| Failure::Usage(format!("cannot write output: {e}"));
    let config = SandboxConfig {
        devices,
        tls,
        base_port: port,
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config)
        .await
        .map_err(|e| Failure::Usage(format!("cannot start the sandbox: {e}")))?;
    {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        for (kind, url) in sandbox.urls() {
            writeln!(out, "{} {url}", kind.id()).map_err(io)?;
        }
        out.flush().map_err(io)?;
    }
    if let Some(pem) = sandbox.ca_pem() {
        let path =
            std::env::temp_dir().join(format!("mdmkit-sandbox-ca-{}.pem", std::process::id()));
        std::fs::write(&path, pem)
            .map_err(|e| Failure::Usage(format!("cannot write the CA: {e}")))?;
        eprintln!(
            "CA certificate: {} (pass it with --ca-cert)",
            path.display()
        );
    }
    eprintln!("sandbox credentials (not secrets: they only open this sandbox):");
    for kind in ProviderKind::ALL {
        eprintln!("  {}", hint(&sandbox, kind));
    }
    eprintln!("press Ctrl-C to stop");
    let _ = tokio::signal::ctrl_c().await;
    Ok(())
}

/// The CLI flags that reach a provider of the running sandbox.
fn hint(sandbox: &Sandbox, kind: ProviderKind) -> String {
    let url = sandbox.url(kind);
    let flags = match sandbox.config(kind, Access::Full) {
        ProviderConfig::Jamf(c) => format!(
            "--client-id {} --client-secret {}",
            c.client_id,
            c.client_secret.expose_secret()
        ),
        ProviderConfig::Iru(c) => format!("--api-token {}", c.api_token.expose_secret()),
        ProviderConfig::SimpleMdm(c) => {
            let mut flags = format!("--api-token {}", c.api_key.expose_secret());
            if let Some(attribute) = &c.user_attribute {
                flags.push_str(&format!(" --user-attribute {attribute}"));
            }
            flags
        }
        ProviderConfig::Fleet(c) => format!("--api-token {}", c.api_token.expose_secret()),
        ProviderConfig::JumpCloud(c) => format!("--api-token {}", c.api_token.expose_secret()),
        ProviderConfig::Intune(c) => format!(
            "--tenant-id {} --client-id {} --client-secret {} --login-host {url}",
            c.tenant_id,
            c.client_id,
            c.client_secret.expose_secret()
        ),
        _ => String::new(),
    };
    format!(
        "mdmkit validate --provider {} --host {url} {flags}",
        kind.id()
    )
}
