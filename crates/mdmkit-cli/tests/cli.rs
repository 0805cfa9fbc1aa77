//! The `mdmkit` binary end to end against the sandbox, for all six providers: every command, the JSON
//! shapes, each error category and the exit codes.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use mdmkit::ProviderKind;
use mdmkit_sandbox::{Access, Faults, Sandbox, SandboxConfig};
use serde_json::Value;

mod support;

use support::{args, flags, mdmkit, mdmkit_with_env, secret_of, Output, BIN};

/// A sandbox of `devices` devices, with its defaults otherwise.
async fn start_sandbox(devices: usize) -> Sandbox {
    Sandbox::start(SandboxConfig {
        devices,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

async fn every_command_works(kind: ProviderKind) {
    let sandbox = start_sandbox(12).await;
    let url = sandbox.url(kind).to_string();
    let config = sandbox.config(kind, Access::Full);
    let f = flags(&config, &url);

    let out = mdmkit(args(&["validate"], &f)).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), format!("OK: {}", kind.display_name()));

    let expected = sandbox.expected_devices(kind);
    let first = &expected[0];
    let out = mdmkit(args(&["lookup", &first.serial_number.to_lowercase()], &f)).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(&first.device_id), "{}", out.stdout);
    assert!(out.stdout.contains(&kind.link_label()), "{}", out.stdout);

    let out = mdmkit(args(&["lookup", &first.serial_number, "--json"], &f)).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let device: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let keys: Vec<&str> = device
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 5, "{keys:?}");
    for key in [
        "serial_number",
        "device_id",
        "user_id",
        "display_name",
        "url",
    ] {
        assert!(device.get(key).is_some(), "{key} in {device}");
    }
    assert_eq!(device["device_id"], first.device_id.as_str());
    // SimpleMDM included: `flags` passes the sandbox's `--user-attribute`.
    assert_eq!(device["display_name"], first.display_name.as_str());
    assert_eq!(device["user_id"].as_str(), first.user_id.as_deref());

    let out = mdmkit(args(&["lookup", "NOSUCHSERIAL42"], &f)).await;
    assert_eq!(out.code, 3, "{} {}", out.stdout, out.stderr);

    let out = mdmkit(args(&["devices", "--json"], &f)).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), expected.len());
    let unassigned = expected
        .iter()
        .find(|e| e.user_id.is_none())
        .expect("an unassigned device");
    let row = lines
        .iter()
        .find(|l| l["device_id"] == unassigned.device_id.as_str())
        .unwrap();
    assert!(row["user_id"].is_null(), "{row}");

    let out = mdmkit(args(&["devices"], &f)).await;
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stdout.lines().count(),
        expected.len() + 1,
        "a header and one row per device"
    );

    let out = mdmkit(args(&["groups", "--json"], &f)).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let groups: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(groups.len(), sandbox.expected_groups(kind).len());
    for g in &groups {
        assert!(
            g["id"].is_string() && g["name"].is_string() && g["members"].is_array(),
            "{g}"
        );
        assert_eq!(g.as_object().unwrap().len(), 3);
    }
    let out = mdmkit(args(&["groups"], &f)).await;
    assert_eq!(out.code, 0);
}

async fn first_stderr_line(out: &Output) -> &str {
    out.stderr.lines().next().unwrap_or_default()
}

async fn each_error_category(kind: ProviderKind) {
    let sandbox = start_sandbox(3).await;
    let url = sandbox.url(kind).to_string();

    let wrong = sandbox.config(kind, Access::WrongSecret);
    let out = mdmkit(args(&["validate"], &flags(&wrong, &url))).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        first_stderr_line(&out).await,
        "error: Unauthorized: the API token or credentials are invalid or expired"
    );
    assert!(!out.stderr.contains(&secret_of(&wrong)) || secret_of(&wrong).len() < 4);
    assert!(
        out.stderr.lines().count() >= 2,
        "the provider's detail follows: {}",
        out.stderr
    );

    let forbidden = sandbox.config(kind, Access::NoDeviceRead);
    let out = mdmkit(args(&["validate"], &flags(&forbidden, &url))).await;
    assert_eq!(out.code, 2);
    assert_eq!(
        first_stderr_line(&out).await,
        "error: Forbidden: the credentials lack the required permissions",
        "{}",
        out.stderr
    );

    let full = sandbox.config(kind, Access::Full);
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = mdmkit(args(
        &["validate"],
        &flags(&full, &format!("http://127.0.0.1:{closed}/")),
    ))
    .await;
    assert_eq!(out.code, 2);
    assert_eq!(
        first_stderr_line(&out).await,
        "error: Connection failed: a network or DNS error prevented the connection",
        "{}",
        out.stderr
    );

    sandbox.set_faults(
        kind,
        Faults {
            server_errors: 1.0,
            ..Faults::default()
        },
    );
    let out = mdmkit(args(&["validate"], &flags(&full, &url))).await;
    assert_eq!(out.code, 2);
    assert_eq!(
        first_stderr_line(&out).await,
        "error: Server error: the MDM provider returned a server-side error",
        "{}",
        out.stderr
    );
}

macro_rules! per_provider {
    ($($name:ident => $kind:expr),* $(,)?) => {
        $(
            mod $name {
                use super::*;
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn every_command_works() {
                    super::every_command_works($kind).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn each_error_category() {
                    super::each_error_category($kind).await
                }
            }
        )*
    };
}

per_provider! {
    jamf => ProviderKind::Jamf,
    iru => ProviderKind::Iru,
    simplemdm => ProviderKind::SimpleMdm,
    fleet => ProviderKind::Fleet,
    jumpcloud => ProviderKind::JumpCloud,
    intune => ProviderKind::Intune,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_without_the_ca_is_an_ssl_error_and_with_it_succeeds() {
    let sandbox = Sandbox::start(SandboxConfig {
        devices: 2,
        tls: true,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let kind = ProviderKind::Fleet;
    let url = sandbox.url(kind).to_string();
    let f = flags(&sandbox.config(kind, Access::Full), &url);
    let out = mdmkit(args(&["validate"], &f)).await;
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr.lines().next().unwrap(),
        "error: SSL error: TLS certificate validation failed"
    );
    let ca = std::env::temp_dir().join(format!("mdmkit-cli-test-ca-{}.pem", std::process::id()));
    std::fs::write(&ca, sandbox.ca_pem().unwrap()).unwrap();
    let mut with_ca = f.clone();
    with_ca.extend(["--ca-cert".to_owned(), ca.display().to_string()]);
    let out = mdmkit(args(&["validate"], &with_ca)).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_is_not_the_api_is_not_found() {
    // Jamf's paths on the Fleet simulator: every route is unknown there.
    let sandbox = start_sandbox(2).await;
    let jamf = sandbox.config(ProviderKind::Jamf, Access::Full);
    let out = mdmkit(args(
        &["validate"],
        &flags(&jamf, sandbox.url(ProviderKind::Fleet).as_str()),
    ))
    .await;
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr.lines().next().unwrap(),
        "error: Not found: the MDM host or API endpoint could not be reached",
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn usage_errors_exit_64() {
    let out = mdmkit(vec!["validate".into()]).await;
    assert_eq!(out.code, 64, "missing --provider: {}", out.stderr);
    let out = mdmkit(vec!["validate".into(), "--provider".into(), "jamf".into()]).await;
    assert_eq!(out.code, 64, "missing --host: {}", out.stderr);
    assert!(out.stderr.contains("--host"));
    let out = mdmkit(vec!["frobnicate".into()]).await;
    assert_eq!(out.code, 64);
    let out = mdmkit(vec!["validate".into(), "--provider".into(), "okta".into()]).await;
    assert_eq!(out.code, 64);
    let out = mdmkit(vec!["--help".into()]).await;
    assert_eq!(out.code, 0);
    assert!(
        out.stdout.contains("prefer the environment variables"),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn secrets_come_from_the_environment_too() {
    let sandbox = start_sandbox(2).await;
    let config = sandbox.config(ProviderKind::Fleet, Access::Full);
    let url = sandbox.url(ProviderKind::Fleet).to_string();
    let token = secret_of(&config);
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(["validate", "--provider", "fleet"])
            .env("MDMKIT_HOST", url)
            .env("MDMKIT_API_TOKEN", token)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `MDMKIT_…` names in `text`.
fn variables(text: &str) -> std::collections::BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_uppercase() || c == '_'))
        .filter(|word| word.starts_with("MDMKIT_") && word.len() > "MDMKIT_".len())
        .map(str::to_owned)
        .collect()
}

/// The crate README's list of connection variables is the one `--help` shows, and flags without a
/// variable are the ones it names as such.
#[tokio::test]
async fn the_readme_names_every_connection_variable_and_only_those() {
    let readme = include_str!("../README.md");
    let paragraph = readme
        .split("\n\n")
        .find(|p| p.contains("has an environment variable"))
        .expect("the README's paragraph on variables");
    let help = mdmkit(vec!["validate".into(), "--help".into()]).await;
    assert_eq!(help.code, 0);
    let shown: std::collections::BTreeSet<String> = help
        .stdout
        .split("[env: ")
        .skip(1)
        .flat_map(|rest| variables(rest.split(['=', ']']).next().unwrap_or_default()))
        .collect();
    assert_eq!(variables(paragraph), shown, "{}", help.stdout);
    // The flags the README excepts have no variable.
    for flag in ["--login-host", "--region"] {
        assert!(paragraph.contains(flag), "{paragraph}");
        let line = help
            .stdout
            .lines()
            .skip_while(|l| !l.trim_start().starts_with(flag))
            .take_while(|l| !l.trim_start().starts_with("--") || l.trim_start().starts_with(flag))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            !line.is_empty() && !line.contains("[env: "),
            "{flag}: {line}"
        );
    }
}

/// `flags` without one flag and its value.
fn without_flag(flags: &[String], flag: &str) -> Vec<String> {
    let at = flags
        .iter()
        .position(|f| f == flag)
        .expect("the flag is there");
    let mut rest = flags.to_vec();
    rest.drain(at..at + 2);
    rest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_secrets_come_from_the_environment() {
    let sandbox = start_sandbox(2).await;
    for kind in [ProviderKind::Jamf, ProviderKind::Intune] {
        let config = sandbox.config(kind, Access::Full);
        let rest = without_flag(
            &flags(&config, sandbox.url(kind).as_str()),
            "--client-secret",
        );

        let out = mdmkit(args(&["validate"], &rest)).await;
        assert_eq!(out.code, 64, "{kind:?} without a secret: {}", out.stderr);
        assert!(
            out.stderr.contains("MDMKIT_CLIENT_SECRET"),
            "{}",
            out.stderr
        );

        let env = vec![("MDMKIT_CLIENT_SECRET", secret_of(&config))];
        let out = mdmkit_with_env(args(&["validate"], &rest), env).await;
        assert_eq!(out.code, 0, "{kind:?}: {}", out.stderr);
    }
}

/// JumpCloud's organisation travels as `x-org-id`: the sandbox's key sees one organisation, so naming
/// another (by flag or variable) is refused, and naming its own works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jumpcloud_organisation_comes_from_org_id() {
    const OWN_ORG: &str = "6523a1b0c0ffee0000000001";
    const UNKNOWN_ORG: &str = "5f0c0f1e2d3b4a0012345678";
    let sandbox = start_sandbox(2).await;
    let kind = ProviderKind::JumpCloud;
    let f = flags(
        &sandbox.config(kind, Access::Full),
        sandbox.url(kind).as_str(),
    );

    let own = args(&["devices", "--json", "--org-id", OWN_ORG], &f);
    let out = mdmkit(own).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 2, "{}", out.stdout);

    let unknown = args(&["devices", "--json", "--org-id", UNKNOWN_ORG], &f);
    let by_variable = mdmkit_with_env(
        args(&["devices", "--json"], &f),
        vec![("MDMKIT_ORG_ID", UNKNOWN_ORG.to_owned())],
    )
    .await;
    for out in [mdmkit(unknown).await, by_variable] {
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(
            first_stderr_line(&out)
                .await
                .starts_with("error: Not found: "),
            "{}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{}", out.stdout);
    }
}

#[tokio::test]
async fn region_is_checked_against_the_provider_and_its_regions() {
    let fleet = [
        "validate",
        "--provider",
        "fleet",
        "--host",
        "fleet.example.com",
        "--api-token",
        "t",
    ];
    let jumpcloud = ["validate", "--provider", "jumpcloud", "--api-token", "t"];
    for (command, region, needle) in [
        (
            &fleet[..],
            "eu",
            "--region is for jumpcloud and intune only",
        ),
        (&jumpcloud[..], "mars", "expected us, eu or in"),
    ] {
        let mut argv: Vec<String> = command.iter().map(|s| s.to_string()).collect();
        argv.extend(["--region".to_owned(), region.to_owned()]);
        let out = mdmkit(argv).await;
        assert_eq!(out.code, 64, "{region}: {}", out.stderr);
        assert!(out.stderr.contains(needle), "{}", out.stderr);
    }
}

#[cfg(feature = "sandbox")]
#[test]
fn the_sandbox_command_prints_each_providers_url_and_working_credentials() {
    let mut child = Command::new(BIN)
        .args(["sandbox", "--devices", "5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    let mut reader = BufReader::new(stdout);
    for _ in 0..6 {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        lines.push(line.trim().to_owned());
    }
    // On stderr, one `mdmkit validate …` line per provider, up to the closing hint.
    let mut hints = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.starts_with("press Ctrl-C") {
            break;
        }
        if let Some(command) = line.trim().strip_prefix("mdmkit ") {
            hints.push(command.to_owned());
        }
    }
    // What the README says to do with them: run each one in another terminal.
    let validated: Vec<(String, std::process::Output)> = hints
        .iter()
        .map(|hint| {
            let out = Command::new(BIN)
                .args(hint.split_whitespace())
                .env_remove("MDMKIT_API_TOKEN")
                .env_remove("MDMKIT_CLIENT_SECRET")
                .output()
                .unwrap();
            (hint.clone(), out)
        })
        .collect();
    child.kill().unwrap();
    let _ = child.wait();

    let names: Vec<&str> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        names,
        ["jamf", "iru", "simplemdm", "fleet", "jumpcloud", "intune"]
    );
    for line in &lines {
        let url = line.split(' ').nth(1).unwrap();
        assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    }
    assert_eq!(validated.len(), 6, "{hints:?}");
    for ((hint, out), kind) in validated.iter().zip(ProviderKind::ALL) {
        assert!(
            hint.starts_with(&format!("validate --provider {} ", kind.id())),
            "{hint}"
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("OK: {}", kind.display_name()),
            "{hint}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `devices --json` prints each page as it arrives: the first row is out while later pages are still
/// being fetched (each request takes 100 ms here, and five pages follow the first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_json_streams_rows_before_the_listing_ends() {
    let sandbox = start_sandbox(1_800).await;
    sandbox.set_faults(
        ProviderKind::Iru,
        Faults {
            latency: Duration::from_millis(100),
            ..Faults::default()
        },
    );
    let url = sandbox.url(ProviderKind::Iru).to_string();
    let f = flags(&sandbox.config(ProviderKind::Iru, Access::Full), &url);
    let command = args(&["devices", "--json"], &f);
    let (first_line, still_running, total) = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(BIN)
            .args(&command)
            .env_remove("MDMKIT_API_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let still_running = child.try_wait().unwrap().is_none();
        let rest = lines.count();
        child.wait().unwrap();
        (first, still_running, rest + 1)
    })
    .await
    .unwrap();
    let row: Value = serde_json::from_str(&first_line).unwrap();
    assert!(row["device_id"].is_string());
    assert!(still_running, "the first row came before the listing ended");
    assert_eq!(total, 1_800);
}

/// Fleet with a token that may not read its SCIM users: the listing shows the IdP username where it
/// cannot know the name, and says so in `--help`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_without_scim_shows_usernames_and_help_says_so() {
    let sandbox = start_sandbox(20).await;
    let url = sandbox.url(ProviderKind::Fleet).to_string();
    let f = flags(
        &sandbox.config(ProviderKind::Fleet, Access::LeastPrivilege),
        &url,
    );
    let out = mdmkit(args(&["devices", "--json"], &f)).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let fleet = sandbox.fleet();
    let expected = sandbox.expected_devices(ProviderKind::Fleet);
    let mut shown_usernames = 0;
    for line in out.stdout.lines() {
        let row: Value = serde_json::from_str(line).unwrap();
        let want = expected
            .iter()
            .find(|e| row["device_id"] == e.device_id.as_str())
            .unwrap();
        match fleet.user_of(&fleet.devices[&want.index]) {
            Some(user) => {
                assert_eq!(row["display_name"], row["user_id"], "{row}");
                assert!(row["user_id"]
                    .as_str()
                    .unwrap()
                    .eq_ignore_ascii_case(&user.email));
                shown_usernames += 1;
            }
            None => assert_eq!(row["display_name"], want.display_name.as_str()),
        }
    }
    assert!(shown_usernames > 0);
    let help = mdmkit(vec!["devices".into(), "--help".into()]).await;
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("IdP username"), "{}", help.stdout);
    assert!(help.stdout.contains("SCIM"), "{}", help.stdout);
}

/// SimpleMDM has no user field: `--user-attribute` (or `MDMKIT_USER_ATTRIBUTE`) names the custom attribute
/// that holds the user, and the listing and the lookup then show the user; without it, the device's name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simplemdm_users_come_from_the_user_attribute_flag_or_variable() {
    let sandbox = start_sandbox(12).await;
    let kind = ProviderKind::SimpleMdm;
    let url = sandbox.url(kind).to_string();
    let config = sandbox.config(kind, Access::Full);
    let mdmkit::ProviderConfig::SimpleMdm(simplemdm) = &config else {
        panic!("not SimpleMDM")
    };
    let attribute = simplemdm.user_attribute.clone().expect("the sandbox's");
    let with_flag = flags(&config, &url);
    assert!(with_flag.contains(&"--user-attribute".to_owned()));
    let without: Vec<String> = {
        let mut rest = Vec::new();
        let mut it = with_flag.iter();
        while let Some(flag) = it.next() {
            match flag.as_str() {
                "--user-attribute" => {
                    it.next();
                }
                _ => rest.push(flag.clone()),
            }
        }
        rest
    };
    let expected = sandbox.expected_devices(kind);
    let assigned = expected
        .iter()
        .find(|e| e.user_id.is_some())
        .expect("an assigned device");
    let device_name = sandbox.fleet().devices[&assigned.index].name.clone();
    assert_ne!(
        assigned.display_name, device_name,
        "the user's name differs"
    );
    let row_of = |out: &Output| -> Value {
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|row| row["device_id"] == assigned.device_id.as_str())
            .expect("the assigned device is listed")
    };

    let by_flag = row_of(&mdmkit(args(&["devices", "--json"], &with_flag)).await);
    let by_env = row_of(
        &mdmkit_with_env(
            args(&["devices", "--json"], &without),
            vec![("MDMKIT_USER_ATTRIBUTE", attribute.clone())],
        )
        .await,
    );
    for row in [&by_flag, &by_env] {
        assert_eq!(row["display_name"], assigned.display_name.as_str(), "{row}");
        assert_eq!(
            row["user_id"].as_str(),
            assigned.user_id.as_deref(),
            "{row}"
        );
    }
    let out = mdmkit_with_env(
        args(&["lookup", &assigned.serial_number], &without),
        vec![("MDMKIT_USER_ATTRIBUTE", attribute)],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains(&format!("MDM display name: {}", assigned.display_name)),
        "{}",
        out.stdout
    );

    let plain = row_of(&mdmkit(args(&["devices", "--json"], &without)).await);
    assert_eq!(plain["display_name"], device_name.as_str(), "{plain}");
    assert!(plain["user_id"].is_null(), "{plain}");

    let help = mdmkit(vec!["devices".into(), "--help".into()]).await;
    assert!(
        help.stdout.contains("MDMKIT_USER_ATTRIBUTE"),
        "{}",
        help.stdout
    );
    // The streamed format is named, so scripts know to read it line by line.
    assert!(help.stdout.contains("JSON Lines"), "{}", help.stdout);
}

/// Jamf numbers its computers, so a group's members print as 2, 9, 10, not 10, 2, 9: in the JSON lines
/// and in the text listing alike.
#[tokio::test]
async fn group_members_print_in_numeric_order() {
    let sandbox = start_sandbox(40).await;
    let kind = ProviderKind::Jamf;
    let url = sandbox.url(kind).to_string();
    let f = flags(&sandbox.config(kind, Access::Full), &url);
    let numeric = |ids: &[u64]| ids.windows(2).all(|w| w[0] < w[1]);
    let mixed_widths = |ids: &[u64]| ids.iter().any(|i| *i < 10) && ids.iter().any(|i| *i >= 10);

    let out = mdmkit(args(&["groups", "--json"], &f)).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut checked = 0;
    for line in out.stdout.lines() {
        let g: Value = serde_json::from_str(line).unwrap();
        let ids: Vec<u64> = g["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().parse().unwrap())
            .collect();
        assert!(numeric(&ids), "{g}");
        checked += usize::from(mixed_widths(&ids));
    }
    assert!(
        checked > 0,
        "no group mixes one- and two-digit ids: {}",
        out.stdout
    );

    let out = mdmkit(args(&["groups"], &f)).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut checked = 0;
    for members in out.stdout.lines().filter_map(|l| l.strip_prefix("  ")) {
        let ids: Vec<u64> = members.split(", ").map(|m| m.parse().unwrap()).collect();
        assert!(numeric(&ids), "{members}");
        checked += usize::from(mixed_widths(&ids));
    }
    assert!(checked > 0, "{}", out.stdout);
}
