//! Serial lookups, the bulk listing (paging edge cases, page caps, request counts), users, and links.

mod common;

use common::*;
use httpmock::{Method, MockServer};
use mdmkit_core::http::ClientOptions;
use mdmkit_core::{
    ErrorKind, JamfConfig, MdmProvider, MdmProviderExt, PageRequest, PagingStyle, ProviderKind,
    SerialNumber,
};
use mdmkit_jamf::JamfProvider;
use serde_json::json;

/// The serial lookup for `filter` (exactly as sent, once decoded), answering `body`.
async fn lookup_mock<'a>(server: &'a MockServer, filter: &str, body: String) -> httpmock::Mock<'a> {
    let filter = filter.to_owned();
    server
        .mock_async(move |when, then| {
            let mut when = when
                .method(Method::GET)
                .path("/api/v4/computers-inventory")
                .query_param("filter", filter)
                .query_param("page", "0")
                .query_param("page-size", "100")
                .query_param("sort", "id:asc")
                .header("authorization", format!("Bearer {TOKEN}"));
            for section in DEVICE_SECTIONS {
                when = when.query_param("section", section);
            }
            then.status(200)
                .header("content-type", "application/json")
                .body(body);
        })
        .await
}

/// `GET /api/v1/users?filter=<filter>` answering `body`.
async fn users_filter_mock<'a>(
    server: &'a MockServer,
    filter: &str,
    body: String,
) -> httpmock::Mock<'a> {
    let filter = filter.to_owned();
    server
        .mock_async(move |when, then| {
            when.method(Method::GET)
                .path("/api/v1/users")
                .query_param("filter", filter)
                .query_param("page", "0")
                .query_param("page-size", "1000")
                .header("authorization", format!("Bearer {TOKEN}"));
            then.status(200)
                .header("content-type", "application/json")
                .body(body);
        })
        .await
}

#[tokio::test]
async fn a_serial_lookup_keeps_only_the_exact_match_and_resolves_its_user_record() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    // Lower-case input is normalised before it is sent.
    let lookup = lookup_mock(
        &server,
        r#"hardware.serialNumber=="C02ZC2QYLVDL""#,
        fixture("computers_inventory_serial_near_misses.json"),
    )
    .await;
    let users = users_filter_mock(
        &server,
        r#"username=="jdoe""#,
        fixture("users_search_results.json"),
    )
    .await;
    let unexpected = catch_all(&server).await;

    let jamf = provider(&server);
    let serial = SerialNumber::parse("c02zc2qylvdl").unwrap();
    let found = jamf.devices_by_serial(&serial).await.unwrap();

    // 301 (longer), 302 (prefixed) and 304 (no serial) are the filter's fuzz, not matches.
    assert_eq!(ids(&found), ["303"]);
    let d = &found[0];
    assert_eq!(d.serial_number.as_ref(), Some(&serial));
    assert_eq!(d.user_id.as_deref(), Some("42"), "the Jamf user record id");
    assert_eq!(
        d.display_name.as_deref(),
        Some("Jane Doe"),
        "realname from the user record"
    );
    assert_eq!(d.device_name.as_deref(), Some("LOWER-CASE-EXACT"));
    lookup.assert_calls_async(1).await;
    users.assert_calls_async(1).await;
    // token, version, lookup, user.
    assert_eq!(jamf.request_count(), 4);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_lookup_with_no_match_is_empty_and_reads_no_users() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let lookup = lookup_mock(
        &server,
        r#"hardware.serialNumber=="C02NOTHERE01""#,
        json!({"totalCount": 0, "results": []}).to_string(),
    )
    .await;
    let unexpected = catch_all(&server).await;

    let jamf = provider(&server);
    let serial = SerialNumber::parse("C02NOTHERE01").unwrap();
    assert!(jamf.devices_by_serial(&serial).await.unwrap().is_empty());
    assert_eq!(jamf.device_by_serial(&serial).await.unwrap(), None);
    lookup.assert_calls_async(2).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn quotes_and_backslashes_in_a_serial_are_escaped_for_rsql() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let lookup = lookup_mock(
        &server,
        r#"hardware.serialNumber=="AB\"C\\D*""#,
        json!({"totalCount": 2, "results": [
            {"id": "1", "general": {"name": "wildcard hit"}, "hardware": {"serialNumber": "AB\"C\\DEFG"}},
            {"id": "2", "general": {"name": "exact"}, "hardware": {"serialNumber": "ab\"c\\d*"}}
        ]})
        .to_string(),
    )
    .await;
    let unexpected = catch_all(&server).await;

    let jamf = provider(&server);
    let serial = SerialNumber::parse(r#"ab"c\d*"#).unwrap();
    let found = jamf.devices_by_serial(&serial).await.unwrap();
    assert_eq!(ids(&found), ["2"]);
    lookup.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn duplicate_serials_are_all_returned_and_the_single_lookup_refuses_to_pick() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let twins = json!({"totalCount": 2, "results": [
        {"id": "7", "general": {"name": "old record"}, "hardware": {"serialNumber": "C02DUPE00001"},
         "userAndLocation": {"username": "jdoe", "realname": ""}},
        {"id": "9", "general": {"name": "new record"}, "hardware": {"serialNumber": "C02DUPE00001"},
         "userAndLocation": {"username": "asmith", "realname": ""}}
    ]});
    let lookup = lookup_mock(
        &server,
        r#"hardware.serialNumber=="C02DUPE00001""#,
        twins.to_string(),
    )
    .await;
    // Both users in one request.
    let users = users_filter_mock(
        &server,
        r#"username=in=("asmith","jdoe")"#,
        fixture("users_search_results.json"),
    )
    .await;
    let unexpected = catch_all(&server).await;

    let jamf = provider(&server);
    let serial = SerialNumber::parse("C02DUPE00001").unwrap();
    let found = jamf.devices_by_serial(&serial).await.unwrap();
    assert_eq!(ids(&found), ["7", "9"]);
    assert_eq!(found[0].user_id.as_deref(), Some("42"));
    assert_eq!(found[1].user_id.as_deref(), Some("43"));
    assert_eq!(found[1].display_name.as_deref(), Some("Alex Smith"));

    let err = jamf.device_by_serial(&serial).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.to_string().contains("7, 9"), "{err}");
    lookup.assert_calls_async(2).await;
    users.assert_calls_async(2).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn before_the_user_api_the_username_is_the_user_id() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_11_25_before_users_api.json").await;
    let lookup = server
        .mock_async(|when, then| {
            when.path("/api/v3/computers-inventory")
                .query_param("filter", r#"hardware.serialNumber=="C02ZC2QYLVDL""#);
            then.status(200).body(fixture(
                "computers_inventory_v4_assigned_and_unassigned.json",
            ));
        })
        .await;
    // No /api/v1/users request: the catch-all would see it.
    let unexpected = catch_all(&server).await;

    let jamf = provider(&server);
    let found = jamf
        .devices_by_serial(&SerialNumber::parse("C02ZC2QYLVDL").unwrap())
        .await
        .unwrap();
    assert_eq!(ids(&found), ["117"]);
    assert_eq!(found[0].user_id.as_deref(), Some("jdoe"));
    assert_eq!(found[0].display_name.as_deref(), Some("Jane Doe"));
    lookup.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

/// Lists everything from a server of `rows` capping pages at `cap`, with a user directory of `users`.
async fn listing(
    rows: Vec<serde_json::Value>,
    cap: usize,
    users_in_directory: u64,
) -> (Vec<mdmkit_core::MdmDevice>, u64, usize, usize, usize) {
    let server = MockServer::start_async().await;
    let token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let inventory = paged_inventory(&server, "v4", rows, cap).await;
    let directory = user_directory(&server, users(users_in_directory)).await;
    let unexpected = catch_all(&server).await;

    let jamf = provider(&server);
    let devices = jamf.all_devices().await.unwrap();
    token.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
    (
        devices,
        jamf.request_count(),
        inventory.calls_async().await,
        directory.calls_async().await,
        unexpected.calls_async().await,
    )
}

fn expected_ids(first: u64, n: u64) -> Vec<String> {
    (first..first + n).map(|i| i.to_string()).collect()
}

#[tokio::test]
async fn an_empty_inventory_takes_one_page() {
    let (devices, requests, pages, directory, _) = listing(Vec::new(), 2000, 0).await;
    assert!(devices.is_empty());
    assert_eq!(
        (pages, directory),
        (1, 1),
        "the first user page is read alongside the first computers"
    );
    assert_eq!(requests, 4, "token, version, one page, one user page");
}

#[tokio::test]
async fn exactly_one_full_page_stops_at_the_total() {
    let (devices, requests, pages, directory, _) = listing(computers(1, 2000, None), 2000, 0).await;
    assert_eq!(ids(&devices), expected_ids(1, 2000));
    assert_eq!(pages, 1, "totalCount reached: no empty page asked for");
    assert_eq!(
        directory, 1,
        "no assigned user: only the user page read alongside the first computers"
    );
    assert_eq!(requests, 4);
}

#[tokio::test]
async fn several_pages_with_a_short_last_page() {
    let (devices, requests, pages, _, _) = listing(computers(1, 4500, None), 2000, 0).await;
    assert_eq!(ids(&devices), expected_ids(1, 4500));
    assert_eq!(pages, 3);
    assert_eq!(requests, 6, "token, version, 3 pages, the first user page");
}

/// Inventory pages after the first do not depend on each other, so a listing reads them as many at
/// once as the client's limits allow (the conformance suite checks the sandbox sees that many).
#[test]
fn inventory_pages_are_read_at_the_clients_concurrency() {
    let options = ClientOptions::for_local_testing();
    let server = MockServer::start();
    let jamf = JamfProvider::new(config(&server), &options).unwrap();
    let limit = options.limits_for(ProviderKind::Jamf).max_concurrency;
    assert!(limit > 1, "{limit}");
    assert_eq!(jamf.device_pages_at_once(), limit);
}

#[tokio::test]
async fn a_server_capping_pages_below_2000_still_yields_every_row_once() {
    let (devices, requests, pages, _, _) = listing(computers(1, 2500, None), 1000, 0).await;
    assert_eq!(
        ids(&devices),
        expected_ids(1, 2500),
        "no row lost or repeated"
    );
    assert_eq!(pages, 3, "1000 + 1000 + 500, ended by totalCount");
    assert_eq!(requests, 6);
}

#[tokio::test]
async fn users_are_resolved_from_one_directory_read_per_listing() {
    // 4500 computers, every third assigned to one of 1500 users; the directory spans two pages of 1000.
    let (devices, requests, pages, directory, _) =
        listing(computers(1, 4500, Some((3, 1500))), 2000, 1500).await;
    assert_eq!(devices.len(), 4500);
    assert_eq!(pages, 3);
    assert_eq!(
        directory, 2,
        "the directory is read once, not per page or device"
    );
    assert_eq!(requests, 1 + 1 + 3 + 2);
    let d = devices.iter().find(|d| d.device_id == "3").unwrap();
    assert_eq!(d.user_id.as_deref(), Some("1003"), "user3's record id");
    assert_eq!(d.display_name.as_deref(), Some("User Number 3"));
    let d = devices.iter().find(|d| d.device_id == "3000").unwrap();
    assert_eq!(
        d.user_id.as_deref(),
        Some("1000"),
        "user0 (3000 % 1500), read on page 1"
    );
    let d = devices.iter().find(|d| d.device_id == "4").unwrap();
    assert_eq!(d.user_id, None);
    assert_eq!(d.display_name.as_deref(), Some("Mac-4"));
    assert_eq!(d.serial_number.as_ref().unwrap().as_str(), "C02000000004");
}

#[tokio::test]
async fn each_listing_reads_the_directory_afresh_and_the_version_once() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let page = inventory_page_mock(
        &server,
        "v4",
        0,
        2000,
        fixture("computers_inventory_v4_assigned_and_unassigned.json"),
    )
    .await;
    let directory = user_directory(
        &server,
        vec![fixture_json("users_search_results.json")["results"][0].clone()],
    )
    .await;
    let unexpected = catch_all(&server).await;

    let jamf = provider(&server);
    for _ in 0..2 {
        let devices = jamf.all_devices().await.unwrap();
        assert_eq!(ids(&devices), ["117", "118"]);
        assert_eq!(devices[0].user_id.as_deref(), Some("42"));
        assert_eq!(devices[0].display_name.as_deref(), Some("Jane Doe"));
        assert_eq!(devices[1].user_id, None);
        assert_eq!(devices[1].display_name.as_deref(), Some("LAB-MINI-02"));
    }
    version.assert_calls_async(1).await;
    page.assert_calls_async(2).await;
    directory.assert_calls_async(2).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn unassigned_users_in_every_documented_shape() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let _page = inventory_page_mock(
        &server,
        "v4",
        0,
        2000,
        fixture("computers_inventory_unassigned_user_shapes.json"),
    )
    .await;
    // No username anywhere: the user page read alongside the first computers is the only one, and
    // none of its users is taken.
    let directory = user_directory(&server, users(3)).await;
    let unexpected = catch_all(&server).await;

    let devices = provider(&server).all_devices().await.unwrap();
    let seen: Vec<_> = devices
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
        seen,
        [
            ("201", None, Some("EMPTY-STRINGS")),
            ("202", None, Some("NULL-FIELDS")),
            ("203", None, Some("NULL-SECTION")),
            ("204", None, Some("NO-SECTION")),
            ("205", None, Some("BLANKS")),
            ("206", None, Some("Front Desk")),
        ]
    );
    directory.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_missing_user_api_falls_back_to_usernames_and_is_remembered() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let _page = inventory_page_mock(
        &server,
        "v4",
        0,
        2000,
        fixture("computers_inventory_v4_assigned_and_unassigned.json"),
    )
    .await;
    let users = not_found(&server, "/api/v1/users").await;
    let unexpected = catch_all(&server).await;

    let jamf = provider(&server);
    for _ in 0..2 {
        let devices = jamf.all_devices().await.unwrap();
        assert_eq!(devices[0].user_id.as_deref(), Some("jdoe"));
        assert_eq!(devices[0].display_name.as_deref(), Some("Jane Doe"));
    }
    users.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_client_that_may_not_read_users_still_lists_with_usernames() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let _page = inventory_page_mock(
        &server,
        "v4",
        0,
        2000,
        fixture("computers_inventory_v4_assigned_and_unassigned.json"),
    )
    .await;
    let users = error_mock(
        &server,
        Method::GET,
        "/api/v1/users",
        403,
        "api_error_invalid_privilege.json",
    )
    .await;
    let unexpected = catch_all(&server).await;

    let devices = provider(&server).all_devices().await.unwrap();
    assert_eq!(devices[0].user_id.as_deref(), Some("jdoe"));
    users.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn pages_are_asked_by_number_and_capped_at_2000() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let page = inventory_page_mock(
        &server,
        "v4",
        3,
        2000,
        json!({"totalCount": 0, "results": []}).to_string(),
    )
    .await;
    let unexpected = catch_all(&server).await;

    let jamf = provider(&server);
    assert_eq!(
        jamf.device_paging(),
        PagingStyle::PageNumber {
            first: 0,
            size: 2000
        }
    );
    let got = jamf
        .list_devices_page(&PageRequest::PageNumber {
            page: 3,
            size: 50_000,
        })
        .await
        .unwrap();
    assert!(got.items.is_empty());
    assert_eq!(got.info.total, Some(0));
    let err = jamf
        .list_devices_page(&PageRequest::Offset {
            offset: 0,
            limit: 10,
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfiguration);
    page.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_page_reports_the_server_total() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let _page = paged_inventory(&server, "v4", computers(1, 7, None), 2000).await;
    let unexpected = catch_all(&server).await;

    let jamf = provider(&server);
    let got = jamf
        .list_devices_page(&PageRequest::PageNumber { page: 1, size: 3 })
        .await
        .unwrap();
    assert_eq!(ids(&got.items), ["4", "5", "6"]);
    assert_eq!(got.info.total, Some(7));
    assert_eq!(got.info.has_more, None);
    unexpected.assert_calls_async(0).await;
}

#[test]
fn console_links_for_each_host_form() {
    let link = |host: &str, id: &str| {
        let config = JamfConfig::new(host, "id", "secret").unwrap();
        JamfProvider::new(config, &ClientOptions::default())
            .unwrap()
            .device_url(id)
            .map(|u| u.to_string())
    };
    assert_eq!(
        link("acme.jamfcloud.com", "117").as_deref(),
        Some("https://acme.jamfcloud.com/computers.html?id=117&o=r")
    );
    assert_eq!(
        link("https://acme.jamfcloud.com/api/", "117").as_deref(),
        Some("https://acme.jamfcloud.com/computers.html?id=117&o=r")
    );
    assert_eq!(
        link("https://jss.example.com:8443", "5").as_deref(),
        Some("https://jss.example.com:8443/computers.html?id=5&o=r")
    );
    assert_eq!(
        link("https://mdm.example.com/jamf/JSSResource", "5").as_deref(),
        Some("https://mdm.example.com/jamf/computers.html?id=5&o=r")
    );
    assert_eq!(
        link("acme.jamfcloud.com", "1&o=x").as_deref(),
        Some("https://acme.jamfcloud.com/computers.html?id=1%26o%3Dx&o=r")
    );
    assert_eq!(link("acme.jamfcloud.com", "  "), None);
}

#[test]
fn debug_never_shows_the_secret() {
    let config = JamfConfig::new("acme.jamfcloud.com", "client-id", "hunter2-secret").unwrap();
    let jamf = JamfProvider::new(config, &ClientOptions::default()).unwrap();
    let debug = format!("{jamf:?}");
    assert!(!debug.contains("hunter2-secret"), "{debug}");
    assert!(debug.contains("acme.jamfcloud.com"), "{debug}");
}

/// A listing's first computers and the first page of its user directory are read together: a one-page
/// fleet with users costs the two requests at once, not one after the other.
#[tokio::test]
async fn the_first_user_page_is_read_alongside_the_first_computers() {
    use mdmkit_sandbox::{Access, Faults, Sandbox, SandboxConfig};
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let kind = ProviderKind::Jamf;
    let mdmkit_core::ProviderConfig::Jamf(config) = sandbox.config(kind, Access::Full) else {
        unreachable!("the sandbox hands out a Jamf configuration for Jamf")
    };
    let jamf = JamfProvider::new(config, &sandbox.client_options()).unwrap();
    // The first listing gets the token and the version; the second is measured, with latency so that
    // requests sent together are in progress together.
    let first = jamf.all_devices().await.unwrap();
    assert!(first.iter().any(|d| d.user_id.is_some()), "users assigned");
    sandbox.set_faults(
        kind,
        Faults {
            latency: std::time::Duration::from_millis(30),
            ..Faults::default()
        },
    );
    sandbox.reset_request_counts();
    assert_eq!(jamf.all_devices().await.unwrap(), first);
    assert_eq!(
        sandbox.listing_directory_requests(kind),
        1,
        "one page of users"
    );
    assert_eq!(
        (sandbox.request_count(kind), sandbox.peak_concurrency(kind)),
        (2, 2),
        "(requests, most at once): one page of computers and one of users, together"
    );
}

/// A server without `/api/v1/users` is remembered as such, until it is found upgraded (its kept
/// inventory version answers 404): then what was learnt from the old server goes, and the user API is
/// tried again.
#[tokio::test]
async fn an_upgraded_server_gets_its_user_api_tried_again() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let old_version = version_mock(&server, "jamf_pro_version_11_29_plain.json").await;
    let body = fixture("computers_inventory_v4_assigned_and_unassigned.json");
    let v3_page = inventory_page_mock(&server, "v3", 0, 2000, body.clone()).await;
    let no_users = not_found(&server, "/api/v1/users").await;
    let jamf = provider(&server);
    for _ in 0..2 {
        let devices = jamf.all_devices().await.unwrap();
        assert_eq!(devices[0].user_id.as_deref(), Some("jdoe"), "the username");
    }
    no_users.assert_calls_async(1).await;

    // The upgrade: v3 is gone, the version is newer, and the user API is there.
    for mock in [old_version, v3_page, no_users] {
        mock.delete_async().await;
    }
    let _v3_gone = not_found(&server, "/api/v3/computers-inventory").await;
    let _new_version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let _v4_page = inventory_page_mock(&server, "v4", 0, 2000, body).await;
    let jane = json!({"id": "1042", "username": "jdoe", "realname": "Jane Doe",
                      "email": "jane.doe@example.com"});
    let directory = user_directory(&server, vec![jane]).await;
    let unexpected = catch_all(&server).await;

    let devices = jamf.all_devices().await.unwrap();
    assert_eq!(
        devices[0].user_id.as_deref(),
        Some("1042"),
        "the user record"
    );
    directory.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}
