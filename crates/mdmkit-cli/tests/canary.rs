//! The secret canary suite for the `mdmkit` binary (issue 9): with canary secrets, given as flags or as
//! environment variables, every command, success or failure, keeps them out of stdout and stderr; so does
//! `--help` with the secrets set in the environment.

mod support;

use mdmkit::{ExposeSecret, ProviderConfig, ProviderKind};
use mdmkit_sandbox::{Access, Faults, Sandbox, SandboxConfig};
use support::{args, flags, mdmkit, mdmkit_with_env, Output};

const CANARY: &str = "CANARY-cli-4b7e0d2a91";

fn assert_hidden(out: &Output, what: &str) {
    for (stream, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        for needle in [CANARY, "sbx-jamf-", "sbx-intune-"] {
            assert!(
                !text.contains(needle),
                "{what}: {needle} on {stream}: {text}"
            );
        }
    }
}

/// The secret flags of `flags` moved into the environment variables the CLI reads.
fn secrets_in_env(flags: &[String]) -> (Vec<String>, Vec<(&'static str, String)>) {
    let mut rest = Vec::new();
    let mut env = Vec::new();
    let mut it = flags.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--client-secret" => env.push(("MDMKIT_CLIENT_SECRET", it.next().unwrap().clone())),
            "--api-token" => env.push(("MDMKIT_API_TOKEN", it.next().unwrap().clone())),
            _ => rest.push(flag.clone()),
        }
    }
    (rest, env)
}

async fn canary_never_shows(kind: ProviderKind) {
    let sandbox = Sandbox::start(SandboxConfig {
        devices: 6,
        secret_suffix: CANARY.to_owned(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let url = sandbox.url(kind).to_string();
    let serial = sandbox.expected_devices(kind)[0].serial.clone();
    let full = sandbox.config(kind, Access::Full);
    let secret = match &full {
        ProviderConfig::Jamf(c) => c.client_secret.expose_secret().to_owned(),
        ProviderConfig::Iru(c) => c.api_token.expose_secret().to_owned(),
        ProviderConfig::SimpleMdm(c) => c.api_key.expose_secret().to_owned(),
        ProviderConfig::Fleet(c) => c.api_token.expose_secret().to_owned(),
        ProviderConfig::JumpCloud(c) => c.api_token.expose_secret().to_owned(),
        ProviderConfig::Intune(c) => c.client_secret.expose_secret().to_owned(),
        _ => unreachable!("six providers"),
    };
    assert!(secret.ends_with(CANARY), "the canary is in play");
    let commands: [&[&str]; 5] = [
        &["validate"],
        &["lookup", &serial],
        &["lookup", &serial, "--json"],
        &["devices", "--json"],
        &["groups"],
    ];

    // Success, with the secrets as flags and from the environment.
    let f = flags(&full, &url);
    let (without_secrets, env) = secrets_in_env(&f);
    for command in commands {
        let out = mdmkit(args(command, &f)).await;
        assert_eq!(out.code, 0, "{kind:?} {command:?}: {}", out.stderr);
        assert_hidden(&out, &format!("{kind:?} {command:?}"));
        let out = mdmkit_with_env(args(command, &without_secrets), env.clone()).await;
        assert_eq!(out.code, 0, "{kind:?} {command:?} (env): {}", out.stderr);
        assert_hidden(&out, &format!("{kind:?} {command:?} (env)"));
    }
    let out = mdmkit_with_env(args(&["validate", "--help"], &without_secrets), env).await;
    assert_hidden(&out, "--help");

    // Refused credentials: wrong secret, no device access.
    for access in [Access::WrongSecret, Access::NoDeviceRead] {
        let f = flags(&sandbox.config(kind, access), &url);
        for command in commands {
            let out = mdmkit(args(command, &f)).await;
            assert_eq!(
                out.code, 2,
                "{kind:?} {access:?} {command:?}: {}",
                out.stderr
            );
            assert_hidden(&out, &format!("{kind:?} {access:?} {command:?}"));
        }
    }

    // The MDM failing: 5xx, HTML pages, malformed and truncated bodies (token responses included).
    for faults in [
        Faults {
            server_errors: 1.0,
            ..Faults::default()
        },
        Faults {
            html_errors: 1.0,
            ..Faults::default()
        },
        Faults {
            malformed: 1.0,
            ..Faults::default()
        },
        Faults {
            truncated: 1.0,
            ..Faults::default()
        },
    ] {
        sandbox.set_faults(kind, faults.clone());
        for command in [&["validate"][..], &["devices"][..]] {
            let out = mdmkit(args(command, &f)).await;
            assert_eq!(out.code, 2, "{kind:?} {faults:?}: {}", out.stderr);
            assert_hidden(&out, &format!("{kind:?} {faults:?} {command:?}"));
        }
    }
    sandbox.set_faults(kind, Faults::default());

    // A usage error that stops before any request still keeps the given secret to itself.
    let mut usage = f.clone();
    usage.extend(["--region".to_owned(), "mars".to_owned()]);
    let out = mdmkit(args(&["validate"], &usage)).await;
    assert_ne!(out.code, 0);
    assert_hidden(&out, "usage error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jamf_secret_never_shows() {
    canary_never_shows(ProviderKind::Jamf).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iru_secret_never_shows() {
    canary_never_shows(ProviderKind::Iru).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simplemdm_secret_never_shows() {
    canary_never_shows(ProviderKind::SimpleMdm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_secret_never_shows() {
    canary_never_shows(ProviderKind::Fleet).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jumpcloud_secret_never_shows() {
    canary_never_shows(ProviderKind::JumpCloud).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intune_secret_never_shows() {
    canary_never_shows(ProviderKind::Intune).await;
}
