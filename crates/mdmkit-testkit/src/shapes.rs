//! 200 answers of the wrong shape (issue 9, "Hostile numbers and shapes"): every provider's listing,
//! lookup and groups endpoints must turn each into an [`ErrorKind::InvalidResponse`] error (a Server error
//! to users), never into "no devices" or "no groups". Provider crates mount these bodies with httpmock on
//! each endpoint and check the outcome with [`assert_invalid_response`].

use httpmock::{Method, MockServer};
use mdmkit_core::{Category, ErrorKind};
use serde::de::DeserializeOwned;

/// `body` decoded as `T`; a body that does not decode fails naming the type, serde's reason and the body
/// (a fixture that stopped decoding says why).
#[track_caller]
pub fn decode<T: DeserializeOwned>(body: &str) -> T {
    serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("not a {} ({e}): {body}", std::any::type_name::<T>()))
}

/// Documents no wire type of ours is: a JSON `null`, a number, a boolean, a string.
const NO_DOCUMENT: &[&str] = &["null", "0", "true", r#""devices""#];

/// Fails, naming the body and the type, unless every one of `bodies`, and each of `null`, a number, a
/// boolean and a string, is refused when decoded as `T`: a wire list of another shape must be an error,
/// never read as an empty list.
#[track_caller]
pub fn assert_rejected<T: DeserializeOwned>(bodies: &[&str]) {
    for body in NO_DOCUMENT.iter().chain(bodies) {
        assert!(
            serde_json::from_str::<T>(body).is_err(),
            "{body} decoded as {}",
            std::any::type_name::<T>()
        );
    }
}

/// [`assert_rejected`] for a list envelope `T` keeping its rows under `list` (`{"results": [...]}`):
/// refused are also an empty object, a bare array, and the envelope with `null`, an object or a string
/// where its list belongs, besides `more` (the type's own wrong shapes).
#[track_caller]
pub fn assert_envelope_rejected<T: DeserializeOwned>(list: &str, more: &[&str]) {
    let wrong_lists = [
        serde_json::Value::Null,
        serde_json::json!({"id": "1"}),
        serde_json::json!("1,2"),
    ]
    .map(|wrong| serde_json::json!({ list: wrong }).to_string());
    let mut bodies = vec!["{}", "[]"];
    bodies.extend(wrong_lists.iter().map(String::as_str));
    bodies.extend(more);
    assert_rejected::<T>(&bodies);
}

/// Answers each `GET path` with 200 and its JSON body, the first route first (httpmock serves the
/// first-registered mock that matches, so the endpoint under test goes first and healthy answers after).
pub async fn mount_json<P: Into<String>>(
    server: &MockServer,
    routes: impl IntoIterator<Item = (P, String)>,
) {
    for (path, body) in routes {
        let path = path.into();
        server
            .mock_async(move |when, then| {
                when.method(Method::GET).path(path);
                then.status(200)
                    .header("content-type", "application/json")
                    .body(body);
            })
            .await;
    }
}

/// Labelled bodies of the wrong shape for one endpoint: `{}`, `[]`, `null`, a string, an HTML page, the
/// endpoint's envelope with an object where its list belongs (`list_as_object`), and `valid` cut short
/// (truncated JSON). `documented_empty`, the endpoint's own empty answer (`[]` for a bare-array endpoint),
/// is left out, because for that endpoint it does mean "nothing".
pub fn wrong_shapes(
    documented_empty: &str,
    list_as_object: &str,
    valid: &str,
) -> Vec<(&'static str, String)> {
    assert!(
        valid.len() >= 4,
        "a valid body long enough to cut short, not {valid:?}"
    );
    let mut cut = valid.len() / 2;
    while !valid.is_char_boundary(cut) {
        cut -= 1;
    }
    [
        ("an empty object", "{}".to_owned()),
        ("an empty array", "[]".to_owned()),
        ("null", "null".to_owned()),
        ("a string", r#""devices""#.to_owned()),
        ("a number", "0".to_owned()),
        (
            "an HTML page",
            "<!DOCTYPE html><html><head><title>Sign in</title></head><body>Please sign in</body></html>"
                .to_owned(),
        ),
        ("an object where a list belongs", list_as_object.to_owned()),
        ("truncated JSON", valid[..cut].to_owned()),
    ]
    .into_iter()
    .filter(|(_, body)| body.trim() != documented_empty.trim())
    .collect()
}

/// Asserts that `result` is an invalid-response error (R8 category Server), naming `what` on failure.
pub fn assert_invalid_response<T: std::fmt::Debug>(result: mdmkit_core::Result<T>, what: &str) {
    match result {
        Ok(value) => panic!("{what}: accepted as {value:?}"),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{what}: {e}");
            assert_eq!(e.category(), Category::Server, "{what}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_empty_answer_is_left_out_and_the_cut_is_on_a_char_boundary() {
        let shapes = wrong_shapes("[]", r#"{"results":{}}"#, r#"{"name":"Zoë's Mac"}"#);
        assert!(shapes.iter().all(|(_, b)| b != "[]"));
        assert_eq!(shapes.len(), 7);
        let valid = "[{\"ü\":1}]";
        let all = wrong_shapes("", "{\"x\":{}}", valid);
        assert_eq!(all.len(), 8);
        let (_, truncated) = all.iter().find(|(l, _)| *l == "truncated JSON").unwrap();
        assert!(valid.starts_with(truncated.as_str()) && truncated.len() < valid.len());
        assert!(serde_json::from_str::<serde_json::Value>(truncated).is_err());
    }

    #[test]
    fn assert_rejected_passes_refused_bodies_and_names_one_that_decodes() {
        assert_rejected::<Vec<u32>>(&["{}", r#"["a"]"#]);
        let panic = std::panic::catch_unwind(|| assert_rejected::<Option<Vec<u32>>>(&[]))
            .expect_err("null is an Option");
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(message.starts_with("null decoded as "), "{message}");
        let panic = std::panic::catch_unwind(|| assert_rejected::<Vec<u32>>(&["{}", "[1]"]))
            .expect_err("[1] is a Vec<u32>");
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(message.starts_with("[1] decoded as "), "{message}");
        assert!(message.ends_with("Vec<u32>"), "{message}");
    }

    #[derive(Debug, serde::Deserialize)]
    struct Envelope {
        #[allow(dead_code)]
        results: Vec<u32>,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Lenient {
        #[serde(default)]
        #[allow(dead_code)]
        results: Option<Vec<u32>>,
    }

    #[test]
    fn envelopes_must_refuse_every_misplaced_list() {
        assert_envelope_rejected::<Envelope>("results", &[r#"{"results":["a"]}"#]);
        let panic =
            std::panic::catch_unwind(|| assert_envelope_rejected::<Lenient>("results", &[]))
                .expect_err("a lenient envelope reads {} as no list");
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(message.starts_with("{} decoded as "), "{message}");
        let panic = std::panic::catch_unwind(|| {
            assert_envelope_rejected::<Envelope>("results", &[r#"{"results":[1]}"#])
        })
        .expect_err("a valid page among `more`");
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(
            message.starts_with(r#"{"results":[1]} decoded as "#),
            "{message}"
        );
    }

    #[test]
    fn decode_names_the_type_and_the_body_it_refused() {
        assert_eq!(decode::<Vec<u32>>("[1,2]"), [1, 2]);
        let panic = std::panic::catch_unwind(|| decode::<Vec<u32>>(r#"{"a":1}"#)).unwrap_err();
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(
            message.starts_with("not a alloc::vec::Vec<u32> ("),
            "{message}"
        );
        assert!(message.ends_with(r#"): {"a":1}"#), "{message}");
    }
}
