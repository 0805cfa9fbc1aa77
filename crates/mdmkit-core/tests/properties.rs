//! Property tests: the header parsers, the host policy, the error-body reader and the paging engine take
//! any input without panicking, and their results stay within bounds. 10,000 cases each.
//!
//! The serial normaliser too: any input, no panic; a parsed serial parses to itself; the output is trimmed,
//! upper-cased, single-spaced and free of control characters; placeholders are refused whatever their
//! case and spacing.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mdmkit_core::http::{
    generic_message, is_internal, parse_rate_limit_reset, parse_retry_after, retry_after_at,
    HeaderMap, HeaderValue, RetryConfig, MAX_SERVER_WAIT,
};
use mdmkit_core::paging::row_is_id;
use mdmkit_core::{Page, PageInfo, Pager, PagingStyle, SerialNumber};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Header text a server might send: anything, numbers of every size and sign, floats and HTTP dates.
fn header_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ ]?[+-]?[0-9]{0,40}[ ]?",
        "[+-]?[0-9]{0,25}(\\.[0-9]{0,20})?([eE][+-]?[0-9]{1,4})?",
        "(NaN|nan|inf|-inf|infinity|-Infinity|1e309|-1e309|0x10)",
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
        "(Mon|Tue|Sun), [0-9]{2} (Jan|Feb|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT",
        "(Monday|Sunday), [0-9]{2}-(Jan|Nov)-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT",
        "(Mon|Sun) (Jan|Nov) [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}",
    ]
}

/// Any moment a clock could show, from the epoch to the far future.
fn instant() -> impl Strategy<Value = SystemTime> {
    (0u64..=253_402_300_799).prop_map(|secs| UNIX_EPOCH + Duration::from_secs(secs))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn retry_after_never_panics_and_is_bounded(value in header_text(), now in instant()) {
        if let Some(wait) = parse_retry_after(&value, now) {
            prop_assert!(wait <= MAX_SERVER_WAIT);
        }
    }

    #[test]
    fn rate_limit_reset_never_panics_and_is_bounded(value in header_text(), now in instant()) {
        if let Some(wait) = parse_rate_limit_reset(&value, now) {
            prop_assert!(wait <= MAX_SERVER_WAIT);
        }
    }

    #[test]
    fn the_header_reader_never_panics_and_is_bounded(
        retry in proptest::option::of(header_text()),
        reset in proptest::option::of(header_text()),
        remaining in proptest::option::of(header_text()),
        now in instant(),
    ) {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("retry-after", retry),
            ("x-ratelimit-reset", reset),
            ("x-ratelimit-remaining", remaining),
        ] {
            if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                headers.insert(name, v);
            }
        }
        if let Some(wait) = retry_after_at(&headers, now) {
            prop_assert!(wait <= MAX_SERVER_WAIT);
        }
    }

    #[test]
    fn backoff_is_bounded_for_any_attempt(attempt in any::<u32>(), initial in any::<u64>(), max in any::<u64>()) {
        let config = RetryConfig {
            initial_backoff: Duration::from_nanos(initial),
            max_backoff: Duration::from_nanos(max),
            ..RetryConfig::default()
        };
        prop_assert!(config.backoff(attempt) <= config.max_backoff);
    }

    #[test]
    fn the_host_policy_judges_any_address(bits in any::<u128>(), v4 in any::<u32>()) {
        let v6 = IpAddr::from(bits.to_be_bytes());
        let v4 = IpAddr::from(v4.to_be_bytes());
        // Total and consistent: an IPv4 address and its mapped form are judged alike.
        let mapped = match v4 { IpAddr::V4(a) => IpAddr::V6(a.to_ipv6_mapped()), other => other };
        prop_assert_eq!(is_internal(v4), is_internal(mapped));
        let _ = is_internal(v6);
    }

    #[test]
    fn error_bodies_of_any_bytes_give_a_short_message(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Some(message) = generic_message(&body) {
            prop_assert!(message.chars().count() <= 301);
        }
    }
}

/// A page a hostile server might send: a few rows with ids from a small set (so pages repeat), a total
/// of any size, and any combination of paging hints.
fn hostile_page() -> impl Strategy<Value = (Vec<u8>, PageInfo)> {
    let total = prop_oneof![
        Just(None),
        any::<u64>().prop_map(Some),
        (0u64..50).prop_map(Some)
    ];
    let text = proptest::option::of("[a-c]{1,2}");
    (
        proptest::collection::vec(0u8..40, 0..12),
        total,
        proptest::option::of(any::<bool>()),
        text.clone(),
        text,
    )
        .prop_map(|(rows, total, has_more, cursor, link)| {
            let info = PageInfo {
                total,
                has_more,
                next_cursor: cursor,
                next_link: link.map(|l| format!("https://mdm.example/{l}")),
            };
            (rows, info)
        })
}

fn style() -> impl Strategy<Value = PagingStyle> {
    prop_oneof![
        (any::<u64>(), 0u32..12).prop_map(|(first, size)| PagingStyle::PageNumber { first, size }),
        (0u32..12).prop_map(|limit| PagingStyle::Offset { limit }),
        (0u32..12).prop_map(|limit| PagingStyle::Cursor { limit }),
        Just(PagingStyle::NextLink),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// Whatever pages come back, the pager never panics, counts every row, and ends (completes or
    /// fails) within its page ceiling.
    #[test]
    fn the_pager_ends_within_its_ceiling_whatever_the_server_sends(
        style in style(),
        max_pages in 1u32..20,
        pages in proptest::collection::vec(hostile_page(), 1..25),
    ) {
        let mut pager = Pager::with_max_pages(style, max_pages);
        let mut recorded = 0u32;
        let mut rows = 0u64;
        for (ids, info) in pages {
            if pager.next_request().is_none() {
                break;
            }
            let page = Page::new(ids.iter().map(u8::to_string).collect::<Vec<_>>(), info);
            rows += page.items.len() as u64;
            recorded += 1;
            let outcome = pager.record(&page, row_is_id);
            prop_assert_eq!(pager.rows(), rows);
            if outcome.is_err() {
                prop_assert!(pager.next_request().is_none(), "an error ends the listing");
                break;
            }
        }
        prop_assert!(recorded <= max_pages);
        prop_assert!(pager.pages() <= max_pages);
    }
}

/// Serial-like text: anything, real serial shapes with odd spacing and case, and placeholders.
fn raw_serial() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        3 => "[ \t\n\u{a0}\u{2003}]{0,2}[A-Za-z0-9][A-Za-z0-9 \t\u{a0}-]{0,20}[ \t\n]{0,2}",
        2 => placeholder(),
        1 => "[0 -]{0,12}",
        1 => "[a-zA-Z0-9\u{0}-\u{1f}\u{7f}-\u{9f}]{0,12}",
        1 => "[ıſßǅΐﬁK]{1,6}[a-z0-9]{0,6}",
    ]
}

/// A placeholder serial in any case, with any spacing inside and around it.
fn placeholder() -> impl Strategy<Value = String> {
    let words = prop::sample::select(vec![
        "To Be Filled By O.E.M.",
        "Default string",
        "System Serial Number",
        "Not Specified",
        "Chassis Serial Number",
        "n/a",
        "NULL",
        "none",
        "0000 0000",
        "0-0-0",
    ]);
    (words, any::<Vec<bool>>(), "[ \t]{0,3}", "[ \t]{1,3}").prop_map(
        |(words, upper, around, inner)| {
            let cased: String = words
                .chars()
                .zip(upper.iter().copied().chain(std::iter::repeat(false)))
                .map(|(c, up)| {
                    if up {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect();
            format!("{around}{}{around}", cased.replace(' ', &inner))
        },
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn parsing_never_panics_and_a_parsed_serial_parses_to_itself(raw in raw_serial()) {
        if let Ok(serial) = SerialNumber::parse(&raw) {
            let text = serial.as_str();
            prop_assert!(!text.is_empty());
            prop_assert_eq!(text, text.trim());
            prop_assert!(!text.contains("  "), "{:?}", text);
            prop_assert!(text.chars().all(|c| c == ' ' || !c.is_whitespace()), "{:?}", text);
            prop_assert!(!text.chars().any(char::is_control), "{:?}", text);
            prop_assert_eq!(text.to_uppercase(), text);
            // Idempotent: the normal form is a fixed point, and it still names the input.
            let again = SerialNumber::parse(text).ok();
            prop_assert_eq!(again.as_ref(), Some(&serial));
            prop_assert!(serial.matches(&raw));
            prop_assert!(serial.matches(&raw.to_lowercase()) || raw.to_lowercase().to_uppercase() != raw.to_uppercase());
        }
    }

    #[test]
    fn placeholders_are_refused_in_any_case_and_spacing(raw in placeholder()) {
        prop_assert!(SerialNumber::parse(&raw).is_err(), "{:?} accepted", raw);
    }
}
