//! The paged bulk listing: paging edge cases, Fleet's `meta.has_next_results`, user shapes and request
//! counts.

mod common;

use common::*;
use httpmock::MockServer;
use mdmkit_core::{
    ErrorKind, MdmProvider, MdmProviderExt, PageRequest, PagingStyle, SerialNumber, Unresolved,
    UserRef,
};

fn ids(devices: &[mdmkit_core::MdmDevice]) -> Vec<u64> {
    devices
        .iter()
        .map(|d| d.device_id.parse().unwrap())
        .collect()
}

#[tokio::test]
async fn paging_is_page_numbers_from_zero_with_the_configured_size() {
    let server = MockServer::start_async().await;
    let fleet = provider(&server);
    assert_eq!(
        fleet.device_paging(),
        PagingStyle::PageNumber {
            first: 0,
            size: 100
        }
    );
    assert_eq!(
        fleet.with_page_size(0).device_paging(),
        PagingStyle::PageNumber { first: 0, size: 1 }
    );
}

/// `GET /api/v1/fleet/scim/Users` for the first page of 100, answering `status` with `body`.
async fn scim_page<'a>(server: &'a MockServer, status: u16, body: String) -> httpmock::Mock<'a> {
    server
        .mock_async(|when, then| {
            when.method(httpmock::Method::GET)
                .path("/api/v1/fleet/scim/Users")
                .query_param("startIndex", "1")
                .query_param("count", "100")
                .header("authorization", format!("Bearer {TOKEN}"));
            then.status(status)
                .header("content-type", "application/scim+json")
                .body(body);
        })
        .await
}

#[tokio::test]
async fn every_user_shape_of_the_list_endpoint_named_through_scim() {
    let server = MockServer::start_async().await;
    let page = server
        .mock_async(|when, then| {
            hosts_list(when, 0, 100);
            then.status(200)
                .body(fixture("hosts_page_user_shapes.json"));
        })
        .await;
    // The list names no users: Fleet's SCIM users are read once for the whole listing, never a host
    // record per assigned host (the catch-all would see one).
    let scim = scim_page(&server, 200, fixture("scim_users_page.json")).await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);

    let devices = fleet.all_devices().await.unwrap();
    assert_eq!(ids(&devices), [42, 43, 44, 45, 46, 47, 48]);
    assert_eq!(
        fleet.request_costs().per_listed_device,
        0,
        "SCIM names every listed user"
    );
    let by_id = |id: &str| devices.iter().find(|d| d.device_id == id).unwrap();

    // IdP mapping beats the Chrome profile listed first; SCIM gives the user's name (R4).
    let anna = by_id("42");
    assert_eq!(anna.user_id.as_deref(), Some("anna@acme.com"));
    assert_eq!(anna.display_name.as_deref(), Some("Anna Chao"));
    assert_eq!(anna.unresolved, None);
    assert_eq!(
        anna.serial_number,
        Some(SerialNumber::parse("C0124FXASD6G").unwrap())
    );
    // `device_mapping: null`, blank display_name: computer_name.
    let lab = by_id("43");
    assert_eq!(lab.user_id, None);
    assert_eq!(lab.display_name.as_deref(), Some("Lab iMac"));
    assert_eq!(lab.serial_number.as_ref().unwrap().as_str(), "C02ZC2QYLVDL");
    // A custom mapping is not an IdP identity: no SCIM user, no name, nothing to resolve.
    let bob = by_id("44");
    assert_eq!(bob.user_id.as_deref(), Some("bob@acme.com"));
    assert_eq!(bob.display_name.as_deref(), Some("Bob's ThinkPad"));
    assert_eq!(bob.unresolved, None);
    // No mapping key at all, no serial.
    let web = by_id("45");
    assert_eq!(
        (web.user_id.as_deref(), web.serial_number.as_ref()),
        (None, None)
    );
    assert_eq!(web.display_name.as_deref(), Some("web-01.example.com"));
    // A list of bare e-mails.
    assert_eq!(by_id("46").user_id.as_deref(), Some("carol@acme.com"));
    // The wrapped per-host form; Dan's IdP e-mail links to the SCIM user `dan.wu` by e-mail, whose
    // userName is what a lookup shows as idp_username: the id stays the same either way.
    let dan = by_id("47");
    assert_eq!(dan.user_id.as_deref(), Some("dan.wu"));
    assert_eq!(dan.display_name.as_deref(), Some("Dan Wu"));
    // Placeholder serial, empty mapping.
    let kiosk = by_id("48");
    assert_eq!(
        (kiosk.serial_number.as_ref(), kiosk.user_id.as_deref()),
        (None, None)
    );
    assert_eq!(kiosk.display_name.as_deref(), Some("Lobby Kiosk"));

    page.assert_calls_async(1).await;
    scim.assert_calls_async(1).await;
    assert_eq!(fleet.request_count(), 2);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn without_scim_access_idp_users_are_marked_and_resolved_from_their_hosts() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            hosts_list(when, 0, 100);
            then.status(200)
                .body(fixture("hosts_page_user_shapes.json"));
        })
        .await;
    let scim = scim_page(&server, 403, fixture("scim_error_403_forbidden.json")).await;
    let anna_detail = server
        .mock_async(|when, then| {
            when.method(httpmock::Method::GET)
                .path("/api/v1/fleet/hosts/42")
                .query_param("exclude_software", "true")
                .header("authorization", format!("Bearer {TOKEN}"));
            then.status(200)
                .body(fixture("host_by_identifier_with_end_user.json"));
        })
        .await;
    let dan_detail = server
        .mock_async(|when, then| {
            when.method(httpmock::Method::GET)
                .path("/api/v1/fleet/hosts/47");
            then.status(200).body(
                serde_json::json!({"host": {"id": 47, "hardware_serial": "H2WDK0AAQ6NV",
                    "end_users": [{"idp_username": "dan.wu", "idp_full_name": "Dan Wu"}]}})
                .to_string(),
            );
        })
        .await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);
    assert_eq!(
        fleet.request_costs().per_listed_device,
        0,
        "SCIM is assumed until refused"
    );

    let devices = fleet.all_devices().await.unwrap();
    assert_eq!(
        fleet.request_costs().per_listed_device,
        1,
        "once SCIM is refused, naming a listed user costs its host's record"
    );
    let by_id = |id: &str| devices.iter().find(|d| d.device_id == id).unwrap();
    let marked: Vec<&str> = devices
        .iter()
        .filter(|d| d.unresolved == Some(Unresolved::UserName))
        .map(|d| d.device_id.as_str())
        .collect();
    assert_eq!(marked, ["42", "47"], "only IdP identities can have names");
    assert_eq!(
        by_id("42").display_name.as_deref(),
        Some("Anna's MacBook Pro")
    );
    assert_eq!(by_id("47").user_id.as_deref(), Some("dan@acme.com"));
    scim.assert_calls_async(1).await;

    let names = fleet
        .resolve_user_names(&[
            UserRef::new("anna@acme.com", "42"),
            UserRef::new("dan@acme.com", "47"),
        ])
        .await
        .unwrap();
    // Anna's host still shows her: named. Dan's host shows another IdP username: not answered, so a
    // name is never pinned on the wrong user id.
    assert_eq!(names.len(), 1);
    assert_eq!(names[0].user_id, "anna@acme.com");
    assert_eq!(names[0].name.as_deref(), Some("Anna Chao"));
    let mut anna = by_id("42").clone();
    anna.resolve_user_name(names[0].name.clone());
    assert_eq!(anna.display_name.as_deref(), Some("Anna Chao"));
    anna_detail.assert_calls_async(1).await;
    dan_detail.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn an_empty_fleet_takes_one_request_and_null_is_empty() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            hosts_list(when, 0, 100);
            then.status(200).body(fixture("hosts_null.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);

    assert!(fleet.all_devices().await.unwrap().is_empty());
    assert_eq!(fleet.request_count(), 1);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn exactly_one_full_page_needs_a_second_empty_page() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            hosts_list(when, 0, 3);
            then.status(200).body(hosts_body(1, 4));
        })
        .await;
    server
        .mock_async(|when, then| {
            hosts_list(when, 1, 3);
            then.status(200).body(r#"{"hosts": []}"#);
        })
        .await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server).with_page_size(3);

    assert_eq!(ids(&fleet.all_devices().await.unwrap()), [1, 2, 3]);
    assert_eq!(fleet.request_count(), 2);
    unexpected.assert_calls_async(0).await;
}

/// Mocks `pages` pages of 100 hosts for a listing of `total` hosts, page `n` holding ids from
/// `n*100+1`.
async fn mock_fleet_of(server: &MockServer, total: u64) {
    let pages = total / 100 + 1;
    for page in 0..pages {
        let from = page * 100 + 1;
        let to = (from + 100).min(total + 1);
        let body = hosts_body(from, to);
        server
            .mock_async(|when, then| {
                hosts_list(when, page, 100);
                then.status(200).body(&body);
            })
            .await;
    }
}

#[tokio::test]
async fn several_pages_with_a_short_last_page() {
    let server = MockServer::start_async().await;
    mock_fleet_of(&server, 250).await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);

    let devices = fleet.all_devices().await.unwrap();
    assert_eq!(ids(&devices), (1..=250).collect::<Vec<_>>());
    assert_eq!(fleet.request_count(), 3, "ceil(250/100) requests");
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn several_full_pages_end_with_one_empty_page() {
    let server = MockServer::start_async().await;
    mock_fleet_of(&server, 200).await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);

    assert_eq!(fleet.all_devices().await.unwrap().len(), 200);
    assert_eq!(fleet.request_count(), 3);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn has_next_results_keeps_a_clamped_listing_going() {
    // Asked for 100 a page, Fleet serves 20 and says there is more.
    let server = MockServer::start_async().await;
    for (page, from, to, more) in [(0, 1, 21, true), (1, 21, 41, true), (2, 41, 46, false)] {
        let body = hosts_body_with_meta(from, to, more);
        server
            .mock_async(|when, then| {
                hosts_list(when, page, 100);
                then.status(200).body(&body);
            })
            .await;
    }
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);

    assert_eq!(
        ids(&fleet.all_devices().await.unwrap()),
        (1..=45).collect::<Vec<_>>()
    );
    assert_eq!(fleet.request_count(), 3);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn has_next_results_false_ends_on_a_full_page() {
    let server = MockServer::start_async().await;
    let body = hosts_body_with_meta(1, 101, false);
    server
        .mock_async(|when, then| {
            hosts_list(when, 0, 100);
            then.status(200).body(&body);
        })
        .await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);

    assert_eq!(fleet.all_devices().await.unwrap().len(), 100);
    assert_eq!(fleet.request_count(), 1, "no probe for an empty page");
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn one_page_reports_what_the_server_said() {
    let server = MockServer::start_async().await;
    let body = hosts_body_with_meta(11, 16, true);
    server
        .mock_async(|when, then| {
            hosts_list(when, 2, 5);
            then.status(200).body(&body);
        })
        .await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);

    let page = fleet
        .list_devices_page(&PageRequest::PageNumber { page: 2, size: 5 })
        .await
        .unwrap();
    assert_eq!(ids(&page.items), [11, 12, 13, 14, 15]);
    assert_eq!(page.info.has_more, Some(true));
    assert_eq!(page.info.total, None);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn requests_fleet_cannot_page_are_refused_without_io() {
    let server = MockServer::start_async().await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);

    for request in [
        PageRequest::NextLink { url: None },
        PageRequest::Offset {
            offset: 0,
            limit: 10,
        },
        PageRequest::PageNumber { page: 0, size: 0 },
    ] {
        let err = fleet.list_devices_page(&request).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidConfiguration, "{request:?}");
    }
    assert_eq!(fleet.request_count(), 0);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_list_without_hosts_is_an_invalid_response_not_an_empty_fleet() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            hosts_list(when, 0, 100);
            then.status(200).body(fixture("not_fleet_json.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server).all_devices().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert_eq!(err.operation(), Some("list_devices"));
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_host_without_an_id_fails_the_page_rather_than_shrink_it() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            hosts_list(when, 0, 100);
            then.status(200)
                .body(r#"{"hosts": [{"id": 1, "hostname": "a"}, {"hostname": "no id"}]}"#);
        })
        .await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server).all_devices().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    unexpected.assert_calls_async(0).await;
}

/// SCIM users `from..=to`, `user{i}@acme.com` named "User {i}", as a page from `start` of `total`.
fn scim_users(start: u64, from: u64, to: u64, total: u64) -> String {
    let users: Vec<serde_json::Value> = (from..=to)
        .map(|i| {
            serde_json::json!({"id": i.to_string(), "userName": format!("user{i}@acme.com"),
                               "name": {"givenName": "User", "familyName": i.to_string()}})
        })
        .collect();
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": total, "itemsPerPage": users.len(), "startIndex": start, "Resources": users
    })
    .to_string()
}

#[tokio::test]
async fn scim_pages_the_total_implies_are_all_read_and_a_directory_that_grew_is_read_to_its_end() {
    let server = MockServer::start_async().await;
    // Two hosts whose IdP users are on the second page and on a page the first total did not announce.
    let hosts = serde_json::json!({"hosts": [
        {"id": 1, "hostname": "a.local", "hardware_serial": "SERA0000001",
         "device_mapping": [{"email": "user150@acme.com", "source": "mdm_idp_accounts"}]},
        {"id": 2, "hostname": "b.local", "hardware_serial": "SERB0000002",
         "device_mapping": [{"email": "user230@acme.com", "source": "mdm_idp_accounts"}]}
    ]})
    .to_string();
    server
        .mock_async(|when, then| {
            hosts_list(when, 0, 100);
            then.status(200).body(hosts);
        })
        .await;
    let mut pages = Vec::new();
    // The first page says 200 users; by the second, 230 (users provisioned during the listing).
    for (start, from, to, total) in [(1, 1, 100, 200), (101, 101, 200, 230), (201, 201, 230, 230)] {
        let body = scim_users(start, from, to, total);
        pages.push(
            server
                .mock_async(move |when, then| {
                    when.method(httpmock::Method::GET)
                        .path("/api/v1/fleet/scim/Users")
                        .query_param("startIndex", start.to_string())
                        .query_param("count", "100");
                    then.status(200).body(body);
                })
                .await,
        );
    }
    let unexpected = catch_all(&server).await;
    let devices = provider(&server).all_devices().await.unwrap();
    let names: Vec<Option<&str>> = devices.iter().map(|d| d.display_name.as_deref()).collect();
    assert_eq!(names, [Some("User 150"), Some("User 230")]);
    for page in &pages {
        page.assert_calls_async(1).await;
    }
    unexpected.assert_calls_async(0).await;
}
