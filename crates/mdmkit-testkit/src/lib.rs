//! # mdmkit-testkit
//!
//! One set of behaviour checks that every provider crate runs against the sandbox MDM, so the six
//! connectors are held to the same contract: validation and its R8 categories, exact serial lookup, a
//! complete and duplicate-free bulk listing, groups, R4 display names, deep links, resilience to token
//! expiry, 429s and 5xx, hostile numbers in every wait header and token lifetime (never a panic or a
//! hang), a request count near the bulk lower bound, and the incremental-refresh capabilities: listing
//! changes since a time, deferred listings resolved afterwards, groups by delta.
//!
//! A provider crate runs the whole suite with one macro call in `tests/conformance.rs`:
//!
//! ```ignore
//! mdmkit_testkit::conformance_suite!(mdmkit_core::ProviderKind::Fleet, |config, options| {
//!     match config {
//!         mdmkit_core::ProviderConfig::Fleet(c) => Ok(std::sync::Arc::new(
//!             mdmkit_fleet::FleetProvider::new(c, options)?,
//!         ) as std::sync::Arc<dyn mdmkit_core::MdmProvider>),
//!         other => panic!("unexpected config {other:?}"),
//!     }
//! });
//! ```
//!
//! The same suite runs against a live tenant when `MDMKIT_TEST_<PROVIDER>_*` variables are set (see
//! [`live_config`]); with none set the live check says it is skipping and passes, and with some set but
//! not all, or values that are no valid configuration, it fails.
//!
//! Helpers serve the provider crates' own tests: [`shapes`] (decoding, and 200 answers of the wrong
//! shape, which must be invalid responses, never empty results), [`arbitrary`] (proptest strategies for
//! the wire-parser property tests), [`fixtures`] (the recorded answers) and [`expect`] (what a
//! normalised device or a classified error must be).
#![deny(missing_docs)]

pub mod arbitrary;
pub mod expect;
pub mod fixtures;
pub mod shapes;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use mdmkit_core::http::{ClientOptions, LimitRegistry, RetryConfig};
use mdmkit_core::{
    Category, ChangesRequest, Coverage, ErrorKind, FleetConfig, GroupDelta, GroupDeltaKind,
    IntuneConfig, IruConfig, JamfConfig, JumpCloudConfig, MdmDevice, MdmProvider, MdmProviderExt,
    Pager, PagingStyle, ProviderConfig, ProviderKind, Resolution, SerialNumber, SimpleMdmConfig,
    Unresolved, Url, UserRef,
};
pub use mdmkit_sandbox::{Access, ExpectedDevice, Faults, Sandbox, SandboxConfig};

#[doc(hidden)]
pub use mdmkit_core as __core;

/// Six `#[tokio::test]`s in a module `per_provider`, one per provider (`per_provider::jamf`, ...), each
/// awaiting `check(kind)` where `check` is an `async fn(ProviderKind)` of the calling file.
#[macro_export]
macro_rules! per_provider_tests {
    ($check:ident) => {
        mod per_provider {
            $crate::per_provider_tests!(@each $check, jamf Jamf, iru Iru, simplemdm SimpleMdm,
                fleet Fleet, jumpcloud JumpCloud, intune Intune);
        }
    };
    (@each $check:ident, $($name:ident $kind:ident),*) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$check($crate::__core::ProviderKind::$kind).await
            }
        )*
    };
}

/// Builds a provider from a configuration: the provider crate's constructor, or `mdmkit::build_provider`.
pub type Factory = Arc<
    dyn Fn(ProviderConfig, &ClientOptions) -> mdmkit_core::Result<Arc<dyn MdmProvider>>
        + Send
        + Sync,
>;

/// What the checks need: which provider, and how to build it.
#[derive(Clone)]
pub struct Harness {
    /// The provider under test.
    pub kind: ProviderKind,
    factory: Factory,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness").field("kind", &self.kind).finish()
    }
}

impl Harness {
    /// A harness for `kind` built with `factory`.
    pub fn new(kind: ProviderKind, factory: Factory) -> Self {
        Harness { kind, factory }
    }

    /// Starts a sandbox with `devices` devices.
    pub async fn sandbox(&self, devices: usize) -> Sandbox {
        self.sandbox_with(SandboxConfig {
            devices,
            ..SandboxConfig::default()
        })
        .await
    }

    /// Starts a sandbox with a full configuration.
    pub async fn sandbox_with(&self, config: SandboxConfig) -> Sandbox {
        Sandbox::start(config).await.expect("the sandbox starts")
    }

    /// Builds the provider against `sandbox` with the given access and options.
    pub fn provider_with(
        &self,
        sandbox: &Sandbox,
        access: Access,
        options: &ClientOptions,
    ) -> Arc<dyn MdmProvider> {
        (self.factory)(sandbox.config(self.kind, access), options).expect("the provider builds")
    }

    /// Builds the provider against `sandbox` with the sandbox's client options.
    pub fn provider(&self, sandbox: &Sandbox, access: Access) -> Arc<dyn MdmProvider> {
        self.provider_with(sandbox, access, &sandbox.client_options())
    }

    /// Builds the provider from an explicit configuration.
    pub fn build(
        &self,
        config: ProviderConfig,
        options: &ClientOptions,
    ) -> mdmkit_core::Result<Arc<dyn MdmProvider>> {
        (self.factory)(config, options)
    }
}

/// Numbers a hostile server may send where mdmkit expects a wait, a reset or a lifetime: beyond any
/// clock, negative, empty, not numbers, and HTTP dates in all three forms, far past and far future.
pub const HOSTILE_NUMBERS: &[&str] = &[
    "18446744073709551615",
    "100000000000000000000",
    "1e20",
    "-1",
    "-18446744073709551615",
    "",
    "soon",
    "NaN",
    "inf",
    "0",
    "Thu, 01 Jan 1970 00:00:00 GMT",
    "Thursday, 01-Jan-70 00:00:00 GMT",
    "Thu Jan  1 00:00:00 1970",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "Fri Dec 31 23:59:59 9999",
];

/// A hang guard for checks against hostile servers (they end in milliseconds when nothing hangs).
const HANG_GUARD: Duration = Duration::from_secs(60);

/// Retries on, with a budget no hostile wait fits in, and no request-rate limit (the checks send a few
/// hundred requests), for the hostile-number checks.
fn hostile_options() -> ClientOptions {
    ClientOptions {
        rate_limit: Some(None),
        limit_registry: LimitRegistry::new(),
        retry: RetryConfig {
            max_attempts: 2,
            budget: Duration::from_secs(5),
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
        },
        ..ClientOptions::for_local_testing()
    }
}

/// An MDM failing in every way the sandbox can fail a successful answer, each at every request: 503s,
/// HTML error pages, malformed and truncated bodies (token responses included), and 429s with a
/// one-second `Retry-After`.
pub fn failing_mdm() -> Vec<(&'static str, Faults)> {
    let every = |set: fn(&mut Faults)| {
        let mut faults = Faults::default();
        set(&mut faults);
        faults
    };
    vec![
        ("503s", every(|f| f.server_errors = 1.0)),
        ("HTML error pages", every(|f| f.html_errors = 1.0)),
        ("malformed JSON", every(|f| f.malformed = 1.0)),
        ("truncated bodies", every(|f| f.truncated = 1.0)),
        (
            "429 with Retry-After",
            every(|f| {
                f.rate_limited = 1.0;
                f.retry_after = Duration::from_secs(1);
            }),
        ),
    ]
}

/// Options with quick, bounded retries, so failure checks finish fast.
pub fn quick_options(sandbox: &Sandbox) -> ClientOptions {
    ClientOptions {
        retry: RetryConfig {
            max_attempts: 2,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            ..RetryConfig::default()
        },
        ..sandbox.client_options()
    }
}

/// The same configuration with every endpoint moved to `base` (for unreachable-host checks).
pub fn with_base_url(mut config: ProviderConfig, base: &Url) -> ProviderConfig {
    match &mut config {
        ProviderConfig::Jamf(c) => c.base_url = base.clone(),
        ProviderConfig::Iru(c) => {
            c.base_url = base.clone();
            c.custom_endpoint = true;
        }
        ProviderConfig::SimpleMdm(c) => c.base_url = Some(base.clone()),
        ProviderConfig::Fleet(c) => c.base_url = base.clone(),
        ProviderConfig::JumpCloud(c) => c.base_url = Some(base.clone()),
        ProviderConfig::Intune(c) => {
            c.graph_url = Some(base.clone());
            c.login_url = Some(base.clone());
        }
        _ => {}
    }
    config
}

fn expected_by_id(sandbox: &Sandbox, kind: ProviderKind) -> BTreeMap<String, ExpectedDevice> {
    sandbox
        .expected_devices(kind)
        .into_iter()
        .map(|d| (d.device_id.clone(), d))
        .collect()
}

fn assert_matches_expected(device: &MdmDevice, expected: &ExpectedDevice, context: &str) {
    let display_name = if context == "lookup" {
        &expected.display_name
    } else {
        &expected.list_display_name
    };
    assert_eq!(device.device_id, expected.device_id, "{context}: device id");
    assert_eq!(
        device.serial_number.as_ref().map(SerialNumber::as_str),
        Some(
            SerialNumber::parse(&expected.serial_number)
                .unwrap()
                .as_str()
        ),
        "{context}: serial of {}",
        expected.device_id
    );
    assert_eq!(
        device.user_id, expected.user_id,
        "{context}: user id of {}",
        expected.device_id
    );
    assert_eq!(
        device.display_name.as_deref(),
        Some(display_name.as_str()),
        "{context}: display name (user name, else device name) of {}",
        expected.device_id
    );
}

/// Group id to (name, members), as a caller applying [`GroupDelta`]s keeps it.
type GroupState = BTreeMap<String, (String, Vec<String>)>;

/// Applies a delta read to `state`: a full read replaces it, changes update it.
fn apply_delta(state: &mut GroupState, delta: &GroupDelta) {
    if delta.kind == GroupDeltaKind::Full {
        state.clear();
    }
    for id in &delta.removed {
        state.remove(id);
    }
    for g in &delta.groups {
        state.insert(g.id.clone(), (g.name.clone(), g.member_device_ids.clone()));
    }
}

fn expected_group_state(sandbox: &Sandbox, kind: ProviderKind) -> GroupState {
    sandbox
        .expected_groups(kind)
        .into_iter()
        .map(|g| (g.id, (g.name, g.members)))
        .collect()
}

/// Every device of a listing read page by page with `resolution`, then resolved as a caller with an
/// empty cache would: the marked rows' names and users read through the provider.
pub async fn list_and_resolve(
    provider: &dyn MdmProvider,
    resolution: Resolution,
) -> mdmkit_core::Result<Vec<MdmDevice>> {
    let mut pager = Pager::new(provider.device_paging());
    let mut listed = Vec::new();
    while let Some(request) = pager.next_request().cloned() {
        let page = provider
            .list_devices_page_with(&request, resolution)
            .await?;
        pager.record(&page, MdmDevice::row_id)?;
        listed.extend(page.items);
    }
    let names: Vec<UserRef> = listed
        .iter()
        .filter(|d| d.unresolved == Some(Unresolved::UserName))
        .filter_map(|d| Some(UserRef::new(d.user_id.clone()?, d.device_id.clone())))
        .collect();
    let users: Vec<String> = listed
        .iter()
        .filter(|d| d.unresolved == Some(Unresolved::User))
        .map(|d| d.device_id.clone())
        .collect();
    let names: BTreeMap<String, Option<String>> = provider
        .resolve_user_names(&names)
        .await?
        .into_iter()
        .map(|n| (n.user_id, n.name))
        .collect();
    let users: BTreeMap<String, (Option<String>, Option<String>)> = provider
        .resolve_device_users(&users)
        .await?
        .into_iter()
        .map(|u| (u.device_id, (u.user_id, u.user_name)))
        .collect();
    for device in &mut listed {
        match device.unresolved {
            Some(Unresolved::UserName) => {
                if let Some(name) = device.user_id.as_ref().and_then(|u| names.get(u)) {
                    device.resolve_user_name(name.clone());
                }
            }
            Some(Unresolved::User) => {
                if let Some((user, name)) = users.get(&device.device_id) {
                    device.resolve_user(user.clone(), name.clone());
                }
            }
            _ => {}
        }
    }
    Ok(listed)
}

/// The individual checks. Each starts its own sandbox, so they run in parallel.
pub mod checks {
    use super::*;

    /// Valid credentials pass the test call.
    pub async fn validate_succeeds(h: &Harness) {
        let sandbox = h.sandbox(5).await;
        h.provider(&sandbox, Access::Full)
            .validate()
            .await
            .expect("valid credentials validate");
    }

    /// Wrong credentials give Unauthorized.
    pub async fn validate_bad_credentials_is_unauthorized(h: &Harness) {
        let sandbox = h.sandbox(5).await;
        let err = h
            .provider_with(&sandbox, Access::WrongSecret, &quick_options(&sandbox))
            .validate()
            .await
            .expect_err("wrong credentials must fail");
        assert_eq!(err.category(), Category::Unauthorized, "{err}");
    }

    /// Credentials without device access give Forbidden at validation time, not later.
    pub async fn validate_missing_permission_is_forbidden(h: &Harness) {
        let sandbox = h.sandbox(5).await;
        let err = h
            .provider_with(&sandbox, Access::NoDeviceRead, &quick_options(&sandbox))
            .validate()
            .await
            .expect_err("missing device access must fail validation");
        assert_eq!(err.category(), Category::Forbidden, "{err}");
    }

    /// A host nobody listens on gives Connection failed.
    pub async fn validate_unreachable_host_is_connection_failed(h: &Harness) {
        let sandbox = h.sandbox(1).await;
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let base = Url::parse(&format!("http://127.0.0.1:{closed}/")).unwrap();
        let config = with_base_url(sandbox.config(h.kind, Access::Full), &base);
        let err = h
            .build(config, &quick_options(&sandbox))
            .unwrap()
            .validate()
            .await
            .expect_err("nothing listens there");
        assert_eq!(err.category(), Category::ConnectionFailed, "{err}");
    }

    /// A server whose certificate is not trusted gives SSL error.
    pub async fn validate_untrusted_tls_is_ssl_error(h: &Harness) {
        let sandbox = h
            .sandbox_with(SandboxConfig {
                devices: 1,
                tls: true,
                ..SandboxConfig::default()
            })
            .await;
        let untrusting = ClientOptions {
            extra_root_ca_pem: None,
            ..quick_options(&sandbox)
        };
        let err = h
            .provider_with(&sandbox, Access::Full, &untrusting)
            .validate()
            .await
            .expect_err("an untrusted certificate must fail");
        assert_eq!(err.category(), Category::Ssl, "{err}");
        // And the same server is fine once its CA is trusted.
        h.provider(&sandbox, Access::Full).validate().await.unwrap();
    }

    /// Every hostile `Retry-After` and `X-RateLimit-*` value on a 429 and a 503, from every endpoint
    /// (token endpoints included): validation ends with the status's kind, never a panic or a hang.
    pub async fn hostile_wait_headers_end_in_the_status_category(h: &Harness) {
        let sandbox = h.sandbox(1).await;
        let server = httpmock::MockServer::start_async().await;
        let base = Url::parse(&format!("{}/", server.base_url())).unwrap();
        let config = with_base_url(sandbox.config(h.kind, Access::Full), &base);
        for status in [429u16, 503] {
            for header in ["Retry-After", "X-RateLimit-Reset"] {
                for value in HOSTILE_NUMBERS {
                    // A provider with limits of its own per case: a server's pause (a 429's wait, an
                    // exhausted rate window) rightly holds every later request to that server.
                    let provider = h.build(config.clone(), &hostile_options()).unwrap();
                    let mock = server
                        .mock_async(|when, then| {
                            when.any_request();
                            then.status(status)
                                .header("content-type", "application/json")
                                .header(header, *value)
                                .header("X-RateLimit-Remaining", "0")
                                .header("X-RateLimit-Limit", *value)
                                .body("{}");
                        })
                        .await;
                    let err = tokio::time::timeout(HANG_GUARD, provider.validate())
                        .await
                        .unwrap_or_else(|_| panic!("{header}: {value:?} hung"))
                        .expect_err("a 429 or 503 must fail validation");
                    let expected = mdmkit_core::http::kind_for_status(
                        mdmkit_core::http::StatusCode::from_u16(status).unwrap(),
                    );
                    assert_eq!(err.kind(), expected, "{status} {header}: {value:?}: {err}");
                    mock.delete_async().await;
                }
            }
        }
    }

    /// A token endpoint answering hostile `expires_in` values (Jamf, Intune; other providers send no
    /// token request): the token is used or refused as an invalid response, never a panic.
    pub async fn hostile_token_lifetimes_never_panic(h: &Harness) {
        let sandbox = h.sandbox(1).await;
        let server = httpmock::MockServer::start_async().await;
        let base = Url::parse(&format!("{}/", server.base_url())).unwrap();
        let config = with_base_url(sandbox.config(h.kind, Access::Full), &base);
        for expires_in in HOSTILE_NUMBERS {
            let body = format!(
                r#"{{"access_token":"t","token_type":"Bearer","expires_in":{}}}"#,
                if expires_in.is_empty() {
                    "null"
                } else {
                    expires_in
                }
            );
            let token = server
                .mock_async(|when, then| {
                    when.method(httpmock::Method::POST);
                    then.status(200)
                        .header("content-type", "application/json")
                        .body(&body);
                })
                .await;
            let rest = server
                .mock_async(|when, then| {
                    when.any_request();
                    then.status(503)
                        .header("content-type", "application/json")
                        .body("{}");
                })
                .await;
            let provider = h.build(config.clone(), &hostile_options()).unwrap();
            let err = tokio::time::timeout(HANG_GUARD, provider.validate())
                .await
                .unwrap_or_else(|_| panic!("expires_in {expires_in:?} hung"))
                .expect_err("the API answers 503");
            assert!(
                matches!(err.kind(), ErrorKind::Server | ErrorKind::InvalidResponse),
                "expires_in {expires_in:?}: {err}"
            );
            token.delete_async().await;
            rest.delete_async().await;
        }
    }

    /// A provider that only answers 5xx gives Server error.
    pub async fn validate_server_errors_are_server_error(h: &Harness) {
        let mut config = SandboxConfig {
            devices: 1,
            ..SandboxConfig::default()
        };
        config.faults.insert(
            h.kind,
            Faults {
                server_errors: 1.0,
                ..Faults::default()
            },
        );
        let sandbox = h.sandbox_with(config).await;
        let err = h
            .provider_with(&sandbox, Access::Full, &quick_options(&sandbox))
            .validate()
            .await
            .expect_err("a failing server must fail validation");
        assert_eq!(err.category(), Category::Server, "{err}");
    }

    /// Lookup by serial finds exactly the right device, whatever the input's case, and never the device
    /// whose serial merely contains the one asked for.
    pub async fn lookup_finds_exactly_the_right_device(h: &Harness) {
        let sandbox = h.sandbox(20).await;
        let provider = h.provider(&sandbox, Access::Full);
        let expected = sandbox.expected_devices(h.kind);
        for wanted in expected.iter().take(4) {
            let serial = SerialNumber::parse(&wanted.serial_number.to_lowercase()).unwrap();
            let found = provider.devices_by_serial(&serial).await.unwrap();
            assert_eq!(found.len(), 1, "exactly one device for {serial}: {found:?}");
            assert_matches_expected(&found[0], wanted, "lookup");
        }
    }

    /// A serial the MDM does not know gives no device (not an error).
    pub async fn lookup_unknown_serial_is_none(h: &Harness) {
        let sandbox = h.sandbox(5).await;
        let provider = h.provider(&sandbox, Access::Full);
        let serial = SerialNumber::parse("NOSUCHSERIAL9").unwrap();
        assert_eq!(provider.device_by_serial(&serial).await.unwrap(), None);
    }

    /// The bulk listing returns every device exactly once, across several pages, with R4 metadata.
    pub async fn listing_returns_every_device_once(h: &Harness) {
        let probe = h.sandbox(1).await;
        let page = probe.max_page_size(h.kind);
        drop(probe);
        let sandbox = h.sandbox(page * 2 + 3).await;
        let provider = h.provider(&sandbox, Access::Full);
        let listed = provider.all_devices().await.unwrap();
        let expected = expected_by_id(&sandbox, h.kind);
        let ids: Vec<&str> = listed.iter().map(|d| d.device_id.as_str()).collect();
        let unique: BTreeSet<&str> = ids.iter().copied().collect();
        assert_eq!(ids.len(), unique.len(), "no device listed twice");
        assert_eq!(
            unique,
            expected.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            "every device listed"
        );
        for device in &listed {
            assert_matches_expected(device, &expected[&device.device_id], "listing");
        }
    }

    /// Groups and their members match the seeded fleet.
    pub async fn groups_match_the_fleet(h: &Harness) {
        let sandbox = h.sandbox(60).await;
        let provider = h.provider(&sandbox, Access::Full);
        let mut got: Vec<(String, String, Vec<String>)> = provider
            .groups()
            .await
            .unwrap()
            .into_iter()
            .map(|g| (g.id, g.name, g.member_device_ids))
            .collect();
        let mut want: Vec<(String, String, Vec<String>)> = sandbox
            .expected_groups(h.kind)
            .into_iter()
            .map(|g| (g.id, g.name, g.members))
            .collect();
        got.sort();
        want.sort();
        assert_eq!(got, want);
        // A change in the MDM shows on the next read.
        let group = sandbox.mutate(|f| f.add_group("Freshly made", [0, 1]));
        sandbox.mutate(|f| f.rename_group(0, "Renamed in the MDM"));
        let names: Vec<String> = provider
            .groups()
            .await
            .unwrap()
            .into_iter()
            .map(|g| g.name)
            .collect();
        assert!(names.contains(&"Freshly made".to_owned()), "{names:?}");
        assert!(
            names.contains(&"Renamed in the MDM".to_owned()),
            "{names:?}"
        );
        let _ = group;
    }

    /// Display names follow R4: the assigned user's name, else the device name; unassigned devices have no
    /// user id.
    pub async fn display_names_follow_r4(h: &Harness) {
        let sandbox = h.sandbox(30).await;
        let provider = h.provider(&sandbox, Access::Full);
        let fleet = sandbox.fleet();
        let expected = expected_by_id(&sandbox, h.kind);
        let listed = provider.all_devices().await.unwrap();
        let mut saw_unassigned = false;
        let mut saw_assigned = false;
        for device in &listed {
            let want = &expected[&device.device_id];
            let sim = &fleet.devices[&want.index];
            match fleet.user_of(sim) {
                Some(_) if want.user_id.is_some() => saw_assigned = true,
                None => {
                    saw_unassigned = true;
                    assert_eq!(device.user_id, None, "unassigned device has no user id");
                    assert_eq!(device.display_name.as_deref(), Some(sim.name.as_str()));
                }
                _ => {}
            }
            assert_matches_expected(device, want, "display name rule");
        }
        assert!(saw_unassigned, "the fleet has unassigned devices");
        assert!(
            saw_assigned || expected.values().all(|e| e.user_id.is_none()),
            "the fleet has assigned devices"
        );
    }

    /// Every listed device has a well-formed https link that names its id.
    pub async fn deep_links_are_well_formed(h: &Harness) {
        let sandbox = h.sandbox(5).await;
        let provider = h.provider(&sandbox, Access::Full);
        for device in provider.all_devices().await.unwrap() {
            let mdmkit_core::DeviceLink { label, url } =
                provider.device_link(&device.device_id).expect("a link");
            assert_eq!(label, format!("View on {}", h.kind.display_name()));
            assert!(
                url.as_str().contains(&device.device_id),
                "{url} names {}",
                device.device_id
            );
            assert!(matches!(url.scheme(), "https" | "http"));
        }
        assert_eq!(provider.device_url(""), None);
    }

    /// A listing survives token expiry between pages, 429s and 5xx, without losing or repeating devices.
    pub async fn listing_survives_expiry_429_and_5xx(h: &Harness) {
        let probe = h.sandbox(1).await;
        let page = probe.max_page_size(h.kind);
        drop(probe);
        let sandbox = h.sandbox(page * 3 + 1).await;
        let provider = h.provider(&sandbox, Access::Full);
        let expected = expected_by_id(&sandbox, h.kind);
        provider.validate().await.unwrap();
        // About three 429s per listing (each costs a one-second Retry-After), and a 5xx every fourth
        // request.
        let page_size = provider.device_paging().page_size().unwrap_or(page as u32) as usize;
        let expected_requests =
            (page * 3 + 1).div_ceil(page_size) + sandbox.listing_extra_requests(h.kind) + 4;
        sandbox.set_faults(
            h.kind,
            Faults {
                rate_limited: (3.0 / expected_requests as f64).min(0.2),
                retry_after: Duration::from_secs(1),
                server_errors: 0.25,
                ..Faults::default()
            },
        );
        let mut pager = Pager::new(provider.device_paging());
        let mut listed = Vec::new();
        while let Some(request) = pager.next_request().cloned() {
            if pager.pages() == 1 {
                // Tokens issued so far die between pages (a no-op for static-token providers).
                sandbox.expire_tokens(h.kind);
            }
            let page = provider.list_devices_page(&request).await.unwrap();
            pager.record(&page, MdmDevice::row_id).unwrap();
            listed.extend(page.items);
        }
        let ids: BTreeSet<String> = listed.iter().map(|d| d.device_id.clone()).collect();
        assert_eq!(ids.len(), listed.len(), "no duplicates");
        assert_eq!(
            ids,
            expected.keys().cloned().collect::<BTreeSet<_>>(),
            "no loss"
        );
    }

    /// A bulk listing costs close to ceil(devices / page size) requests.
    pub async fn request_counts_stay_near_the_bulk_lower_bound(h: &Harness) {
        let probe = h.sandbox(1).await;
        let page = probe.max_page_size(h.kind);
        drop(probe);
        let devices = page * 3 + 5;
        let sandbox = h.sandbox(devices).await;
        let provider = h.provider(&sandbox, Access::Full);
        let page_size = provider.device_paging().page_size().unwrap_or(page as u32) as usize;
        let before = sandbox.request_count(h.kind);
        let listed: Vec<MdmDevice> = provider.device_stream().try_collect().await.unwrap();
        let used = sandbox.request_count(h.kind) - before;
        let lower_bound = devices.div_ceil(page_size);
        let extra = sandbox.listing_extra_requests(h.kind);
        println!(
            "{}: {} devices listed with {used} requests (page size {page_size}, lower bound {lower_bound}, \
             {extra} unavoidable directory pages and per-device reads)",
            h.kind.display_name(),
            listed.len()
        );
        assert_eq!(listed.len(), devices);
        // Device pages, plus at most as many again for joined directories, a few probes and the token.
        let budget = lower_bound * 2 + 4 + extra;
        assert!(
            used as usize <= budget,
            "{used} requests for {devices} devices; the lower bound is {lower_bound}, the budget {budget}"
        );
        assert_eq!(provider.request_count(), sandbox.request_count(h.kind));
    }

    /// A provider that tracks changes lists exactly the devices changed since a time (here: three touched
    /// an hour after everything else), with R4 metadata; one that does not refuses and says to use the
    /// bulk listing.
    pub async fn changes_list_what_changed_since(h: &Harness) {
        let sandbox = h.sandbox(40).await;
        let provider = h.provider(&sandbox, Access::Full);
        let touched = [2u32, 7, 11];
        let since = sandbox.mutate(|f| {
            f.advance(Duration::from_secs(3600));
            let since = f.now();
            for i in touched {
                f.touch_device(i);
            }
            since
        });
        if !provider.change_tracking().is_supported() {
            let err = provider
                .list_changed_devices_page(&ChangesRequest::first(since, Resolution::Inline))
                .await
                .expect_err("no change tracking: the bulk listing is the way");
            assert_eq!(err.kind(), ErrorKind::InvalidConfiguration, "{err}");
            return;
        }
        let changed = provider.changed_devices(since).await.unwrap();
        assert_eq!(changed.coverage, Coverage::Changed);
        let expected = expected_by_id(&sandbox, h.kind);
        let want: BTreeSet<String> = expected
            .values()
            .filter(|e| touched.contains(&e.index))
            .map(|e| e.device_id.clone())
            .collect();
        let got: BTreeSet<String> = changed
            .devices
            .iter()
            .map(|d| d.device_id.clone())
            .collect();
        assert_eq!(got, want, "exactly the devices changed since {since}");
        for device in &changed.devices {
            assert_matches_expected(device, &expected[&device.device_id], "listing");
        }
        // Nothing changed since: nothing listed.
        let later = sandbox.mutate(|f| {
            f.advance(Duration::from_secs(3600));
            f.now()
        });
        assert!(provider
            .changed_devices(later)
            .await
            .unwrap()
            .devices
            .is_empty());
    }

    /// A deferred listing, once its marked rows are resolved, says what an inline listing says.
    pub async fn deferred_listing_resolves_like_the_inline_listing(h: &Harness) {
        let sandbox = h.sandbox(30).await;
        let provider = h.provider(&sandbox, Access::Full);
        let expected = expected_by_id(&sandbox, h.kind);
        let listed = list_and_resolve(provider.as_ref(), Resolution::Deferred)
            .await
            .unwrap();
        assert_eq!(listed.len(), expected.len());
        for device in &listed {
            assert_matches_expected(device, &expected[&device.device_id], "listing");
        }
    }

    /// Adds latency to `kind`'s answers, so that requests sent together are in progress together, and
    /// starts the request counts (and the most in progress at once) afresh.
    fn measure_with_latency(sandbox: &Sandbox, kind: ProviderKind) {
        sandbox.set_faults(
            kind,
            Faults {
                latency: Duration::from_millis(30),
                ..Faults::default()
            },
        );
        sandbox.reset_request_counts();
    }

    /// A deferred listing (no per-device read) costs its device pages, one after another, and the user
    /// directory's pages once, those after the first (which counts the users) read together at the
    /// allowed concurrency; the sandbox counts the requests and sees how many were in progress at once.
    pub async fn deferred_listing_reads_its_directory_once_and_ahead(h: &Harness) {
        let devices = 2_450;
        let sandbox = h.sandbox(devices).await;
        let options = sandbox.client_options();
        let provider = h.provider_with(&sandbox, Access::Full, &options);
        // The device pages a listing asks for, counted here; the sandbox counts every request.
        let list = || async {
            let mut pager = Pager::new(provider.device_paging());
            while let Some(request) = pager.next_request().cloned() {
                let page = provider
                    .list_devices_page_with(&request, Resolution::Deferred)
                    .await
                    .unwrap();
                pager.record(&page, MdmDevice::row_id).unwrap();
            }
            assert_eq!(pager.rows(), devices as u64);
            pager.pages() as usize
        };
        // A first listing gets the tokens and probes: the second is measured, alone.
        list().await;
        measure_with_latency(&sandbox, h.kind);
        let pages = list().await;
        let directory = sandbox.listing_directory_requests(h.kind);
        let fan_out = options.limits_for(h.kind).max_concurrency;
        assert_eq!(
            (
                sandbox.request_count(h.kind) as usize,
                sandbox.peak_concurrency(h.kind) as usize
            ),
            (
                pages + directory,
                directory.saturating_sub(1).clamp(1, fan_out)
            ),
            "{}: (requests, most at once) for {devices} devices, {directory} directory pages",
            h.kind
        );
    }

    /// A device stream reads the pages after the first [`MdmProvider::device_pages_at_once`] at a time
    /// (never more than the client's limit allows), hands them on in order, and costs its pages alone.
    /// No device has a user, so the pages are all a listing reads (and Jamf's first user page).
    pub async fn device_pages_are_read_ahead_at_the_providers_width(h: &Harness) {
        let pages = 4;
        let page_size = {
            let sandbox = h.sandbox(1).await;
            let provider = h.provider(&sandbox, Access::Full);
            let asked = provider.device_paging().page_size().map(|s| s as usize);
            asked
                .unwrap_or(usize::MAX)
                .min(sandbox.max_page_size(h.kind))
        };
        let devices = (pages - 1) * page_size + 1;
        let sandbox = h.sandbox(devices).await;
        sandbox.mutate(|f| {
            let all: Vec<u32> = f.devices.keys().copied().collect();
            for d in all {
                f.assign_user(d, None);
            }
        });
        let options = sandbox.client_options();
        let provider = h.provider_with(&sandbox, Access::Full, &options);
        let at_once = provider.device_pages_at_once();
        let fan_out = options.limits_for(h.kind).max_concurrency;
        assert!(
            (1..=fan_out).contains(&at_once),
            "{}: {at_once} pages at once, limit {fan_out}",
            h.kind
        );
        let list = || async {
            let ids: Vec<String> =
                mdmkit_core::device_stream_with(provider.as_ref(), 10_000, Resolution::Deferred)
                    .map_ok(|d| d.device_id)
                    .try_collect()
                    .await
                    .unwrap();
            ids
        };
        // A first listing gets the tokens and probes: the second is measured, alone.
        let first = list().await;
        measure_with_latency(&sandbox, h.kind);
        let listed = list().await;
        assert_eq!(listed, first, "{}: the same rows in the same order", h.kind);
        assert_eq!(listed.len(), devices, "{}", h.kind);
        let (requests, peak) = (
            sandbox.request_count(h.kind) as usize,
            sandbox.peak_concurrency(h.kind) as usize,
        );
        // The sandbox's Graph ends with an empty page that has a next link, as Graph may; Jamf reads its
        // user directory's first page alongside its first computers, users or not.
        let trailing = usize::from(provider.device_paging() == PagingStyle::NextLink);
        let alongside = usize::from(h.kind == ProviderKind::Jamf);
        assert_eq!(
            (requests, peak),
            (pages + trailing + alongside, at_once.min(pages - 1)),
            "{}: (requests, most at once) for {devices} devices in {pages} pages",
            h.kind
        );
    }

    /// Reading groups by delta, applied the way a caller applies it, always gives the MDM's groups: after
    /// a first read, after changes (renamed, moved members, a new and a deleted group) and after the
    /// delta state expired. A provider with deltas answers changes only.
    pub async fn group_deltas_track_the_fleet(h: &Harness) {
        // 16 groups, so a delta touching four of them shows it reads only those.
        let sandbox = h.sandbox(400).await;
        let provider = h.provider(&sandbox, Access::Full);
        let mut state = GroupState::new();
        let first = provider.groups_delta(None).await.unwrap();
        assert_eq!(first.kind, GroupDeltaKind::Full);
        apply_delta(&mut state, &first);
        assert_eq!(state, expected_group_state(&sandbox, h.kind));
        let total = state.len();
        sandbox.mutate(|f| {
            f.rename_group(0, "Renamed by delta");
            let moved = *f.groups[&1].members.iter().next().unwrap();
            let mut members = f.groups[&1].members.clone();
            members.remove(&moved);
            f.set_group_members(1, members);
            let mut members = f.groups[&2].members.clone();
            members.insert(moved);
            f.set_group_members(2, members);
            let last = *f.groups.keys().last().unwrap();
            f.delete_group(last);
            f.add_group("Made after the first read", [3, 4]);
        });
        let second = provider.groups_delta(first.token.as_ref()).await.unwrap();
        apply_delta(&mut state, &second);
        assert_eq!(state, expected_group_state(&sandbox, h.kind));
        if provider.supports_group_delta() {
            assert_eq!(second.kind, GroupDeltaKind::Changes);
            assert!(
                second.groups.len() < total,
                "a delta reads only what changed ({} of {total})",
                second.groups.len()
            );
            assert!(second.token.is_some());
        }
        sandbox.expire_group_delta_links();
        sandbox.mutate(|f| f.rename_group(2, "Renamed after expiry"));
        let third = provider.groups_delta(second.token.as_ref()).await.unwrap();
        if provider.supports_group_delta() {
            assert_eq!(
                third.kind,
                GroupDeltaKind::Full,
                "an expired delta reads everything"
            );
        }
        apply_delta(&mut state, &third);
        assert_eq!(state, expected_group_state(&sandbox, h.kind));
    }

    /// Against a live tenant when `MDMKIT_TEST_<PROVIDER>_*` is set: validate, list, look up the first
    /// listed device, read groups. Skips, saying so, when none of the variables is set; fails when some
    /// are set but not all, or their values make no valid configuration (a typo must not pass as a skip).
    pub async fn live_tenant(h: &Harness) {
        let config = live_config(h.kind).unwrap_or_else(|e| panic!("{e}"));
        let Some(config) = config else {
            eprintln!(
                "skipping the live {} check: set {} to run it",
                h.kind.display_name(),
                live_variables(h.kind).join(", ")
            );
            return;
        };
        let provider = h.build(config, &ClientOptions::default()).unwrap();
        provider.validate().await.unwrap();
        let devices = provider.all_devices().await.unwrap();
        let unique: BTreeSet<&str> = devices.iter().map(|d| d.device_id.as_str()).collect();
        assert_eq!(
            unique.len(),
            devices.len(),
            "no duplicates in the live listing"
        );
        if let Some(first) = devices.iter().find(|d| d.serial_number.is_some()) {
            let serial = first.serial_number.clone().unwrap();
            let found = provider.devices_by_serial(&serial).await.unwrap();
            assert!(found.iter().any(|d| d.device_id == first.device_id));
        }
        provider.groups().await.unwrap();
        let unknown = SerialNumber::parse("MDMKITNOSUCH1").unwrap();
        match provider.device_by_serial(&unknown).await {
            Ok(None) => {}
            other => panic!("an unknown serial gives no device, got {other:?}"),
        }
        let _ = ErrorKind::NotFound;
    }
}

/// The environment variables that configure the live check of `kind`.
pub fn live_variables(kind: ProviderKind) -> Vec<String> {
    let prefix = format!("MDMKIT_TEST_{}_", kind.id().to_uppercase());
    let names: &[&str] = match kind {
        ProviderKind::Jamf => &["HOST", "CLIENT_ID", "CLIENT_SECRET"],
        ProviderKind::Iru | ProviderKind::Fleet => &["HOST", "API_TOKEN"],
        ProviderKind::SimpleMdm => &["API_KEY"],
        ProviderKind::JumpCloud => &["API_TOKEN"],
        ProviderKind::Intune => &["TENANT_ID", "CLIENT_ID", "CLIENT_SECRET"],
        _ => &[],
    };
    names.iter().map(|n| format!("{prefix}{n}")).collect()
}

/// The live tenant configuration from `MDMKIT_TEST_<PROVIDER>_*`: `Ok(None)` when none of the variables is
/// set, an error naming the problem when some are missing or the values are not a valid configuration.
pub fn live_config(kind: ProviderKind) -> Result<Option<ProviderConfig>, String> {
    live_config_from(kind, |name| std::env::var(name).ok())
}

/// [`live_config`] reading the variables through `lookup` (blank values count as unset). Errors name
/// variables and the configuration's own error, never a value.
pub fn live_config_from(
    kind: ProviderKind,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<ProviderConfig>, String> {
    let names = live_variables(kind);
    let values: Vec<Option<String>> = names
        .iter()
        .map(|name| lookup(name).filter(|v| !v.trim().is_empty()))
        .collect();
    if values.iter().all(Option::is_none) {
        return Ok(None);
    }
    let missing: Vec<&str> = names
        .iter()
        .zip(&values)
        .filter(|(_, v)| v.is_none())
        .map(|(n, _)| n.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the live {} check is half configured: {} not set",
            kind.display_name(),
            missing.join(", ")
        ));
    }
    let v: Vec<String> = values.into_iter().flatten().collect();
    let config = match kind {
        ProviderKind::Jamf => JamfConfig::new(&v[0], &v[1], v[2].clone()).map(ProviderConfig::Jamf),
        ProviderKind::Iru => IruConfig::new(&v[0], v[1].clone()).map(ProviderConfig::Iru),
        ProviderKind::Fleet => FleetConfig::new(&v[0], v[1].clone()).map(ProviderConfig::Fleet),
        ProviderKind::SimpleMdm => {
            SimpleMdmConfig::new(v[0].clone()).map(ProviderConfig::SimpleMdm)
        }
        ProviderKind::JumpCloud => {
            JumpCloudConfig::new(v[0].clone()).map(ProviderConfig::JumpCloud)
        }
        ProviderKind::Intune => {
            IntuneConfig::new(&v[0], &v[1], v[2].clone()).map(ProviderConfig::Intune)
        }
        _ => return Ok(None),
    };
    config.map(Some).map_err(|e| {
        format!(
            "the live {} check's variables ({}) are set but invalid: {e}",
            kind.display_name(),
            names.join(", ")
        )
    })
}

/// Generates one `#[tokio::test]` per conformance check for a provider.
///
/// `$factory` is a closure `|ProviderConfig, &ClientOptions| -> mdmkit_core::Result<Arc<dyn MdmProvider>>`.
#[macro_export]
macro_rules! conformance_suite {
    ($kind:expr, $factory:expr) => {
        mod conformance {
            #[allow(unused_imports)]
            use super::*;

            fn harness() -> $crate::Harness {
                $crate::Harness::new($kind, ::std::sync::Arc::new($factory))
            }

            $crate::conformance_suite!(@checks
                validate_succeeds,
                validate_bad_credentials_is_unauthorized,
                validate_missing_permission_is_forbidden,
                validate_unreachable_host_is_connection_failed,
                validate_untrusted_tls_is_ssl_error,
                validate_server_errors_are_server_error,
                lookup_finds_exactly_the_right_device,
                lookup_unknown_serial_is_none,
                listing_returns_every_device_once,
                groups_match_the_fleet,
                display_names_follow_r4,
                deep_links_are_well_formed,
                listing_survives_expiry_429_and_5xx,
                request_counts_stay_near_the_bulk_lower_bound,
                hostile_wait_headers_end_in_the_status_category,
                hostile_token_lifetimes_never_panic,
                changes_list_what_changed_since,
                deferred_listing_resolves_like_the_inline_listing,
                deferred_listing_reads_its_directory_once_and_ahead,
                device_pages_are_read_ahead_at_the_providers_width,
                group_deltas_track_the_fleet,
                live_tenant
            );
        }
    };
    (@checks $($check:ident),*) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                $crate::checks::$check(&harness()).await
            }
        )*
    };
}
