//! What an embedding backend reads: errors returned from `main`, times in messages, and the outcome of
//! the refresh that follows a connect (issue 12, point 5).

mod sandbox_support;

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use mdmkit::http::ClientOptions;
use mdmkit::{FleetConfig, MdmProvider, ProviderConfig, ProviderKind};
use mdmkit_sandbox::Access;
use mdmkit_sync::{Error, Plan, RefreshOutcome};
use sandbox_support::Env;

/// The parts a developer looks for, on one line.
fn assert_one_readable_line(shown: &str, parts: &[&str]) {
    assert!(!shown.contains('\n'), "one line: {shown}");
    for part in parts {
        assert!(shown.contains(part), "{part:?} missing from {shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mdm_error_debugs_as_one_line_with_kind_provider_operation_status_and_message() {
    let env = Env::start(3).await;
    let ws = env.workspace("w", Plan::Pro, &[]).await;
    let wrong = env.sandbox.config(ProviderKind::Fleet, Access::WrongSecret);
    let token = serde_json::to_value(wrong.expose_secrets()).unwrap()["api_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let err = env.sync.connect(&ws, wrong).await.unwrap_err();
    let shown = format!("{err:?}");
    let message = format!("message: {:?}", err.provider_error().unwrap().message());
    assert_one_readable_line(
        &shown,
        &[
            "Provider(Error { ",
            "kind: Unauthorized",
            "provider: Fleet",
            "operation: \"",
            "status: 401",
            &message,
        ],
    );
    assert!(!shown.contains(&token), "{shown}");
    assert!(
        !shown.contains("None"),
        "unknown parts are left out: {shown}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_transport_error_shows_its_source_by_its_text() {
    // A closed port on loopback: the connection is refused, and the cause is chained as the source.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let config = ProviderConfig::Fleet(
        FleetConfig::new(&format!("http://127.0.0.1:{port}/"), "a-token").unwrap(),
    );
    let provider = mdmkit::build_provider(config, &ClientOptions::for_local_testing()).unwrap();
    let err = Error::from(provider.validate().await.unwrap_err());
    let shown = format!("{err:?}");
    assert_one_readable_line(
        &shown,
        &["kind: ConnectionFailed", "provider: Fleet", "source: \""],
    );
    assert!(!shown.contains("a-token"), "{shown}");
    // The alternate form is the full dump, for a closer look.
    assert!(format!("{err:#?}").contains("retry_after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cooldown_message_shows_times_to_the_second_never_early() {
    let env = Env::start(3).await;
    let ws = env.workspace("w", Plan::Pro, &[]).await;
    env.sync
        .connect(&ws, env.config(ProviderKind::Fleet))
        .await
        .unwrap();
    // A clock reading with nanoseconds, as real clocks give.
    let start: DateTime<Utc> = env.now() + TimeDelta::minutes(1);
    let t0 = start.with_nanosecond(1_488_258).unwrap();
    env.clock.set(t0);
    env.sync.sync_groups_now(&ws).await.unwrap();
    env.clock.set(t0 + TimeDelta::minutes(10));
    let err = env.sync.sync_groups_now(&ws).await.unwrap_err();
    let Error::Cooldown { last, next_allowed } = err else {
        panic!("{err:?}");
    };
    let second = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    let whole = |t: DateTime<Utc>| t.with_nanosecond(0).unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "a group sync was started manually at {}; the next manual sync is allowed at {}",
            second(whole(last)),
            // Rounded up: a person who tries at the time shown is not refused.
            second(whole(next_allowed) + TimeDelta::seconds(1)),
        )
    );
    assert!(!err.to_string().contains(".001488258"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_names_the_refresh_outcome() {
    let env = Env::start(3).await;
    let serials = env.fleet_serials();
    let ws = env.workspace("w", Plan::Free, &serials).await;
    let first = env
        .sync
        .connect(&ws, env.config(ProviderKind::Fleet))
        .await
        .unwrap();
    let RefreshOutcome::Ran(report) = &first.refresh else {
        panic!("a new connection refreshes at once: {:?}", first.refresh);
    };
    assert!(report.is_complete());
    assert_eq!(first.refresh.report().map(|r| r.matched), Some(3));
    assert!(first.refresh.ran() && first.refresh.error().is_none());

    // The same credentials again: nothing changed, so no refresh ran.
    let again = env
        .sync
        .connect(&ws, env.config(ProviderKind::Fleet))
        .await
        .unwrap();
    assert!(matches!(again.refresh, RefreshOutcome::NotRun));
    assert!(!again.refresh.ran() && again.refresh.report().is_none());
}
