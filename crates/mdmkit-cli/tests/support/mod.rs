//! Running the `mdmkit` binary and the connection flags for a sandbox configuration, shared by the CLI
//! test binaries.
#![allow(dead_code, unreachable_pub)]

use std::process::Command;

use mdmkit::{ExposeSecret, ProviderConfig};

pub const BIN: &str = env!("CARGO_BIN_EXE_mdmkit");

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the binary off the async runtime so the in-process sandbox keeps serving.
pub async fn mdmkit(args: Vec<String>) -> Output {
    mdmkit_with_env(args, Vec::new()).await
}

/// [`mdmkit`] with extra environment variables (none of the `MDMKIT_*` ones are inherited).
pub async fn mdmkit_with_env(args: Vec<String>, env: Vec<(&'static str, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(BIN)
            .args(&args)
            .env_remove("MDMKIT_HOST")
            .env_remove("MDMKIT_API_TOKEN")
            .env_remove("MDMKIT_CLIENT_ID")
            .env_remove("MDMKIT_CLIENT_SECRET")
            .env_remove("MDMKIT_TENANT_ID")
            .env_remove("MDMKIT_ORG_ID")
            .env_remove("MDMKIT_CA_CERT")
            .env_remove("MDMKIT_USER_ATTRIBUTE")
            .envs(env)
            .output()
            .expect("the binary runs");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

/// The connection flags for a sandbox configuration.
pub fn flags(config: &ProviderConfig, url: &str) -> Vec<String> {
    let kind = config.kind();
    let mut f = vec![
        "--provider".to_owned(),
        kind.id().to_owned(),
        "--host".to_owned(),
        url.to_owned(),
    ];
    let mut push = |k: &str, v: &str| {
        f.push(k.to_owned());
        f.push(v.to_owned());
    };
    match config {
        ProviderConfig::Jamf(c) => {
            push("--client-id", &c.client_id);
            push("--client-secret", c.client_secret.expose_secret());
        }
        ProviderConfig::Iru(c) => push("--api-token", c.api_token.expose_secret()),
        ProviderConfig::SimpleMdm(c) => {
            push("--api-token", c.api_key.expose_secret());
            if let Some(attribute) = &c.user_attribute {
                push("--user-attribute", attribute);
            }
        }
        ProviderConfig::Fleet(c) => push("--api-token", c.api_token.expose_secret()),
        ProviderConfig::JumpCloud(c) => push("--api-token", c.api_token.expose_secret()),
        ProviderConfig::Intune(c) => {
            push("--tenant-id", &c.tenant_id);
            push("--client-id", &c.client_id);
            push("--client-secret", c.client_secret.expose_secret());
            push("--login-host", url);
        }
        _ => unreachable!(),
    }
    f
}

pub fn args(command: &[&str], flags: &[String]) -> Vec<String> {
    command
        .iter()
        .map(|s| s.to_string())
        .chain(flags.iter().cloned())
        .collect()
}

pub fn secret_of(config: &ProviderConfig) -> String {
    match config {
        ProviderConfig::Jamf(c) => c.client_secret.expose_secret().to_owned(),
        ProviderConfig::Iru(c) => c.api_token.expose_secret().to_owned(),
        ProviderConfig::SimpleMdm(c) => c.api_key.expose_secret().to_owned(),
        ProviderConfig::Fleet(c) => c.api_token.expose_secret().to_owned(),
        ProviderConfig::JumpCloud(c) => c.api_token.expose_secret().to_owned(),
        ProviderConfig::Intune(c) => c.client_secret.expose_secret().to_owned(),
        _ => unreachable!(),
    }
}
