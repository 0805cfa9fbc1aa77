//! The SimpleMDM provider against a local mock of the API (httpmock), with fixtures in the documented
//! wire shapes (`fixtures/simplemdm/`).
//!
//! httpmock serves a request with the first-created mock that matches it, so every test creates its
//! specific mocks first and the catch-all last; the catch-all answers 418 and each test asserts it was
//! never hit, so any request the connector was not expected to make fails the test.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use httpmock::prelude::*;
use httpmock::Mock;
use mdmkit_core::http::ClientOptions;
use mdmkit_core::{
    Category, ErrorKind, MdmProvider, MdmProviderExt, PageRequest, PagingStyle, ProviderKind,
    SerialNumber, Url,
};
use mdmkit_simplemdm::{SimpleMdmConfig, SimpleMdmProvider, PAGE_SIZE};
use serde_json::{json, Value};

const KEY: &str = "smdm-test-4f1c9a7e2b";
/// `base64("smdm-test-4f1c9a7e2b:")`: the key as user name, an empty password.
const BASIC: &str = "Basic c21kbS10ZXN0LTRmMWM5YTdlMmI6";

fn fixture(name: &str) -> String {
    mdmkit_testkit::fixtures::read(mdmkit_core::ProviderKind::SimpleMdm, name)
}

/// A mock SimpleMDM.
struct Api {
    server: MockServer,
}

impl Api {
    async fn start() -> Api {
        Api {
            server: MockServer::start_async().await,
        }
    }

    fn config(&self, user_attribute: Option<&str>) -> SimpleMdmConfig {
        let mut config = SimpleMdmConfig::new(KEY).unwrap();
        config.base_url = Some(Url::parse(&self.server.base_url()).unwrap());
        config.user_attribute = user_attribute.map(str::to_owned);
        config
    }

    fn provider(&self) -> SimpleMdmProvider {
        self.provider_with(None)
    }

    fn provider_with(&self, user_attribute: Option<&str>) -> SimpleMdmProvider {
        SimpleMdmProvider::new(
            self.config(user_attribute),
            &ClientOptions::for_local_testing(),
        )
        .unwrap()
    }

    /// Mocks a `GET` of `path` carrying the expected credentials, matching `query` exactly for the given
    /// keys and requiring the keys in `absent` to be missing. No request may ask for secret custom
    /// attribute values: they never pass through mdmkit.
    async fn get(
        &self,
        path: &str,
        query: &[(&str, &str)],
        absent: &[&str],
        status: u16,
        body: String,
    ) -> Mock<'_> {
        let path = path.to_owned();
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let absent: Vec<String> = absent.iter().map(|s| s.to_string()).collect();
        self.server
            .mock_async(move |mut when, then| {
                when = when
                    .method(GET)
                    .path(path)
                    .header("authorization", BASIC)
                    .query_param_missing("include_secret_custom_attributes");
                for (k, v) in query {
                    when = when.query_param(k, v);
                }
                for k in absent {
                    when = when.query_param_missing(k);
                }
                then.status(status)
                    .header("content-type", "application/json")
                    .body(body);
            })
            .await
    }

    /// One page of the device listing (no search), after `after`.
    async fn devices_page(&self, after: Option<&str>, body: String) -> Mock<'_> {
        let mut query = vec![("limit", "100"), ("include_awaiting_enrollment", "true")];
        let mut absent = vec!["search"];
        match after {
            Some(after) => query.push(("starting_after", after)),
            None => absent.push("starting_after"),
        }
        self.get("/api/v1/devices", &query, &absent, 200, body)
            .await
    }

    /// Must be created after every other mock: answers anything else, and must never be hit.
    async fn catch_all(&self) -> Mock<'_> {
        self.server
            .mock_async(|when, then| {
                when.any_request();
                then.status(418).body("unexpected request");
            })
            .await
    }
}

async fn assert_no_unexpected(catch_all: &Mock<'_>) {
    assert_eq!(
        catch_all.calls_async().await,
        0,
        "the connector sent a request no mock expected"
    );
}

/// A device row in the documented shape, with a generated serial.
fn row(id: u64) -> Value {
    json!({
        "type": "device",
        "id": id,
        "attributes": {
            "name": format!("Device {id}"),
            "device_name": "MacBook Pro",
            "status": "enrolled",
            "serial_number": format!("SN{id:08}"),
            "unique_identifier": format!("00000000-0000-0000-0000-{id:012}"),
        },
        "relationships": {
            "groups": {"data": []},
            "custom_attribute_values": {"data": []}
        }
    })
}

fn page(ids: impl IntoIterator<Item = u64>, has_more: bool) -> String {
    let data: Vec<Value> = ids.into_iter().map(row).collect();
    json!({"data": data, "has_more": has_more}).to_string()
}

// ---------------------------------------------------------------------------------------------------
// validate

#[tokio::test]
async fn validate_reads_the_account_then_one_device_with_the_key_as_basic_user_name() {
    let api = Api::start().await;
    let account = api
        .get("/api/v1/account", &[], &[], 200, fixture("account.json"))
        .await;
    let devices = api
        .get(
            "/api/v1/devices",
            &[("limit", "1"), ("include_awaiting_enrollment", "true")],
            &["starting_after", "search"],
            200,
            page([121], true),
        )
        .await;
    let catch_all = api.catch_all().await;
    let provider = api.provider();

    provider.validate().await.unwrap();

    assert_eq!(account.calls_async().await, 1);
    assert_eq!(devices.calls_async().await, 1);
    assert_eq!(provider.request_count(), 2);
    assert_no_unexpected(&catch_all).await;
}

#[tokio::test]
async fn validate_accepts_a_key_refused_the_account_that_can_read_devices() {
    let api = Api::start().await;
    let account = api
        .get("/api/v1/account", &[], &[], 403, fixture("error_403.json"))
        .await;
    let devices = api
        .get(
            "/api/v1/devices",
            &[("limit", "1")],
            &[],
            200,
            page([], false),
        )
        .await;
    let catch_all = api.catch_all().await;

    api.provider().validate().await.unwrap();

    assert_eq!(account.calls_async().await, 1);
    assert_eq!(devices.calls_async().await, 1);
    assert_no_unexpected(&catch_all).await;
}

#[tokio::test]
async fn validate_errors_give_the_r8_category_and_simplemdms_own_words() {
    let cases = [
        (
            401,
            "error_401.json",
            ErrorKind::Unauthorized,
            Category::Unauthorized,
            "Unauthorized",
        ),
        (
            403,
            "error_403.json",
            ErrorKind::Forbidden,
            Category::Forbidden,
            "API key does not have permission to access this resource",
        ),
        (
            404,
            "error_404.json",
            ErrorKind::NotFound,
            Category::NotFound,
            "object not found",
        ),
        (
            429,
            "error_429.json",
            ErrorKind::RateLimited,
            Category::Server,
            "Rate limit exceeded. Try again later.",
        ),
        (
            500,
            "error_500.json",
            ErrorKind::Server,
            Category::Server,
            "An unexpected error occurred",
        ),
    ];
    for (status, body, kind, category, title) in cases {
        let api = Api::start().await;
        let account = api
            .server
            .mock_async(|when, then| {
                when.method(GET).path("/api/v1/account");
                then.status(status)
                    .header("content-type", "application/json")
                    .header("retry-after", "0")
                    .body(fixture(body));
            })
            .await;
        let devices = api
            .server
            .mock_async(|when, then| {
                when.method(GET).path("/api/v1/devices");
                then.status(status)
                    .header("content-type", "application/json")
                    .header("retry-after", "0")
                    .body(fixture(body));
            })
            .await;
        let catch_all = api.catch_all().await;

        let err = api.provider().validate().await.unwrap_err();

        assert_eq!(err.kind(), kind, "{status}: {err}");
        assert_eq!(err.category(), category, "{status}");
        assert_eq!(err.status(), Some(status));
        assert_eq!(err.provider(), Some(ProviderKind::SimpleMdm));
        assert_eq!(err.operation(), Some("validate"));
        let shown = err.to_string();
        assert!(
            shown.starts_with("SimpleMDM validate: ") && shown.contains(title),
            "{status}: {shown}"
        );
        assert!(!shown.contains(KEY) && !format!("{err:?}").contains(KEY));
        // Transient failures are retried; the others are final at once. Only a 403 on the account
        // moves on to the device read.
        let account_hits = account.calls_async().await;
        match status {
            429 | 500 => assert!(account_hits > 1, "{status} was not retried"),
            _ => assert_eq!(account_hits, 1, "{status} was retried"),
        }
        assert_eq!(
            devices.calls_async().await,
            usize::from(status == 403),
            "{status}"
        );
        assert_no_unexpected(&catch_all).await;
    }
}

#[tokio::test]
async fn validate_refuses_a_host_that_answers_200_with_html() {
    let api = Api::start().await;
    api.server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v1/account");
            then.status(200).header("content-type", "text/html").body(
                "<!DOCTYPE html><html><head><title>Sign in</title></head><body></body></html>",
            );
        })
        .await;
    let catch_all = api.catch_all().await;

    let err = api.provider().validate().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert_eq!(err.category(), Category::Server);
    assert!(err.to_string().contains("Sign in"), "{err}");
    assert_no_unexpected(&catch_all).await;
}

// ---------------------------------------------------------------------------------------------------
// devices_by_serial

#[tokio::test]
async fn serial_lookup_keeps_only_the_exact_match_from_a_fuzzy_search() {
    let api = Api::start().await;
    let search = api
        .get(
            "/api/v1/devices",
            &[
                ("search", "C02ZC2QYLVDL"),
                ("include_awaiting_enrollment", "true"),
                ("limit", "100"),
            ],
            &["starting_after"],
            200,
            fixture("devices_search_fuzzy.json"),
        )
        .await;
    let catch_all = api.catch_all().await;
    let provider = api.provider();
    // Lower-case input with stray whitespace, as people paste it.
    let serial = SerialNumber::parse(" c02zc2qylvdl ").unwrap();

    let found = provider.devices_by_serial(&serial).await.unwrap();

    // The fixture also holds a longer serial, a serial with a prefix, a device *named* after the serial
    // and an awaiting-enrollment record mentioning it: all rejected.
    assert_eq!(found.len(), 1, "{found:#?}");
    let device = &found[0];
    assert_eq!(device.device_id, "4101");
    assert_eq!(device.serial_number.as_ref(), Some(&serial));
    assert_eq!(device.device_name.as_deref(), Some("Ada's MacBook Pro"));
    assert_eq!(device.user_id, None, "no user attribute is configured");
    assert_eq!(device.display_name.as_deref(), Some("Ada's MacBook Pro"));

    // With a user attribute configured, the same row yields its user, with no further request.
    let with_user = api.provider_with(Some("owner"));
    let device = with_user.device_by_serial(&serial).await.unwrap().unwrap();
    assert_eq!(device.user_id.as_deref(), Some("Ada Lovelace"));
    assert_eq!(device.display_name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(with_user.request_count(), 1);

    assert_eq!(search.calls_async().await, 2);
    assert_no_unexpected(&catch_all).await;
}

#[tokio::test]
async fn serial_lookup_with_no_result_is_empty() {
    let api = Api::start().await;
    api.get(
        "/api/v1/devices",
        &[("search", "C02ZC2QYLVDL")],
        &[],
        200,
        fixture("devices_search_empty.json"),
    )
    .await;
    let catch_all = api.catch_all().await;
    let provider = api.provider();
    let serial = SerialNumber::parse("C02ZC2QYLVDL").unwrap();

    assert!(provider
        .devices_by_serial(&serial)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(provider.device_by_serial(&serial).await.unwrap(), None);
    assert_eq!(provider.request_count(), 2);
    assert_no_unexpected(&catch_all).await;
}

#[tokio::test]
async fn serial_lookup_returns_every_record_sharing_the_serial() {
    let api = Api::start().await;
    api.get(
        "/api/v1/devices",
        &[("search", "DMPXK2Q9J1GH")],
        &[],
        200,
        fixture("devices_search_duplicate_serial.json"),
    )
    .await;
    let catch_all = api.catch_all().await;
    let provider = api.provider();
    let serial = SerialNumber::parse("dmpxk2q9j1gh").unwrap();

    // An enrolled record and a re-enrollment record (lower case, trailing space) both match.
    let found = provider.devices_by_serial(&serial).await.unwrap();
    let ids: Vec<_> = found.iter().map(|d| d.device_id.as_str()).collect();
    assert_eq!(ids, ["5001", "5377"]);

    let err = provider.device_by_serial(&serial).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.to_string().contains("5001, 5377"), "{err}");
    assert_no_unexpected(&catch_all).await;
}

#[tokio::test]
async fn serial_lookup_follows_the_search_cursor() {
    let api = Api::start().await;
    // A short serial that the fuzzy search matches in 100 other records first.
    let mut first: Value = serde_json::from_str(&page(1..=100, true)).unwrap();
    for (i, row) in first["data"].as_array_mut().unwrap().iter_mut().enumerate() {
        row["attributes"]["serial_number"] = json!(format!("HX7K{i:04}"));
    }
    let second = json!({"data": [{
        "type": "device", "id": 4711,
        "attributes": {"name": "Reception Mac", "serial_number": "HX7K", "status": "enrolled"}
    }], "has_more": false});
    let page1 = api
        .get(
            "/api/v1/devices",
            &[("search", "HX7K"), ("limit", "100")],
            &["starting_after"],
            200,
            first.to_string(),
        )
        .await;
    let page2 = api
        .get(
            "/api/v1/devices",
            &[("search", "HX7K"), ("starting_after", "100")],
            &[],
            200,
            second.to_string(),
        )
        .await;
    let catch_all = api.catch_all().await;
    let provider = api.provider();

    let found = provider
        .devices_by_serial(&SerialNumber::parse("hx7k").unwrap())
        .await
        .unwrap();

    assert_eq!(found.len(), 1);
    assert_eq!(found[0].device_id, "4711");
    assert_eq!(page1.calls_async().await, 1);
    assert_eq!(page2.calls_async().await, 1);
    assert_no_unexpected(&catch_all).await;
}

// ---------------------------------------------------------------------------------------------------
// bulk listing

#[tokio::test]
async fn device_paging_is_a_cursor_of_100() {
    let api = Api::start().await;
    let provider = api.provider();
    assert_eq!(provider.kind(), ProviderKind::SimpleMdm);
    assert_eq!(PAGE_SIZE, 100);
    assert_eq!(provider.device_paging(), PagingStyle::Cursor { limit: 100 });
}

#[tokio::test]
async fn an_empty_account_lists_no_devices_in_one_request() {
    let api = Api::start().await;
    api.devices_page(None, fixture("devices_search_empty.json"))
        .await;
    let catch_all = api.catch_all().await;
    let provider = api.provider();

    assert!(provider.all_devices().await.unwrap().is_empty());
    assert_eq!(provider.request_count(), 1);
    assert_no_unexpected(&catch_all).await;
}

#[tokio::test]
async fn exactly_one_full_page_takes_one_request() {
    let api = Api::start().await;
    api.devices_page(None, page(1..=100, false)).await;
    let catch_all = api.catch_all().await;
    let provider = api.provider();

    let devices = provider.all_devices().await.unwrap();

    assert_eq!(devices.len(), 100);
    assert_eq!(provider.request_count(), 1);
    assert_no_unexpected(&catch_all).await;
}

#[tokio::test]
async fn several_pages_continue_after_the_last_id_until_has_more_is_false() {
    let api = Api::start().await;
    let p1 = api.devices_page(None, page(1..=100, true)).await;
    let p2 = api.devices_page(Some("100"), page(101..=200, true)).await;
    let p3 = api.devices_page(Some("200"), page(201..=250, false)).await;
    let catch_all = api.catch_all().await;
    let provider = api.provider();

    let devices = provider.all_devices().await.unwrap();

    // 250 devices: ceil(250 / 100) = 3 requests, the last page short.
    assert_eq!(devices.len(), 250);
    assert_eq!(provider.request_count(), 3);
    let ids: Vec<u64> = devices
        .iter()
        .map(|d| d.device_id.parse().unwrap())
        .collect();
    assert_eq!(ids, (1..=250).collect::<Vec<_>>());
    assert_eq!(
        devices[249].serial_number.as_ref().unwrap().as_str(),
        "SN00000250"
    );
    for mock in [&p1, &p2, &p3] {
        assert_eq!(mock.calls_async().await, 1);
    }
    assert_no_unexpected(&catch_all).await;
}

#[tokio::test]
async fn a_full_last_page_with_has_more_ends_on_the_empty_page_after_it() {
    let api = Api::start().await;
    api.devices_page(None, page(1..=100, true)).await;
    api.devices_page(Some("100"), page([], false)).await;
    let catch_all = api.catch_all().await;
    let provider = api.provider();

    assert_eq!(provider.all_devices().await.unwrap().len(), 100);
    assert_eq!(provider.request_count(), 2);
    assert_no_unexpected(&catch_all).await;
}

#[tokio::test]
async fn short_pages_with_has_more_continue_from_the_last_row_id_whatever_its_value() {
    let api = Api::start().await;
    // The server serves fewer rows than asked and ids with gaps: has_more decides, and the cursor is the
    // last row's id, not a row count.
    api.devices_page(None, page([17, 942, 5003], true)).await;
    api.devices_page(Some("5003"), page([5010], false)).await;
    let catch_all = api.catch_all().await;
    let provider = api.provider();

    let ids: Vec<String> = provider
        .all_devices()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.device_id)
        .collect();

    assert_eq!(ids, ["17", "942", "5003", "5010"]);
    assert_eq!(provider.request_count(), 2);
    assert_no_unexpected(&catch_all).await;
}

#[tokio::test]
async fn one_page_reports_has_more_and_the_last_id_as_cursor() {
    let api = Api::start().await;
    api.devices_page(Some("42"), page([43, 57], true)).await;
    let catch_all = api.catch_all().await;
    let provider = api.provider();

    let page = provider
        .list_devices_page(&PageRequest::Cursor {
            after: Some("42".into()),
            limit: 100,
        })
        .await
        .unwrap();

    assert_eq!(page.items.len(), 2);
    assert_eq!(page.info.has_more, Some(true));
    assert_eq!(page.info.next_cursor.as_deref(), Some("57"));
    assert_eq!(page.info.total, None);
    assert_no_unexpected(&catch_all).await;
}

#[tokio::test]
async fn a_non_cursor_page_request_is_refused_without_a_request() {
    let api = Api::start().await;
    let catch_all = api.catch_all().await;
    let provider = api.provider();

    let err = provider
        .list_devices_page(&PageRequest::Offset {
            offset: 0,
            limit: 100,
        })
        .await
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::InvalidConfiguration);
    assert_eq!(provider.request_count(), 0);
    assert_no_unexpected(&catch_all).await;
}

#[tokio::test]
async fn a_repeated_cursor_fails_instead_of_looping() {
    let api = Api::start().await;
    api.devices_page(None, page([1, 2], true)).await;
    // A broken server that answers every later page with the same rows.
    api.devices_page(Some("2"), page([1, 2], true)).await;
    let catch_all = api.catch_all().await;
    let provider = api.provider();

    let err = provider.all_devices().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(
        err.to_string().starts_with("SimpleMDM list_devices"),
        "{err}"
    );
    assert_eq!(provider.request_count(), 2);
    assert_no_unexpected(&catch_all).await;
}

// ---------------------------------------------------------------------------------------------------
// users from a custom attribute

#[tokio::test]
async fn the_user_comes_from_the_configured_custom_attribute_in_each_documented_shape() {
    let api = Api::start().await;
    api.devices_page(None, fixture("devices_user_attribute_variants.json"))
        .await;
    let catch_all = api.catch_all().await;
    let provider = api.provider_with(Some("owner"));

    let devices = provider.all_devices().await.unwrap();

    let got: Vec<(&str, Option<&str>, Option<&str>)> = devices
        .iter()
        .map(|d| {
            (
                d.device_id.as_str(),
                d.user_id.as_deref(),
                d.display_name.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            // A value: the user.
            ("6001", Some("Ada Lovelace"), Some("Ada Lovelace")),
            // The attribute is present but empty (SimpleMDM's "no value"): the device name.
            ("6002", None, Some("Kiosk iPad")),
            // Other attributes only.
            ("6003", None, Some("Shared Mac mini")),
            // The name differs in case and the value has spaces.
            ("6004", Some("Grace Hopper"), Some("Grace Hopper")),
            // No relationships at all (older API shape).
            ("6005", None, Some("Spare iPhone")),
            // A null value, and a blank SimpleMDM name: the device's own name.
            ("6006", None, Some("Katherine’s iPhone")),
            // Awaiting enrollment: no serial, but the attribute still applies.
            ("6007", Some("Dorothy Vaughan"), Some("Dorothy Vaughan")),
        ]
    );
    assert_eq!(devices[6].serial_number, None);
    // One request for seven devices: attribute values are read from the rows, never per device.
    assert_eq!(provider.request_count(), 1);
    assert_no_unexpected(&catch_all).await;
}

#[tokio::test]
async fn without_a_user_attribute_no_device_has_a_user() {
    let api = Api::start().await;
    api.devices_page(None, fixture("devices_user_attribute_variants.json"))
        .await;
    let catch_all = api.catch_all().await;
    let provider = api.provider();
    assert_eq!(provider.user_attribute(), None);

    let devices = provider.all_devices().await.unwrap();

    assert_eq!(devices.len(), 7);
    for d in &devices {
        assert_eq!(d.user_id, None, "{}", d.device_id);
        assert_eq!(d.user_name, None);
        assert_eq!(d.display_name, d.device_name, "{}", d.device_id);
    }
    assert_eq!(
        devices[0].display_name.as_deref(),
        Some("Ada's MacBook Pro")
    );
    assert_no_unexpected(&catch_all).await;
}

// ---------------------------------------------------------------------------------------------------
// groups

#[tokio::test]
async fn groups_are_assignment_groups_read_by_cursor_with_deduplicated_members() {
    let api = Api::start().await;
    let p1 = api
        .get(
            "/api/v1/assignment_groups",
            &[("limit", "100")],
            &["starting_after"],
            200,
            fixture("assignment_groups_page1.json"),
        )
        .await;
    let p2 = api
        .get(
            "/api/v1/assignment_groups",
            &[("limit", "100"), ("starting_after", "447116")],
            &[],
            200,
            fixture("assignment_groups_page2.json"),
        )
        .await;
    // Legacy device groups must never be read (the catch-all would also catch them).
    let legacy = api
        .server
        .mock_async(|when, then| {
            when.path_prefix("/api/v1/device_groups");
            then.status(200).body(r#"{"data":[],"has_more":false}"#);
        })
        .await;
    let catch_all = api.catch_all().await;
    let provider = api.provider();

    let groups = provider.groups().await.unwrap();

    let got: Vec<(&str, &str, Vec<&str>)> = groups
        .iter()
        .map(|g| {
            (
                g.id.as_str(),
                g.name.as_str(),
                g.member_device_ids.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "436635",
                "SimpleMDM for iOS",
                vec!["1406463", "1457129", "775822", "889273"]
            ),
            ("447116", "Theater Laptops", vec!["1307768"]),
            ("449316", "Munki M1 Part 2", vec![]),
            (
                "478480",
                "Faculty Self Serve",
                vec!["570972", "594756", "775822"]
            ),
        ]
    );
    assert_eq!(p1.calls_async().await, 1);
    assert_eq!(p2.calls_async().await, 1);
    assert_eq!(legacy.calls_async().await, 0);
    assert_eq!(provider.request_count(), 2);
    assert_no_unexpected(&catch_all).await;
}

#[tokio::test]
async fn no_assignment_groups_is_an_empty_list() {
    let api = Api::start().await;
    api.get(
        "/api/v1/assignment_groups",
        &[("limit", "100")],
        &["starting_after"],
        200,
        r#"{"data":[],"has_more":false}"#.to_owned(),
    )
    .await;
    let catch_all = api.catch_all().await;
    let provider = api.provider();

    assert!(provider.groups().await.unwrap().is_empty());
    assert_eq!(provider.request_count(), 1);
    assert_no_unexpected(&catch_all).await;
}

#[tokio::test]
async fn a_gateway_error_page_reads_cleanly() {
    let api = Api::start().await;
    api.server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v1/assignment_groups");
            then.status(502)
                .header("content-type", "text/html")
                .body("<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>");
        })
        .await;
    let catch_all = api.catch_all().await;

    let err = api.provider().groups().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(err.category(), Category::Server);
    let shown = err.to_string();
    assert!(shown.starts_with("SimpleMDM groups: HTTP 502"), "{shown}");
    assert!(shown.contains("502 Bad Gateway"), "{shown}");
    assert_no_unexpected(&catch_all).await;
}

// ---------------------------------------------------------------------------------------------------
// rate limiting

/// Seconds since the epoch, as `X-RateLimit-Reset` carries them.
fn epoch_in(secs: u64) -> String {
    (SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + secs)
        .to_string()
}

#[tokio::test]
async fn a_429_with_x_ratelimit_reset_is_waited_out_and_retried() {
    // Both documented forms of the header: a delay in seconds, and an epoch timestamp.
    for epoch in [false, true] {
        // Computed just before use: an epoch timestamp goes stale while the previous case waits.
        let reset = if epoch { epoch_in(2) } else { "1".to_owned() };
        let api = Api::start().await;
        let limited = api
            .server
            .mock_async(|when, then| {
                when.method(GET).path("/api/v1/devices");
                then.status(429)
                    .header("content-type", "application/json")
                    .header("x-ratelimit-reset", reset.clone())
                    .body(fixture("error_429.json"))
                    .up_to_n_times(1);
            })
            .await;
        let ok = api.devices_page(None, page(1..=3, false)).await;
        let catch_all = api.catch_all().await;
        let provider = api.provider();

        let started = Instant::now();
        let devices = provider.all_devices().await.unwrap();
        let waited = started.elapsed();

        assert_eq!(devices.len(), 3);
        assert_eq!(limited.calls_async().await, 1);
        assert_eq!(ok.calls_async().await, 1);
        assert_eq!(provider.request_count(), 2);
        // The test backoff is at most 200 ms: a wait this long can only come from the header.
        assert!(
            waited >= Duration::from_millis(900),
            "{reset}: waited only {waited:?}"
        );
        assert_no_unexpected(&catch_all).await;
    }
}

// ---------------------------------------------------------------------------------------------------
// links and secrets

#[tokio::test]
async fn device_links_for_the_fixed_endpoint_and_overrides() {
    let fixed = SimpleMdmProvider::new(
        SimpleMdmConfig::new(KEY).unwrap(),
        &ClientOptions::default(),
    )
    .unwrap();
    assert_eq!(fixed.base_url().as_str(), "https://a.simplemdm.com/");
    assert_eq!(
        fixed.device_url("121").unwrap().as_str(),
        "https://a.simplemdm.com/admin/devices/121"
    );
    assert_eq!(
        fixed.device_link("121").unwrap(),
        mdmkit_core::DeviceLink {
            label: "View on SimpleMDM".to_owned(),
            url: Url::parse("https://a.simplemdm.com/admin/devices/121").unwrap()
        }
    );
    assert_eq!(fixed.device_url("  "), None);

    let api = Api::start().await;
    let local = api.provider();
    assert_eq!(
        local.device_url("7").unwrap().as_str(),
        format!("{}/admin/devices/7", api.server.base_url())
    );

    let mut config = SimpleMdmConfig::new(KEY).unwrap();
    config.base_url = Some(Url::parse("https://sandbox.example/simplemdm").unwrap());
    let prefixed = SimpleMdmProvider::new(config, &ClientOptions::default()).unwrap();
    assert_eq!(
        prefixed.device_url("42").unwrap().as_str(),
        "https://sandbox.example/simplemdm/admin/devices/42"
    );
    for provider in [&fixed, &local, &prefixed] {
        assert_eq!(provider.request_count(), 0, "links never do I/O");
    }
}

#[tokio::test]
async fn debug_output_never_shows_the_key() {
    let api = Api::start().await;
    let provider = api.provider_with(Some("email"));
    let shown = format!("{provider:?} {provider:#?}");
    assert!(!shown.contains(KEY), "{shown}");
    assert!(shown.contains("email"));
}
