//! The secret canary suite for the `mdmkit` binary (issue 9): with canary secrets, given as flags or as
//! environment variables, every command, success or failure, keeps them out of stdout and stderr; so does
//! `--help` with the secrets set in the environment.

mod support;

use mdmkit::ProviderKind;
use mdmkit_sandbox::{Access, Faults, Sandbox, SandboxConfig};
use mdmkit_testkit::failing_mdm;
use support::{args, flags, mdmkit, mdmkit_with_env, secret_of, Output};

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
    let serial = sandbox.expected_devices(kind)[0].serial_number.clone();
    let full = sandbox.config(kind, Access::Full);
    let secret = secret_of(&full);
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

    // The MDM failing: 5xx, HTML pages, malformed and truncated bodies (token responses included). The
    // binary's default retries wait out 429s for long, so those are left to the engine's suite.
    for (_, faults) in failing_mdm()
        .into_iter()
        .filter(|(_, f)| f.rate_limited == 0.0)
    {
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

mdmkit_testkit::per_provider_tests!(canary_never_shows);
