//! Assertions on what a provider crate produces: a normalised device, a classified error.

use mdmkit_core::http::ErrorDetail;
use mdmkit_core::{ErrorKind, MdmDevice};
use serde_json::Value;

/// Fails unless `device`, as JSON, is exactly `expected`: every normalised field (`device_id`,
/// `serial_number`, `user_id`, `user_name`, `display_name`, `device_name`, with `null` for none) and no
/// `unresolved` part unless `expected` names one. One comparison per device, so a mapping test states
/// the whole device and a field left out of the expectation is a failure, not a pass.
#[track_caller]
pub fn assert_device(device: &MdmDevice, expected: &str) {
    let expected: Value = serde_json::from_str(expected)
        .unwrap_or_else(|e| panic!("the expected device is not JSON ({e}): {expected}"));
    let actual = serde_json::to_value(device).expect("a device serialises");
    assert_eq!(
        actual, expected,
        "\n  device: {actual}\nexpected: {expected}"
    );
}

/// The message of `detail` after checking that the classifier gave it `kind`; fails when it gave
/// another kind or no message.
#[track_caller]
pub fn classified(detail: &ErrorDetail, kind: ErrorKind) -> &str {
    assert_eq!(detail.kind, Some(kind), "{detail:?}");
    detail
        .message
        .as_deref()
        .unwrap_or_else(|| panic!("no message: {detail:?}"))
}

#[cfg(test)]
mod tests {
    use mdmkit_core::SerialNumber;

    use super::*;

    fn anna() -> MdmDevice {
        MdmDevice::new(
            "42",
            SerialNumber::parse_opt(Some("c02zc2qylvdl")),
            Some("Anna's Mac".into()),
            Some("u1".into()),
            Some("Anna".into()),
        )
    }

    #[test]
    fn a_device_matches_only_its_whole_json() {
        let d = anna();
        assert_device(
            &d,
            r#"{"device_id":"42","serial_number":"C02ZC2QYLVDL","user_id":"u1","user_name":"Anna",
                "display_name":"Anna","device_name":"Anna's Mac"}"#,
        );
        for wrong in [
            r#"{"device_id":"42"}"#,
            r#"{"device_id":"42","serial_number":"C02ZC2QYLVDL","user_id":"u1","user_name":"Anna",
                "display_name":"Anna's Mac","device_name":"Anna's Mac"}"#,
        ] {
            let failed = std::panic::catch_unwind(|| assert_device(&d, wrong));
            assert!(failed.is_err(), "{wrong} passed");
        }
    }

    #[test]
    fn classified_checks_the_kind_and_gives_the_message() {
        let detail = ErrorDetail {
            kind: Some(ErrorKind::Forbidden),
            message: Some("no privilege".into()),
        };
        assert_eq!(classified(&detail, ErrorKind::Forbidden), "no privilege");
        assert!(std::panic::catch_unwind(|| {
            classified(&detail, ErrorKind::Unauthorized);
        })
        .is_err());
        let silent = ErrorDetail {
            kind: Some(ErrorKind::Forbidden),
            message: None,
        };
        assert!(std::panic::catch_unwind(|| {
            classified(&silent, ErrorKind::Forbidden);
        })
        .is_err());
    }
}
