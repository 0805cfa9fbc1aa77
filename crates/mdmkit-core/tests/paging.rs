//! The paging engine against misbehaving servers on loopback: every listing ends, with a bounded number of
//! requests.

mod support;

use mdmkit_core::http::{ClientOptions, HttpClient, RetryConfig};
use mdmkit_core::paging::{collect_all, row_is_id};
use mdmkit_core::{ErrorKind, Page, PageInfo, PageRequest, PagingStyle, ProviderKind, Url};
use serde::Deserialize;
use support::{Reply, Server};

#[derive(Deserialize)]
struct Listing {
    #[serde(rename = "totalCount")]
    total_count: Option<u64>,
    results: Vec<u64>,
    next: Option<String>,
}

fn http(server: &Server, max_pages: u32) -> HttpClient {
    let options = ClientOptions {
        max_pages,
        retry: RetryConfig::none(),
        ..ClientOptions::for_local_testing()
    };
    HttpClient::new(
        ProviderKind::Jamf,
        Url::parse(&server.url()).unwrap(),
        &options,
    )
    .unwrap()
}

async fn list(http: &HttpClient, style: PagingStyle) -> mdmkit_core::Result<Vec<String>> {
    collect_all(http.pager(style), row_is_id, |request| async move {
        let builder = match &request {
            PageRequest::PageNumber { page, size } => http
                .get("items")
                .query("page", page.to_string())
                .query("page-size", size.to_string()),
            PageRequest::Cursor { after, limit } => {
                let b = http.get("items").query("limit", limit.to_string());
                match after {
                    Some(a) => b.query("starting_after", a),
                    None => b,
                }
            }
            PageRequest::NextLink { url: Some(url) } => http.get_absolute(url),
            other => http.get("items").query("first", format!("{other:?}")),
        };
        let listing: Listing = builder.json().await?;
        let info = PageInfo {
            total: listing.total_count,
            has_more: None,
            next_cursor: listing.results.last().map(u64::to_string),
            next_link: listing.next,
        };
        Ok(Page::new(
            listing.results.iter().map(u64::to_string).collect(),
            info,
        ))
    })
    .await
}

#[tokio::test]
async fn a_total_that_never_matches_its_pages_stops_at_the_page_ceiling() {
    // Full pages forever, and a total that always claims more.
    let server = Server::start(|i, _| {
        let rows: Vec<String> = (0..10).map(|n| (i * 10 + n).to_string()).collect();
        Reply::json(
            200,
            &format!(
                r#"{{"totalCount": 1000000, "results": [{}]}}"#,
                rows.join(",")
            ),
        )
    })
    .await;
    let http = http(&server, 25);
    let err = list(&http, PagingStyle::PageNumber { first: 0, size: 10 })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(
        err.to_string().contains("did not end after 25 pages"),
        "{err}"
    );
    assert_eq!(server.hits(), 25);
}

#[tokio::test]
async fn an_empty_page_ends_the_listing_even_if_the_total_says_more() {
    let server = Server::start(|i, _| match i {
        0 => Reply::json(
            200,
            r#"{"totalCount": 50, "results": [1,2,3,4,5,6,7,8,9,10]}"#,
        ),
        _ => Reply::json(200, r#"{"totalCount": 50, "results": []}"#),
    })
    .await;
    let rows = list(
        &http(&server, 1000),
        PagingStyle::PageNumber { first: 0, size: 10 },
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), 10);
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_repeated_cursor_is_an_error_not_a_loop() {
    // The server ignores starting_after and always returns the same page.
    let server = Server::start(|_, _| Reply::json(200, r#"{"results": [1,2,3]}"#)).await;
    let err = list(&http(&server, 1000), PagingStyle::Cursor { limit: 3 })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.to_string().contains("repeated a cursor"), "{err}");
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_same_origin_next_link_that_repeats_stops_after_two_pages() {
    let cell = std::sync::Arc::new(std::sync::OnceLock::<u16>::new());
    let port_cell = cell.clone();
    let server = Server::start(move |_, _| {
        let port = port_cell.get().copied().unwrap_or(0);
        Reply::json(
            200,
            &format!(
                r#"{{"results": [1], "next": "http://127.0.0.1:{port}/items?skiptoken=same"}}"#
            ),
        )
    })
    .await;
    cell.set(server.port).unwrap();
    let err = list(&http(&server, 1000), PagingStyle::NextLink)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("repeat"), "{err}");
    assert_eq!(server.hits(), 2);
}

/// Defect 7: a server that ignores the page (or offset) parameter, so every page holds the same rows,
/// while claiming a large total. The old engine asked for page after page up to its 10,000-page ceiling;
/// now the second page ends the listing with an invalid-response (Server) error.
#[tokio::test]
async fn a_server_that_ignores_the_page_parameter_is_stopped_at_the_second_page() {
    for style in [
        PagingStyle::PageNumber { first: 0, size: 10 },
        PagingStyle::Cursor { limit: 10 },
    ] {
        let server = Server::start(|_, _| {
            Reply::json(
                200,
                r#"{"totalCount": 100000000, "results": [1,2,3,4,5,6,7,8,9,10]}"#,
            )
        })
        .await;
        let err = list(&http(&server, 10_000), style).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{style:?}");
        assert_eq!(err.category(), mdmkit_core::Category::Server);
        assert_eq!(server.hits(), 2, "{style:?}");
    }
}

/// A server whose pages are fresh but far beyond its own total is stopped once it has clearly passed it.
#[tokio::test]
async fn a_listing_past_the_servers_own_total_is_stopped() {
    let server = Server::start(|i, _| {
        let rows: Vec<String> = (0..10).map(|n| (i * 10 + n).to_string()).collect();
        Reply::json(
            200,
            &format!(r#"{{"totalCount": 25, "results": [{}]}}"#, rows.join(",")),
        )
    })
    .await;
    // The cursor style goes on while pages are full; the total says 25.
    let err = list(&http(&server, 10_000), PagingStyle::Cursor { limit: 10 })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("counts 25 rows"), "{err}");
    assert_eq!(server.hits(), 4);
}
