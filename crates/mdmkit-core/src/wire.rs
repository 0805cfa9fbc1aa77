//! What provider crates share in reading vendor bodies: the lenient serde helpers their `wire` modules
//! use where vendors differ from their own documentation, and a short way to ask an
//! [`ErrorClassifier`] what it makes of an answer.
//!
//! Each helper is written once here so that the same leniency reads the same in every provider: a list
//! sent as `null`, an id sent as a number by one endpoint and as a string by another.
//!
//! ```
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Row {
//!     #[serde(deserialize_with = "mdmkit_core::wire::id_text")]
//!     id: String,
//!     #[serde(default, deserialize_with = "mdmkit_core::wire::null_as_default")]
//!     tags: Vec<String>,
//! }
//!
//! let row: Row = serde_json::from_str(r#"{"id": 117, "tags": null}"#).unwrap();
//! assert_eq!((row.id.as_str(), row.tags.len()), ("117", 0));
//! ```

use serde::{Deserialize, Deserializer};

use crate::http::{ErrorClassifier, ErrorDetail, HeaderMap, StatusCode};

/// `null` read as the type's default (an empty list, `None`, `0`). With `#[serde(default)]` on the
/// field, a missing key reads the same; without it, a missing key stays an error.
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// What an id may arrive as: text, or an integer (of either sign).
#[derive(Deserialize)]
#[serde(untagged)]
enum RawId {
    Text(String),
    Unsigned(u64),
    Signed(i64),
}

impl RawId {
    fn into_text(self) -> String {
        match self {
            RawId::Text(s) => s.trim().to_owned(),
            RawId::Unsigned(n) => n.to_string(),
            RawId::Signed(n) => n.to_string(),
        }
    }
}

/// An id sent as a string (`"117"`) or as an integer (`117`), kept as its text with surrounding
/// whitespace removed. Anything else (`null`, a fraction, an object) is an error.
pub fn id_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    RawId::deserialize(d).map(RawId::into_text)
}

/// [`id_text`] for an optional id: `null` and a blank string are `None`. Put `#[serde(default)]` on the
/// field so that a missing key is `None` too.
pub fn optional_id_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<RawId>::deserialize(d)?
        .map(RawId::into_text)
        .filter(|id| !id.is_empty()))
}

/// What `classifier` makes of an error answer with this status, this body and no headers: the short
/// form for tests and tools.
///
/// # Panics
///
/// On a status outside 100–999, which no HTTP answer carries.
pub fn classify_answer(
    classifier: &(impl ErrorClassifier + ?Sized),
    status: u16,
    body: &str,
) -> ErrorDetail {
    let status = StatusCode::from_u16(status).expect("an HTTP status is 100 to 999");
    classifier.classify(status, &HeaderMap::new(), body.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::DefaultClassifier;
    use crate::ErrorKind;

    #[derive(Debug, Deserialize)]
    struct Row {
        #[serde(deserialize_with = "id_text")]
        id: String,
        #[serde(default, deserialize_with = "optional_id_text")]
        owner: Option<String>,
        #[serde(default, deserialize_with = "null_as_default")]
        tags: Vec<String>,
    }

    fn row(json: &str) -> Result<Row, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn ids_are_text_or_integers_and_kept_as_trimmed_text() {
        assert_eq!(row(r#"{"id": 117}"#).unwrap().id, "117");
        assert_eq!(row(r#"{"id": -3}"#).unwrap().id, "-3");
        assert_eq!(row(r#"{"id": " 117 "}"#).unwrap().id, "117");
        for wrong in [
            r#"{"id": null}"#,
            r#"{"id": 1.5}"#,
            r#"{"id": {}}"#,
            r#"{"id": true}"#,
            "{}",
        ] {
            assert!(row(wrong).is_err(), "{wrong}");
        }
    }

    #[test]
    fn optional_ids_treat_null_blank_and_missing_as_none() {
        for none in [
            r#"{"id": 1}"#,
            r#"{"id": 1, "owner": null}"#,
            r#"{"id": 1, "owner": "  "}"#,
        ] {
            assert_eq!(row(none).unwrap().owner, None, "{none}");
        }
        assert_eq!(
            row(r#"{"id": 1, "owner": 42}"#).unwrap().owner.as_deref(),
            Some("42")
        );
        assert_eq!(
            row(r#"{"id": 1, "owner": " u-7 "}"#)
                .unwrap()
                .owner
                .as_deref(),
            Some("u-7")
        );
        assert!(row(r#"{"id": 1, "owner": [1]}"#).is_err());
    }

    #[test]
    fn null_lists_are_empty_and_other_shapes_stay_errors() {
        assert!(row(r#"{"id": 1, "tags": null}"#).unwrap().tags.is_empty());
        assert!(row(r#"{"id": 1}"#).unwrap().tags.is_empty());
        assert_eq!(
            row(r#"{"id": 1, "tags": ["a"]}"#).unwrap().tags,
            vec!["a".to_owned()]
        );
        assert!(row(r#"{"id": 1, "tags": "a"}"#).is_err());
    }

    #[test]
    fn classify_answer_hands_status_and_body_to_the_classifier() {
        #[derive(Debug)]
        struct Echo;
        impl ErrorClassifier for Echo {
            fn classify(
                &self,
                status: StatusCode,
                headers: &HeaderMap,
                body: &[u8],
            ) -> ErrorDetail {
                ErrorDetail {
                    kind: (status == StatusCode::FORBIDDEN && headers.is_empty())
                        .then_some(ErrorKind::Forbidden),
                    message: Some(String::from_utf8_lossy(body).into_owned()),
                }
            }
        }
        let detail = classify_answer(&Echo, 403, "denied");
        assert_eq!(detail.kind, Some(ErrorKind::Forbidden));
        assert_eq!(detail.message.as_deref(), Some("denied"));
        let generic = classify_answer(&DefaultClassifier, 500, r#"{"message": "boom"}"#);
        assert_eq!(generic.message.as_deref(), Some("boom"));
    }
}
