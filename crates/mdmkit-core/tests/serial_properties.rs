//! Property tests of the serial normaliser: any input, no panic; a parsed serial parses to itself; the
//! output is trimmed, upper-cased, single-spaced and free of control characters; placeholders are refused
//! whatever their case and spacing. 10,000 cases each.

use mdmkit_core::SerialNumber;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
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
