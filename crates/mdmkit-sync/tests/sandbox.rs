//! The product rules R3-R12 of `design.md`, each run against the sandbox MDM through the real providers
//! (`mdmkit::build_provider`), with time driven by a `ManualClock`.
//!
//! Jamf and Fleet carry most tests; R9/R10 switch from Jamf to Fleet. Per-provider rules (R7 links, R11
//! groups) cover all six providers.

mod sandbox_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::TimeDelta;
use mdmkit::http::ClientOptions;
use mdmkit::{Category, ExposeSecret, FleetConfig, ProviderConfig, ProviderKind, SerialNumber};
use mdmkit_sandbox::{Access, Faults, SandboxConfig};
use mdmkit_sync::{
    bulk_listing_requests, DuplicateSerial, Error, GroupSyncOutcome, GroupSyncTrigger, MdmMetadata,
    NameCollision, NewGroup, Plan, Scheduler, SchedulerConfig, Strategy, Vault, VaultError,
};
use sandbox_support::{serial, Env, LogCapture, VAULT_KEY};

const JAMF: ProviderKind = ProviderKind::Jamf;
const FLEET: ProviderKind = ProviderKind::Fleet;
/// A provider whose listing costs only its pages (100 rows each), so both refresh strategies are
/// reachable; Fleet's listing reads each assigned host's record, so Fleet is always refreshed by lookups.
const BULK: ProviderKind = ProviderKind::SimpleMdm;

fn failing(server_errors: f64) -> Faults {
    Faults {
        server_errors,
        ..Faults::default()
    }
}

fn no_jitter() -> SchedulerConfig {
    let mut config = SchedulerConfig::default();
    config.jitter = Duration::ZERO;
    config
}

fn secret_of(config: &ProviderConfig) -> String {
    match config {
        ProviderConfig::Jamf(c) => c.client_secret.expose_secret().to_owned(),
        ProviderConfig::Fleet(c) => c.api_token.expose_secret().to_owned(),
        other => panic!("no secret accessor for {:?}", other.kind()),
    }
}

fn inventory(env: &Env) -> BTreeSet<SerialNumber> {
    env.fleet_serials().iter().map(|s| serial(s)).collect()
}

// ----- R3 -----

#[tokio::test]
async fn r3_credentials_are_sealed_bound_to_their_workspace_and_never_shown() {
    let logs = LogCapture::install();
    let env = Env::start(12).await;
    let ws = env.fleet_workspace("acme", Plan::Pro).await;
    let jamf = env.config(JAMF);
    let fleet = env.config(FLEET);
    let secrets = [secret_of(&jamf), secret_of(&fleet)];
    let wrong = env.sandbox.config(JAMF, Access::WrongSecret);
    let wrong_secret = secret_of(&wrong);

    let report = env.sync.connect(&ws, jamf.clone()).await.unwrap();
    let first = env
        .stores
        .credentials
        .load_credentials(&ws)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((first.provider, first.key_id.as_str()), (JAMF, "k1"));
    assert_eq!(first.nonce.len(), 24, "an XChaCha20 nonce");
    let at_rest = serde_json::to_string(&first).unwrap();
    for secret in &secrets {
        assert!(!at_rest.contains(secret.as_str()), "{at_rest}");
        assert!(!String::from_utf8_lossy(&first.ciphertext).contains(secret.as_str()));
    }

    // Saving again seals again with a fresh nonce.
    env.sync.connect(&ws, jamf.clone()).await.unwrap();
    let second = env
        .stores
        .credentials
        .load_credentials(&ws)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(first.nonce, second.nonce);
    assert_ne!(first.ciphertext, second.ciphertext);

    // Copied to another workspace, or relabelled as another provider, the record does not open, and not a
    // single request reaches the MDM with it.
    let before = env.requests(JAMF);
    let thief = env.fleet_workspace("thief", Plan::Pro).await;
    mdmkit_sync::storage_suite::store_credentials(&env.stores, &thief, first.clone()).await;
    let moved = env.sync.refresh_due(&thief).await.unwrap_err();
    assert!(
        matches!(moved, Error::Vault(VaultError::Decrypt { .. })),
        "{moved:?}"
    );
    let relabelled = env.fleet_workspace("relabelled", Plan::Pro).await;
    let mut forged = first.clone();
    forged.provider = FLEET;
    let expected = VaultError::Decrypt {
        workspace: relabelled.clone(),
    };
    mdmkit_sync::storage_suite::store_credentials(&env.stores, &relabelled, forged).await;
    let err = env.sync.refresh_due(&relabelled).await.unwrap_err();
    assert!(matches!(&err, Error::Vault(e) if *e == expected), "{err:?}");
    assert_eq!(env.requests(JAMF), before);

    // A wrong secret: the error names the category, never the secret.
    let rejected = env.sync.connect(&ws, wrong).await.unwrap_err();
    assert_eq!(rejected.category(), Some(Category::Unauthorized));

    // A second provider, a refresh and a group sync, so every path has logged something.
    let other = env.fleet_workspace("other", Plan::Pro).await;
    let fleet_report = env.sync.connect(&other, fleet.clone()).await.unwrap();
    env.advance(TimeDelta::hours(25));
    let refresh = env.sync.refresh_due(&ws).await.unwrap();
    let groups = env.sync.sync_groups_now(&ws).await.unwrap();

    let shown = [
        format!("{:?}", env.sync),
        format!("{:?}", env.stores),
        format!("{jamf:?} {fleet:?}"),
        format!("{report:?} {fleet_report:?} {refresh:?} {groups:?}"),
        format!("{moved:?} {moved} {err:?} {err}"),
        format!("{rejected:?} {rejected}"),
        format!("{:?}", env.sync.connection_info(&ws).await.unwrap()),
    ];
    let logged = logs.text();
    assert!(
        logged.contains("MDM credentials saved") && logged.contains("MDM refresh finished"),
        "the capture sees the engine's logs: {logged}"
    );
    for text in shown.iter().chain([&logged]) {
        for secret in secrets.iter().chain([&wrong_secret]) {
            assert!(!text.contains(secret.as_str()), "{secret} shown in {text}");
        }
        // The bearer tokens Jamf's token endpoint issued are secrets too.
        assert!(!text.contains("sbx-jamf-"), "a Jamf token shown in {text}");
    }
}

#[tokio::test]
async fn r3_rotated_keys_open_old_records_and_reseal_with_the_newest() {
    let env = Env::start(8).await;
    let ws = env.fleet_workspace("acme", Plan::Free).await;
    env.sync.connect(&ws, env.config(FLEET)).await.unwrap();

    let rotated = Vault::new("k2", &[0x11; 32])
        .unwrap()
        .with_old_key("k1", &VAULT_KEY)
        .unwrap();
    let engine = env.engine(env.sandbox.client_options(), rotated);
    env.advance(TimeDelta::hours(25));
    assert_eq!(
        engine.refresh_due(&ws).await.unwrap().matched,
        8,
        "the record sealed with the old key opens and reaches the MDM"
    );
    assert!(engine.reseal_credentials(&ws).await.unwrap());
    assert!(!engine.reseal_credentials(&ws).await.unwrap());
    assert_eq!(
        engine.connection_info(&ws).await.unwrap().unwrap().key_id,
        "k2"
    );

    // The old key can now be retired; an engine holding only the old key cannot open the record.
    env.advance(TimeDelta::hours(25));
    let new_only = env.engine(
        env.sandbox.client_options(),
        Vault::new("k2", &[0x11; 32]).unwrap(),
    );
    assert_eq!(new_only.refresh_due(&ws).await.unwrap().matched, 8);
    let old_only = env.engine(
        env.sandbox.client_options(),
        Vault::new("k1", &VAULT_KEY).unwrap(),
    );
    env.advance(TimeDelta::hours(25));
    let err = old_only.refresh_due(&ws).await.unwrap_err();
    assert!(
        matches!(err, Error::Vault(VaultError::UnknownKey { ref key_id }) if key_id == "k2"),
        "{err:?}"
    );
}

// ----- R4, R5, R6, R7 -----

#[tokio::test]
async fn r4_each_device_stores_mdm_device_id_user_id_and_user_name_else_device_name() {
    let env = Env::start(24).await;
    let fleet = env.sandbox.fleet();
    let assigned = fleet
        .devices
        .values()
        .find(|d| d.user.is_some() && !d.name.contains(&fleet.user_of(d).unwrap().full_name))
        .expect("a device whose name differs from its user's")
        .index;
    let unassigned = fleet
        .devices
        .values()
        .find(|d| d.user.is_none())
        .expect("an unassigned device")
        .index;

    for kind in [JAMF, BULK, FLEET] {
        // Fleet names its hosts' users from its SCIM users (the sandbox is Fleet Premium), so it lists
        // in bulk like the others.
        let strategy = Strategy::Bulk;
        let expected = env.expected(kind);
        // All but two devices come from the bulk listing at connect; the two are then looked up one by one.
        let held_back = [env.serial_of(assigned), env.serial_of(unassigned)];
        let serials: Vec<String> = env
            .fleet_serials()
            .into_iter()
            .filter(|s| !held_back.contains(&serial(s)))
            .collect();
        let ws = env
            .workspace(&format!("w-{kind}"), Plan::Free, &serials)
            .await;
        let report = env.sync.connect(&ws, env.config(kind)).await.unwrap();
        let refresh = report.refresh.into_report().unwrap();
        assert_eq!(refresh.strategy, Some(strategy), "{kind}");
        assert_eq!(refresh.matched, serials.len());
        for s in &serials {
            let e = &expected[&serial(s)];
            let got = env.view(&ws, &serial(s)).await.metadata.unwrap();
            assert_eq!(got.device_id, e.device_id, "{kind} {s}");
            assert_eq!(got.user_id, e.user_id, "{kind} {s}");
            assert_eq!(
                got.display_name.as_deref(),
                Some(&*e.display_name),
                "{kind} {s}"
            );
        }

        for s in &held_back {
            env.sync.add_device(&ws, s).await.unwrap();
            let report = env.sync.refresh_due(&ws).await.unwrap();
            assert_eq!(report.strategy, Some(Strategy::Lookups));
            let e = &expected[s];
            assert_eq!(
                env.view(&ws, s).await.metadata,
                Some(MdmMetadata {
                    device_id: e.device_id.clone(),
                    user_id: e.user_id.clone(),
                    display_name: Some(e.display_name.clone()),
                }),
                "{kind} {s}"
            );
        }
        let user = fleet.user_of(&fleet.devices[&assigned]).unwrap();
        assert_eq!(
            env.view(&ws, &held_back[0]).await.display_name.as_deref(),
            Some(user.full_name.as_str()),
            "{kind}: a device with a user shows the user's name"
        );
        assert!(env
            .view(&ws, &held_back[0])
            .await
            .metadata
            .unwrap()
            .user_id
            .is_some());
        let none = env.view(&ws, &held_back[1]).await.metadata.unwrap();
        assert_eq!(none.user_id, None, "{kind}");
        assert_eq!(
            none.display_name.as_deref(),
            Some(fleet.devices[&unassigned].name.as_str()),
            "{kind}: no user, the device's name"
        );
    }
}

#[tokio::test]
async fn r5_metadata_is_fetched_at_most_once_per_day() {
    let env = Env::start(10).await;
    let ws = env.fleet_workspace("acme", Plan::Free).await;
    env.sync.connect(&ws, env.config(JAMF)).await.unwrap();
    let connected_at = env.now();

    // The MDM changes right after: the device gets a user.
    let fleet = env.sandbox.fleet();
    let device = fleet.devices.values().find(|d| d.user.is_none()).unwrap();
    let old_name = device.name.clone();
    let user = fleet.users.values().next().unwrap().clone();
    env.sandbox
        .mutate(|f| f.assign_user(device.index, Some(user.index)));
    let s = serial(&device.serial);

    for later in [
        TimeDelta::minutes(1),
        TimeDelta::hours(23) + TimeDelta::minutes(59),
    ] {
        env.clock.set(connected_at + later);
        let before = env.requests(JAMF);
        let report = env.sync.refresh_due(&ws).await.unwrap();
        assert_eq!((report.due, report.strategy, report.requests), (0, None, 0));
        assert_eq!(env.requests(JAMF), before, "no request within the day");
        assert_eq!(
            env.view(&ws, &s).await.display_name.as_deref(),
            Some(&*old_name)
        );
    }

    env.clock.set(connected_at + TimeDelta::hours(24));
    let report = env.sync.refresh_due(&ws).await.unwrap();
    assert_eq!((report.due, report.matched), (10, 10));
    assert_eq!(
        env.view(&ws, &s).await.display_name.as_deref(),
        Some(&*user.full_name)
    );
    assert_eq!(
        env.view(&ws, &s).await.checked_at,
        Some(connected_at + TimeDelta::hours(24))
    );
    let before = env.requests(JAMF);
    assert_eq!(env.sync.refresh_due(&ws).await.unwrap().due, 0);
    assert_eq!(env.requests(JAMF), before, "and not again that day");
}

#[tokio::test]
async fn r6_search_finds_serials_and_display_names_case_insensitively() {
    let env = Env::start(30).await;
    let ws = env.fleet_workspace("acme", Plan::Free).await;
    env.sync.connect(&ws, env.config(JAMF)).await.unwrap();
    let expected = env.expected(JAMF);

    let matching = |q: &str| -> BTreeSet<SerialNumber> {
        let q = q.to_lowercase();
        expected
            .iter()
            .filter(|(s, e)| {
                s.as_str().to_lowercase().contains(&q) || e.display_name.to_lowercase().contains(&q)
            })
            .map(|(s, _)| s.clone())
            .collect()
    };
    let search = |q: String| {
        let sync = env.sync.clone();
        let ws = ws.clone();
        async move {
            sync.search(&ws, &q)
                .await
                .unwrap()
                .into_iter()
                .map(|v| v.serial_number)
                .collect::<BTreeSet<_>>()
        }
    };

    // A user's name, in another case: found by the display name only.
    let with_user = expected
        .values()
        .find(|e| e.user_id.is_some() && !e.display_name.is_ascii())
        .or_else(|| expected.values().find(|e| e.user_id.is_some()))
        .unwrap();
    let last_name = with_user.display_name.rsplit(' ').next().unwrap();
    for q in [
        with_user.display_name.to_uppercase(),
        last_name.to_lowercase(),
    ] {
        let found = search(q.clone()).await;
        assert!(found.contains(&serial(&with_user.serial_number)), "{q}");
        assert_eq!(found, matching(&q), "{q}");
    }

    // Part of a serial in lower case: device 1's serial extends device 0's, so both match.
    let s0 = env.serial_of(0);
    let q = s0.as_str()[..8].to_lowercase();
    let found = search(q.clone()).await;
    assert!(found.contains(&s0) && found.contains(&env.serial_of(1)));
    assert_eq!(found, matching(&q));

    let views = env.sync.search(&ws, last_name).await.unwrap();
    assert!(views
        .iter()
        .any(|v| v.display_name.as_deref() == Some(&*with_user.display_name)));
}

#[tokio::test]
async fn r7_devices_with_an_mdm_device_id_link_to_their_console_record() {
    let env = Env::start(6).await;
    for kind in ProviderKind::ALL {
        let mut serials = env.fleet_serials();
        serials.push("NOTINMDM0001".into());
        let ws = env
            .workspace(&format!("w-{}", kind.id()), Plan::Free, &serials)
            .await;
        let config = env.config(kind);
        env.sync.connect(&ws, config.clone()).await.unwrap();
        let expected = env.expected(kind);
        for view in env.sync.devices(&ws).await.unwrap() {
            let Some(e) = expected.get(&view.serial_number) else {
                assert_eq!(view.metadata, None);
                assert_eq!(view.link, None, "{kind}: no MDM device ID, no link");
                continue;
            };
            let link = view.link.unwrap_or_else(|| panic!("{kind}: no link"));
            assert_eq!(link.label, format!("View on {}", kind.display_name()));
            assert_eq!(Some(link.url.clone()), config.device_url(&e.device_id));
            assert!(link.url.as_str().contains(&e.device_id), "{}", link.url);
        }
        if matches!(kind, JAMF | FLEET) {
            // Host-based providers link into the server the workspace connected to.
            let view = env.view(&ws, &env.serial_of(0)).await;
            let url = view.link.unwrap().url;
            let server = env.sandbox.url(kind);
            assert_eq!((url.host(), url.port()), (server.host(), server.port()));
        }
    }
}

// ----- R8 -----

#[tokio::test]
async fn r8_a_failed_test_call_saves_nothing_and_names_one_of_six_categories() {
    let env = Env::start(6).await;
    let tls = Env::start_with(SandboxConfig {
        devices: 2,
        tls: true,
        ..SandboxConfig::default()
    })
    .await;
    let fleet_url = env.sandbox.url(FLEET).clone();
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let token = secret_of(&env.config(FLEET));
    let mut bad: Vec<(&str, ProviderConfig, Category)> = vec![
        (
            "wrong Jamf secret",
            env.sandbox.config(JAMF, Access::WrongSecret),
            Category::Unauthorized,
        ),
        (
            "wrong Fleet token",
            env.sandbox.config(FLEET, Access::WrongSecret),
            Category::Unauthorized,
        ),
        (
            "Jamf client without Read Computers",
            env.sandbox.config(JAMF, Access::NoDeviceRead),
            Category::Forbidden,
        ),
        (
            "Fleet user without a role",
            env.sandbox.config(FLEET, Access::NoDeviceRead),
            Category::Forbidden,
        ),
        (
            "no Fleet API under this path",
            ProviderConfig::Fleet(FleetConfig::new(&format!("{fleet_url}nope/"), &*token).unwrap()),
            Category::NotFound,
        ),
        (
            "nothing listens there",
            ProviderConfig::Fleet(
                FleetConfig::new(&format!("http://127.0.0.1:{closed_port}"), &*token).unwrap(),
            ),
            Category::ConnectionFailed,
        ),
    ];

    let fresh = env.fleet_workspace("fresh", Plan::Pro).await;
    let old = env.fleet_workspace("old", Plan::Pro).await;
    env.sync.connect(&old, env.config(JAMF)).await.unwrap();
    let saved = env.sync.connection_info(&old).await.unwrap().unwrap();
    let devices = env.sync.devices(&old).await.unwrap();
    let groups = env.sync.groups(&old).await.unwrap();
    assert!(devices.iter().all(|d| d.metadata.is_some()) && groups.len() == 3);
    // Server error: the MDM answers 503 to everything.
    bad.push(("503 from Fleet", env.config(FLEET), Category::Server));

    for (what, config, category) in bad {
        if category == Category::Server {
            env.sandbox.set_faults(FLEET, failing(1.0));
        }
        for ws in [&fresh, &old] {
            let err = env.sync.connect(ws, config.clone()).await.unwrap_err();
            assert_eq!(err.category(), Some(category), "{what}: {err}");
        }
        env.sandbox.set_faults(FLEET, Faults::default());
        assert_eq!(
            env.sync.connection_info(&fresh).await.unwrap(),
            None,
            "{what}"
        );
        assert!(env
            .stores
            .credentials
            .load_credentials(&fresh)
            .await
            .unwrap()
            .is_none());
        assert!(env
            .sync
            .devices(&fresh)
            .await
            .unwrap()
            .iter()
            .all(|d| d.metadata.is_none() && d.checked_at.is_none()));
        assert!(env.sync.groups(&fresh).await.unwrap().is_empty());
        // The previous credentials stay in force, untouched, and so does everything fetched with them.
        assert_eq!(
            env.sync.connection_info(&old).await.unwrap().as_ref(),
            Some(&saved),
            "{what}"
        );
        assert_eq!(env.sync.devices(&old).await.unwrap(), devices, "{what}");
        assert_eq!(env.sync.groups(&old).await.unwrap(), groups, "{what}");
    }

    // SSL error: an HTTPS MDM whose certificate the client does not trust.
    let untrusted = env.engine(
        ClientOptions::for_local_testing(),
        Vault::new("k1", &VAULT_KEY).unwrap(),
    );
    for ws in [&fresh, &old] {
        let err = untrusted.connect(ws, tls.config(FLEET)).await.unwrap_err();
        assert_eq!(err.category(), Some(Category::Ssl), "{err}");
    }
    assert_eq!(env.sync.connection_info(&fresh).await.unwrap(), None);
    assert_eq!(
        env.sync.connection_info(&old).await.unwrap().as_ref(),
        Some(&saved)
    );
    // Trusting the sandbox's CA, the same server is fine: it was the certificate.
    let trusting = env.engine(
        tls.sandbox.client_options(),
        Vault::new("k1", &VAULT_KEY).unwrap(),
    );
    assert!(trusting.connect(&fresh, tls.config(FLEET)).await.is_ok());

    // The old workspace still refreshes from Jamf.
    env.advance(TimeDelta::hours(24));
    let report = env.sync.refresh_due(&old).await.unwrap();
    assert_eq!((report.provider, report.matched), (JAMF, 6));
}

// ----- R9 -----

#[tokio::test]
async fn r9_a_new_provider_clears_every_devices_metadata_and_fetches_it_from_the_new_one() {
    let env = Env::start(12).await;
    let ws = env.fleet_workspace("acme", Plan::Free).await;
    env.sync.connect(&ws, env.config(JAMF)).await.unwrap();
    let jamf = env.expected(JAMF);
    for view in env.sync.devices(&ws).await.unwrap() {
        assert_eq!(
            view.metadata.unwrap().user_id,
            jamf[&view.serial_number].user_id
        );
        assert_eq!(view.link.unwrap().label, "View on Jamf");
    }

    // Fleet validates (its first request) and then fails every request: the Jamf metadata must go anyway.
    env.sandbox.set_faults(FLEET, failing(0.999));
    let report = env.sync.connect(&ws, env.config(FLEET)).await.unwrap();
    assert!(report.connection_changed);
    assert_eq!(report.devices_reset, 12);
    let refresh = report.refresh.into_report().unwrap();
    assert_eq!((refresh.provider, refresh.matched), (FLEET, 0));
    assert_eq!(refresh.last_error.unwrap().category, Category::Server);
    for view in env.sync.devices(&ws).await.unwrap() {
        assert_eq!(view.metadata, None, "nothing from the old provider is kept");
        assert_eq!(view.link, None);
        assert_eq!(view.checked_at, None, "still due");
    }

    // Fetched again from the new provider as soon as it answers.
    env.sandbox.set_faults(FLEET, Faults::default());
    let refresh = env.sync.refresh_due(&ws).await.unwrap();
    assert_eq!((refresh.provider, refresh.matched), (FLEET, 12));
    let fleet = env.expected(FLEET);
    for view in env.sync.devices(&ws).await.unwrap() {
        let e = &fleet[&view.serial_number];
        let m = view.metadata.unwrap();
        assert_eq!((&m.device_id, &m.user_id), (&e.device_id, &e.user_id));
        let link = view.link.unwrap();
        assert_eq!(link.label, "View on Fleet");
        assert_eq!(Some(link.url), env.config(FLEET).device_url(&e.device_id));
    }

    // The same credentials again are no change: nothing cleared, nothing fetched but the test call.
    let before = env.requests(FLEET);
    let again = env.sync.connect(&ws, env.config(FLEET)).await.unwrap();
    assert!(!again.connection_changed);
    assert_eq!(again.devices_reset, 0);
    assert!(!again.refresh.ran());
    assert_eq!(env.requests(FLEET), before + 1);
    assert!(env
        .sync
        .devices(&ws)
        .await
        .unwrap()
        .iter()
        .all(|v| v.metadata.is_some()));
}

#[tokio::test]
async fn r9_new_credentials_for_the_same_provider_refetch_every_device() {
    let env = Env::start(8).await;
    let ws = env.fleet_workspace("acme", Plan::Free).await;
    env.sync
        .connect(&ws, env.config(ProviderKind::Intune))
        .await
        .unwrap();
    env.advance(TimeDelta::hours(1));

    // Another Entra app registration of the same tenant.
    let other_app = env
        .sandbox
        .config(ProviderKind::Intune, Access::NoDirectoryDeviceRead);
    let report = env.sync.connect(&ws, other_app).await.unwrap();
    assert!(report.connection_changed);
    assert_eq!(report.devices_reset, 8);
    let refresh = report.refresh.into_report().unwrap();
    assert_eq!((refresh.due, refresh.matched), (8, 8));
    for view in env.sync.devices(&ws).await.unwrap() {
        assert_eq!(view.checked_at, Some(env.now()), "fetched again just now");
    }
}

// ----- R10 -----

#[tokio::test]
async fn r10_free_workspaces_get_a_clear_error_and_no_group_sync() {
    let env = Env::start(10).await;
    let ws = env.fleet_workspace("free", Plan::Free).await;
    let report = env.sync.connect(&ws, env.config(FLEET)).await.unwrap();
    assert!(matches!(
        report.group_sync,
        GroupSyncOutcome::NotOnPlan(Plan::Free)
    ));

    let before = env.requests(FLEET);
    let err = env.sync.sync_groups_now(&ws).await.unwrap_err();
    assert!(matches!(
        err,
        Error::PlanExcludesGroupSync { plan: Plan::Free }
    ));
    assert_eq!(
        err.to_string(),
        "MDM group sync is available on the Pro and Enterprise plans; this workspace is on the Free plan"
    );
    let scheduler = Scheduler::new(env.sync.clone(), no_jitter());
    let tick = scheduler
        .tick(env.advance(TimeDelta::hours(7)))
        .await
        .unwrap();
    assert!(tick.runs.iter().all(|r| r.group_sync.is_none()));
    assert_eq!(env.requests(FLEET), before, "the MDM was not asked");
    assert!(env.sync.groups(&ws).await.unwrap().is_empty());

    env.sync.set_plan(&ws, Plan::Pro).await.unwrap();
    assert_eq!(env.sync.sync_groups_now(&ws).await.unwrap().created, 3);
}

#[tokio::test]
async fn r10_the_scheduler_syncs_groups_every_six_hours() {
    let env = Env::start(10).await;
    let ws = env.fleet_workspace("acme", Plan::Pro).await;
    let t0 = env.now();
    let report = env.sync.connect(&ws, env.config(JAMF)).await.unwrap();
    assert!(matches!(report.group_sync, GroupSyncOutcome::Completed(_)));
    let scheduler = Scheduler::new(env.sync.clone(), no_jitter());
    env.sandbox.mutate(|f| f.rename_group(0, "Platform"));

    let before = env.requests(JAMF);
    let tick = scheduler
        .tick(env.advance(TimeDelta::hours(5) + TimeDelta::minutes(59)))
        .await
        .unwrap();
    assert_eq!(tick.considered, 1);
    assert!(tick.runs.is_empty(), "{tick:?}");
    assert_eq!(env.requests(JAMF), before);
    assert!(env
        .sync
        .groups(&ws)
        .await
        .unwrap()
        .iter()
        .all(|g| g.name != "Platform"));

    let tick = scheduler
        .tick(env.advance(TimeDelta::minutes(1)))
        .await
        .unwrap();
    assert_eq!(tick.runs.len(), 1);
    let run = &tick.runs[0];
    assert!(!run.refresh.ran(), "devices were fetched 6 h ago");
    let sync = run.group_sync.as_ref().unwrap().as_ref().unwrap();
    assert_eq!(sync.trigger, GroupSyncTrigger::Scheduled);
    assert_eq!(sync.updated, 1);
    assert_eq!(env.group(&ws, "Platform").await.name, "Platform");
    assert_eq!(
        env.sync.state(&ws).await.unwrap().last_group_sync,
        Some(t0 + TimeDelta::hours(6))
    );

    let tick = scheduler
        .tick(env.advance(TimeDelta::hours(5)))
        .await
        .unwrap();
    assert!(tick.runs.is_empty());
    let tick = scheduler
        .tick(env.advance(TimeDelta::hours(1)))
        .await
        .unwrap();
    assert_eq!(tick.runs.len(), 1, "12 h: the next one");
    assert!(tick.runs[0].group_sync.as_ref().unwrap().is_ok());
}

#[tokio::test]
async fn r10_manual_syncs_have_a_15_minute_cooldown_that_names_the_next_allowed_time() {
    let env = Env::start(10).await;
    let ws = env.fleet_workspace("acme", Plan::Pro).await;
    env.sync.connect(&ws, env.config(FLEET)).await.unwrap();

    // The sync of the connection does not start the cooldown; a person's request does.
    let t1 = env.advance(TimeDelta::minutes(1));
    let first = env.sync.sync_groups_now(&ws).await.unwrap();
    assert_eq!(first.trigger, GroupSyncTrigger::Manual);

    env.sandbox.mutate(|f| f.rename_group(0, "Platform"));
    let before = env.requests(FLEET);
    env.advance(TimeDelta::minutes(14) + TimeDelta::seconds(59));
    let err = env.sync.sync_groups_now(&ws).await.unwrap_err();
    let Error::Cooldown { last, next_allowed } = err else {
        panic!("{err:?}");
    };
    assert_eq!(last, t1);
    assert_eq!(next_allowed, t1 + TimeDelta::minutes(15));
    assert!(err.to_string().contains(&next_allowed.to_string()), "{err}");
    assert_eq!(env.requests(FLEET), before, "refused before asking the MDM");
    assert!(env
        .sync
        .groups(&ws)
        .await
        .unwrap()
        .iter()
        .all(|g| g.name != "Platform"));

    env.clock.set(next_allowed);
    let second = env.sync.sync_groups_now(&ws).await.unwrap();
    assert_eq!(second.updated, 1);
    assert!(
        env.sync.sync_groups_now(&ws).await.is_err(),
        "and the cooldown starts again"
    );
}

#[tokio::test]
async fn r10_r12_setting_or_changing_the_provider_syncs_groups_at_once() {
    let env = Env::start(20).await;
    let ws = env.fleet_workspace("acme", Plan::Enterprise).await;
    let all = inventory(&env);

    let report = env.sync.connect(&ws, env.config(JAMF)).await.unwrap();
    let GroupSyncOutcome::Completed(sync) = report.group_sync else {
        panic!("{:?}", report.group_sync);
    };
    assert_eq!(sync.trigger, GroupSyncTrigger::ConnectionChanged);
    assert_eq!((sync.created, sync.members_unmatched), (3, 0));
    assert_eq!(
        env.synced_groups(&ws).await,
        env.expected_groups(JAMF, &all)
    );
    let jamf_groups = env.sync.groups(&ws).await.unwrap();
    assert!(jamf_groups
        .iter()
        .all(|g| g.managed_by().as_deref() == Some("Managed by Jamf")));

    env.advance(TimeDelta::minutes(5));
    let report = env.sync.connect(&ws, env.config(FLEET)).await.unwrap();
    let GroupSyncOutcome::Completed(sync) = report.group_sync else {
        panic!("{:?}", report.group_sync);
    };
    assert_eq!(sync.trigger, GroupSyncTrigger::ConnectionChanged);
    assert_eq!((sync.detached, sync.created), (3, 3));
    let state = env.sync.state(&ws).await.unwrap();
    assert!(!state.group_sync_pending);
    assert_eq!(state.last_group_sync, Some(env.now()));

    // Jamf's groups stay as ordinary groups under their names; Fleet's labels arrive beside them, named
    // after the provider because the detached groups hold the plain names.
    let groups = env.sync.groups(&ws).await.unwrap();
    for old in &jamf_groups {
        let kept = groups.iter().find(|g| g.id == old.id).unwrap();
        assert_eq!((&kept.name, &kept.members), (&old.name, &old.members));
        assert_eq!(kept.link, None);
    }
    let fleet_expected: BTreeMap<String, _> = env
        .expected_groups(FLEET, &all)
        .into_iter()
        .map(|(name, members)| (format!("{name} (Fleet)"), members))
        .collect();
    assert_eq!(env.synced_groups(&ws).await, fleet_expected);
    assert!(groups
        .iter()
        .filter(|g| g.is_synced())
        .all(|g| g.managed_by().as_deref() == Some("Managed by Fleet")));
}

#[tokio::test]
async fn r10_only_one_sync_runs_per_workspace_at_a_time() {
    let env = Env::start(10).await;
    let ws = env.fleet_workspace("acme", Plan::Pro).await;
    env.sync.connect(&ws, env.config(JAMF)).await.unwrap();
    let t = env.now();
    // A slow MDM keeps the first sync in flight while the others try.
    env.sandbox.set_faults(
        JAMF,
        Faults {
            latency: Duration::from_millis(250),
            ..Faults::default()
        },
    );
    let first = tokio::spawn({
        let sync = env.sync.clone();
        let ws = ws.clone();
        async move { sync.sync_groups_now(&ws).await }
    });
    while env.sync.state(&ws).await.unwrap().lease.is_none() {
        tokio::task::yield_now().await;
    }

    let second = env.sync.sync_groups_now(&ws).await.unwrap_err();
    assert!(matches!(second, Error::AlreadyRunning { .. }), "{second:?}");
    let refresh = env.sync.refresh_due(&ws).await.unwrap_err();
    assert!(
        matches!(refresh, Error::AlreadyRunning { .. }),
        "{refresh:?}"
    );
    let connect = env.sync.connect(&ws, env.config(FLEET)).await.unwrap_err();
    assert!(
        matches!(connect, Error::AlreadyRunning { .. }),
        "{connect:?}"
    );
    assert!(
        !first.is_finished(),
        "the checks ran while the first sync was in flight"
    );

    let report = first.await.unwrap().unwrap();
    assert_eq!(
        (report.trigger, report.unchanged),
        (GroupSyncTrigger::Manual, 3)
    );
    let state = env.sync.state(&ws).await.unwrap();
    assert_eq!(state.lease, None, "released");
    assert_eq!(state.last_manual_group_sync, Some(t));
    assert_eq!(
        env.sync
            .connection_info(&ws)
            .await
            .unwrap()
            .unwrap()
            .provider,
        JAMF,
        "the refused connect saved nothing"
    );
}

// ----- R11 -----

#[tokio::test]
async fn r11_each_provider_syncs_its_own_kind_of_group() {
    // Jamf computer groups (static and smart) · Iru tags · SimpleMDM assignment groups · Fleet labels (not
    // the builtin ones) · JumpCloud system groups · Entra security groups.
    let env = Env::start(30).await;
    env.sandbox.mutate(|f| {
        f.add_group("Kiosks", [2, 3]);
    });
    let all = inventory(&env);
    for kind in ProviderKind::ALL {
        let ws = env.fleet_workspace(kind.id(), Plan::Pro).await;
        let report = env.sync.connect(&ws, env.config(kind)).await.unwrap();
        let GroupSyncOutcome::Completed(sync) = report.group_sync else {
            panic!("{kind}: {:?}", report.group_sync);
        };
        let expected = env.expected_groups(kind, &all);
        assert_eq!(sync.mdm_groups, expected.len(), "{kind}");
        assert_eq!(expected.len(), 4, "{kind}: the seeded groups and Kiosks");
        assert_eq!(env.synced_groups(&ws).await, expected, "{kind}");
        assert!(env.sync.groups(&ws).await.unwrap().iter().all(|g| g
            .link
            .as_ref()
            .unwrap()
            .provider
            == kind));
    }
}

// ----- R12 -----

#[tokio::test]
async fn r12_new_groups_are_created_managed_by_the_provider_with_members_matched_by_device_id() {
    let env = Env::start(20).await;
    let fleet = env.sandbox.fleet();
    let engineering = &fleet.groups[&0];
    let late = *engineering.members.iter().next().unwrap();
    let late_serial = env.serial_of(late);
    let serials: Vec<String> = env
        .fleet_serials()
        .into_iter()
        .filter(|s| serial(s) != late_serial)
        .collect();
    let ws = env.workspace("acme", Plan::Pro, &serials).await;

    let report = env.sync.connect(&ws, env.config(JAMF)).await.unwrap();
    let GroupSyncOutcome::Completed(sync) = report.group_sync else {
        panic!("{:?}", report.group_sync);
    };
    assert_eq!((sync.created, sync.mdm_groups), (3, 3));
    let member_ids: usize = env
        .sandbox
        .expected_groups(JAMF)
        .iter()
        .map(|g| g.members.len())
        .sum();
    let late_memberships = fleet.groups_of(late).count();
    assert_eq!(sync.members_unmatched, late_memberships);
    assert_eq!(sync.members_matched, member_ids - late_memberships);
    let expected_ids: BTreeMap<String, String> = env
        .sandbox
        .expected_groups(JAMF)
        .into_iter()
        .map(|g| (g.name, g.id))
        .collect();
    for group in env.sync.groups(&ws).await.unwrap() {
        assert_eq!(group.managed_by().as_deref(), Some("Managed by Jamf"));
        let link = group.link.unwrap();
        assert_eq!(link.provider, JAMF);
        assert_eq!(link.mdm_group_id, expected_ids[&group.name]);
    }
    let in_workspace: BTreeSet<SerialNumber> = serials.iter().map(|s| serial(s)).collect();
    assert_eq!(
        env.synced_groups(&ws).await,
        env.expected_groups(JAMF, &in_workspace)
    );

    // Knowing the serial is not enough: until its MDM device ID is fetched, a device is no member.
    env.sync.add_device(&ws, &late_serial).await.unwrap();
    env.advance(TimeDelta::minutes(15));
    let sync = env.sync.sync_groups_now(&ws).await.unwrap();
    assert_eq!(sync.members_unmatched, late_memberships);
    assert!(!env
        .group(&ws, &engineering.name)
        .await
        .members
        .contains(&late_serial));

    let refresh = env.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(refresh.matched, 1);
    env.advance(TimeDelta::minutes(15));
    let sync = env.sync.sync_groups_now(&ws).await.unwrap();
    assert_eq!(sync.members_unmatched, 0);
    assert_eq!(sync.updated, late_memberships);
    assert!(env
        .group(&ws, &engineering.name)
        .await
        .members
        .contains(&late_serial));
    assert_eq!(
        env.synced_groups(&ws).await,
        env.expected_groups(JAMF, &inventory(&env))
    );
}

#[tokio::test]
async fn r12_name_and_membership_are_overwritten_from_the_mdm() {
    let env = Env::start(20).await;
    let ws = env.fleet_workspace("acme", Plan::Pro).await;
    env.sync.connect(&ws, env.config(FLEET)).await.unwrap();
    let before: BTreeMap<String, _> = env
        .sync
        .groups(&ws)
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.name.clone(), g.id))
        .collect();
    let fleet = env.sandbox.fleet();

    // Someone edits a synced group locally...
    let mut edited = env.group(&ws, &fleet.groups[&0].name).await;
    edited.name = "Edited here".into();
    edited.members.clear();
    env.stores.groups.update_group(&ws, &edited).await.unwrap();
    // ...and the MDM renames one group and repopulates another.
    env.sandbox.mutate(|f| {
        f.rename_group(1, "Product Design");
        f.set_group_members(2, [0, 1, 2]);
    });

    env.advance(TimeDelta::minutes(1));
    let sync = env.sync.sync_groups_now(&ws).await.unwrap();
    assert_eq!((sync.updated, sync.created, sync.detached), (3, 0, 0));
    let all = inventory(&env);
    assert_eq!(
        env.synced_groups(&ws).await,
        env.expected_groups(FLEET, &all)
    );
    assert_eq!(
        env.group(&ws, &fleet.groups[&2].name).await.members,
        [0, 1, 2].map(|i| env.serial_of(i)).into()
    );
    // Overwritten in place: the same records, no new ones.
    assert_eq!(env.group(&ws, &fleet.groups[&0].name).await.id, edited.id);
    assert_eq!(
        env.group(&ws, "Product Design").await.id,
        before[&fleet.groups[&1].name]
    );
    assert_eq!(env.sync.groups(&ws).await.unwrap().len(), 3);
}

#[tokio::test]
async fn r12_a_group_deleted_in_the_mdm_is_detached_not_deleted() {
    let env = Env::start(20).await;
    let ws = env.fleet_workspace("acme", Plan::Pro).await;
    env.sync.connect(&ws, env.config(JAMF)).await.unwrap();
    let name = env.sandbox.fleet().groups[&0].name.clone();
    let synced = env.group(&ws, &name).await;
    assert!(synced.is_synced() && !synced.members.is_empty());

    env.sandbox.mutate(|f| f.delete_group(0));
    env.advance(TimeDelta::minutes(1));
    let sync = env.sync.sync_groups_now(&ws).await.unwrap();
    assert_eq!((sync.detached, sync.mdm_groups), (1, 2));
    let detached = env.group(&ws, &name).await;
    assert_eq!(detached.id, synced.id, "kept, not deleted");
    assert_eq!(detached.members, synced.members, "with its members");
    assert_eq!(
        (detached.link.as_ref(), detached.managed_by()),
        (None, None)
    );
    assert_eq!(env.sync.groups(&ws).await.unwrap().len(), 3);
    assert_eq!(env.synced_groups(&ws).await.len(), 2);

    // It is an ordinary group now: edits stick through later syncs.
    let mut edited = detached.clone();
    edited.name = "Former engineering".into();
    edited.members.retain(|s| *s != env.serial_of(0));
    env.stores.groups.update_group(&ws, &edited).await.unwrap();
    env.advance(TimeDelta::minutes(15));
    let sync = env.sync.sync_groups_now(&ws).await.unwrap();
    assert_eq!((sync.detached, sync.created), (0, 0));
    assert_eq!(env.group(&ws, "Former engineering").await, edited);
}

#[tokio::test]
async fn r12_a_synced_group_never_takes_a_manual_groups_name() {
    // The documented rule: manual groups win and are never touched; the synced group becomes
    // `Name (Provider)` until the name is free again.
    let env = Env::start(20).await;
    let ws = env.fleet_workspace("acme", Plan::Pro).await;
    let name = env.sandbox.fleet().groups[&0].name.clone();
    let outsider = serial("NOTINMDM0001");
    env.sync.add_device(&ws, &outsider).await.unwrap();
    let manual = env
        .stores
        .groups
        .create_group(
            &ws,
            NewGroup {
                name: format!(" {} ", name.to_uppercase()),
                link: None,
                members: [outsider.clone()].into(),
            },
        )
        .await
        .unwrap();

    let report = env.sync.connect(&ws, env.config(JAMF)).await.unwrap();
    let GroupSyncOutcome::Completed(sync) = report.group_sync else {
        panic!("{:?}", report.group_sync);
    };
    let renamed = format!("{name} (Jamf)");
    assert_eq!(
        sync.renamed,
        [NameCollision {
            mdm_group_id: "1".into(),
            mdm_name: name.clone(),
            name: renamed.clone(),
        }]
    );
    let synced = env.group(&ws, &renamed).await;
    assert!(synced.is_synced());
    assert_eq!(
        synced.members,
        env.expected_groups(JAMF, &inventory(&env))[&name]
    );
    let untouched = env.sync.groups(&ws).await.unwrap();
    let untouched = untouched.iter().find(|g| g.id == manual.id).unwrap();
    assert_eq!(untouched, &manual, "the manual group is never touched");

    // Once the manual group is renamed, the synced group gets the MDM's name back.
    let mut moved = manual.clone();
    moved.name = "Our own list".into();
    env.stores.groups.update_group(&ws, &moved).await.unwrap();
    env.advance(TimeDelta::minutes(1));
    let sync = env.sync.sync_groups_now(&ws).await.unwrap();
    assert!(sync.renamed.is_empty());
    assert_eq!(env.group(&ws, &name).await.id, synced.id);
}

// ----- Refresh: strategy, cost, partial failure, unknown devices, duplicates, report -----

#[tokio::test]
async fn refresh_looks_up_a_few_devices_and_lists_many_at_the_bulk_lower_bound() {
    // SimpleMDM pages hold 100 devices: with 150 devices a listing costs ceil(150 / 100) = 2 requests, so up to 2
    // due devices are looked up and 3 or more are listed.
    let env = Env::start(150).await;
    let ws = env.fleet_workspace("acme", Plan::Free).await;
    let report = env.sync.connect(&ws, env.config(BULK)).await.unwrap();
    let refresh = report.refresh.into_report().unwrap();
    assert_eq!(refresh.strategy, Some(Strategy::Bulk));
    assert_eq!(refresh.requests, bulk_listing_requests(150, 100));
    assert_eq!(refresh.requests, 2);
    assert_eq!((refresh.devices_seen, refresh.matched), (150, 150));

    let add = |n: usize, from: usize| {
        let env = &env;
        let ws = ws.clone();
        async move {
            for i in from..from + n {
                let s = format!("NEWMAC{i:04}");
                env.sandbox.mutate(|f| f.add_device(&s, "New Mac", None));
                env.sync.add_device(&ws, &serial(&s)).await.unwrap();
            }
        }
    };

    add(2, 0).await;
    let before = env.requests(BULK);
    let report = env.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(report.strategy, Some(Strategy::Lookups));
    assert_eq!((report.due, report.matched, report.requests), (2, 2, 2));
    assert_eq!(env.requests(BULK) - before, 2, "counted by the MDM too");

    add(3, 2).await;
    let before = env.requests(BULK);
    let report = env.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(report.strategy, Some(Strategy::Bulk));
    assert_eq!((report.due, report.matched), (3, 3));
    assert_eq!(report.estimated_requests, 2);
    assert_eq!(report.requests, bulk_listing_requests(155, 100));
    assert_eq!(env.requests(BULK) - before, report.requests);
    assert_eq!((report.devices_seen, report.unmatched), (155, 0));

    // Jamf pages hold 2000 computers: one page lists all 155; the run adds only the page of the user
    // directory (the names of R4) to the bulk lower bound, far below 155 lookups.
    let jamf = env
        .workspace("jamf", Plan::Free, &env.fleet_serials())
        .await;
    let refresh = env.connect(&jamf, JAMF).await;
    assert_eq!(refresh.strategy, Some(Strategy::Bulk));
    assert_eq!(refresh.matched, 155);
    assert!(
        refresh.requests <= bulk_listing_requests(155, 2000) + 1,
        "{refresh:?}"
    );
}

#[tokio::test]
async fn a_transient_failure_keeps_the_old_metadata_and_leaves_the_device_due() {
    let env = Env::start(12).await;
    let ws = env.fleet_workspace("bulk", Plan::Free).await;
    let single = env.serial_of(5);
    let one = env
        .workspace("one", Plan::Free, &[single.as_str().to_owned()])
        .await;
    env.sync.connect(&ws, env.config(BULK)).await.unwrap();
    env.sync.connect(&one, env.config(BULK)).await.unwrap();
    let checked = env.now();
    let old_ws = env.sync.devices(&ws).await.unwrap();
    let old_one = env.sync.devices(&one).await.unwrap();
    assert!(old_ws.iter().all(|v| v.metadata.is_some()));

    // The MDM changes, then fails every request for a while.
    env.sandbox.mutate(|f| {
        for d in f.devices.values_mut() {
            d.user = None;
            d.name = format!("Renamed {}", d.index);
        }
    });
    env.advance(TimeDelta::hours(24));
    env.sandbox.set_faults(BULK, failing(1.0));

    let listed = env.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(listed.strategy, Some(Strategy::Bulk));
    assert_eq!(
        (listed.matched, listed.errors, listed.still_due()),
        (0, 1, 12)
    );
    assert!(listed.aborted);
    let looked_up = env.sync.refresh_due(&one).await.unwrap();
    assert_eq!(looked_up.strategy, Some(Strategy::Lookups));
    assert_eq!((looked_up.matched, looked_up.errors), (0, 1));
    let last = looked_up.last_error.unwrap();
    assert_eq!(
        (last.category, last.serial_number),
        (Category::Server, Some(single.clone()))
    );

    assert_eq!(
        env.sync.devices(&ws).await.unwrap(),
        old_ws,
        "metadata and check times kept"
    );
    assert_eq!(env.sync.devices(&one).await.unwrap(), old_one);
    assert!(old_ws.iter().all(|v| v.checked_at == Some(checked)));

    // Still due: the next run asks again and gets the new data.
    env.sandbox.set_faults(BULK, Faults::default());
    let listed = env.sync.refresh_due(&ws).await.unwrap();
    assert_eq!((listed.due, listed.matched), (12, 12));
    let looked_up = env.sync.refresh_due(&one).await.unwrap();
    assert_eq!((looked_up.due, looked_up.matched), (1, 1));
    assert_eq!(
        env.view(&one, &single).await.display_name.as_deref(),
        Some("Renamed 5")
    );
    assert_eq!(
        env.view(&ws, &env.serial_of(3))
            .await
            .display_name
            .as_deref(),
        Some("Renamed 3")
    );
}

#[tokio::test]
async fn a_device_the_mdm_does_not_know_is_cleared_and_stamped() {
    let env = Env::start(10).await;
    let mut serials = env.fleet_serials();
    serials.push("NOTINMDM0001".into());
    let ws = env.workspace("acme", Plan::Free, &serials).await;
    for kind in [JAMF, BULK] {
        let report = env.sync.connect(&ws, env.config(kind)).await.unwrap();
        let refresh = report.refresh.into_report().unwrap();
        assert_eq!((refresh.matched, refresh.not_found), (10, 1), "{kind}");
        let unknown = env.view(&ws, &serial("NOTINMDM0001")).await;
        assert_eq!(unknown.metadata, None);
        assert_eq!(
            unknown.checked_at,
            Some(env.now()),
            "{kind}: stamped, not due"
        );
    }

    // A device the MDM forgets: its metadata goes, the check is stamped, and it is not asked again that day.
    let gone = env.serial_of(4);
    assert!(env.view(&ws, &gone).await.metadata.is_some());
    env.sandbox.mutate(|f| f.remove_device(4));
    // One due device is a lookup, a day later everything is due and listed: both paths.
    let lookup_ws = env
        .workspace("one", Plan::Free, &[gone.as_str().into()])
        .await;
    env.sync
        .connect(&lookup_ws, env.config(BULK))
        .await
        .unwrap();
    let lookup = env.view(&lookup_ws, &gone).await;
    assert_eq!(
        (lookup.metadata, lookup.checked_at),
        (None, Some(env.now()))
    );

    let at = env.advance(TimeDelta::hours(24));
    let refresh = env.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(refresh.strategy, Some(Strategy::Bulk));
    assert_eq!((refresh.matched, refresh.not_found), (9, 2));
    let view = env.view(&ws, &gone).await;
    assert_eq!(
        (view.metadata, view.link, view.checked_at),
        (None, None, Some(at))
    );
    env.advance(TimeDelta::hours(1));
    assert_eq!(env.sync.refresh_due(&ws).await.unwrap().due, 0);
}

#[tokio::test]
async fn duplicate_serials_in_the_mdm_are_reported_never_matched_to_one() {
    let env = Env::start(10).await;
    let twin = env.serial_of(3);
    let twin_index = env
        .sandbox
        .mutate(|f| f.add_device(twin.as_str(), "Twin Mac", None));

    // Listed in bulk (Jamf and Fleet) and looked up by serial (Jamf).
    for kind in [JAMF, BULK] {
        let ws = env
            .fleet_workspace(&format!("bulk-{kind}"), Plan::Free)
            .await;
        let ids: Vec<String> = {
            let mut ids: Vec<String> = env
                .sandbox
                .expected_devices(kind)
                .into_iter()
                .filter(|d| d.index == 3 || d.index == twin_index)
                .map(|d| d.device_id)
                .collect();
            ids.sort();
            ids
        };
        let refresh = env
            .sync
            .connect(&ws, env.config(kind))
            .await
            .unwrap()
            .refresh
            .into_report()
            .unwrap();
        assert_eq!(refresh.strategy, Some(Strategy::Bulk));
        assert_eq!(
            refresh.duplicates,
            [DuplicateSerial {
                serial_number: twin.clone(),
                device_ids: ids.clone(),
            }],
            "{kind}"
        );
        assert_eq!((refresh.matched, refresh.devices_seen), (9, 11));
        let view = env.view(&ws, &twin).await;
        assert_eq!(
            (view.metadata, view.checked_at),
            (None, Some(env.now())),
            "{kind}"
        );

        if kind == JAMF {
            let one = env
                .workspace("lookup-jamf", Plan::Free, &[twin.as_str().into()])
                .await;
            let refresh = env
                .sync
                .connect(&one, env.config(JAMF))
                .await
                .unwrap()
                .refresh
                .into_report()
                .unwrap();
            assert_eq!(refresh.strategy, Some(Strategy::Lookups));
            assert_eq!(refresh.matched, 0);
            assert_eq!(refresh.duplicates[0].device_ids, ids);
            assert_eq!(env.view(&one, &twin).await.metadata, None);
        }
    }
}

#[tokio::test]
async fn every_refresh_run_reports_what_it_saw_matched_missed_and_spent() {
    let env = Env::start(30).await;
    let twin = env.serial_of(5);
    env.sandbox
        .mutate(|f| f.add_device(twin.as_str(), "Twin Mac", None));
    let mut serials: Vec<String> = env.fleet_serials().into_iter().take(20).collect();
    serials.push("NOTINMDM0001".into());
    let ws = env.workspace("acme", Plan::Free, &serials).await;

    let report = env.sync.connect(&ws, env.config(BULK)).await.unwrap();
    let r = report.refresh.into_report().unwrap();
    assert_eq!(r.workspace, ws);
    assert_eq!((r.provider, r.started_at), (BULK, env.now()));
    assert_eq!(
        (r.due, r.strategy, r.estimated_requests),
        (21, Some(Strategy::Bulk), 1)
    );
    assert_eq!(r.devices_seen, 31, "every row of the MDM");
    assert_eq!(r.matched, 19);
    assert_eq!(r.unmatched, 10, "MDM devices outside the workspace");
    assert_eq!(r.not_found, 1);
    assert_eq!(r.duplicates.len(), 1);
    assert_eq!(
        (r.errors, r.last_error.as_ref(), r.aborted),
        (0, None, false)
    );
    assert_eq!(r.requests, 1);
    assert_eq!(r.still_due(), 0);

    env.advance(TimeDelta::hours(24));
    env.sandbox.set_faults(BULK, failing(1.0));
    let before = env.requests(BULK);
    let r = env.sync.refresh_due(&ws).await.unwrap();
    assert_eq!((r.due, r.matched, r.errors, r.still_due()), (21, 0, 1, 21));
    assert!(r.aborted);
    let last = r.last_error.as_ref().unwrap();
    assert_eq!(last.category, Category::Server);
    assert!(last.message.contains("503"), "{}", last.message);
    assert!(r.requests > 1, "retries are counted: {}", r.requests);
    assert_eq!(
        r.requests,
        env.requests(BULK) - before,
        "as the MDM counted them"
    );
}
