//! 200 answers of the wrong shape (issue 9, "Hostile numbers and shapes"): every provider's listing,
//! lookup and groups endpoints must turn each into an [`ErrorKind::InvalidResponse`] error (a Server error
//! to users), never into "no devices" or "no groups". Provider crates mount these bodies with httpmock on
//! each endpoint and check the outcome with [`assert_invalid_response`].

use httpmock::{Method, MockServer};
use mdmkit_core::{Category, ErrorKind};
use serde::de::DeserializeOwned;

/// Fails, naming the body and the type, unless every one of `bodies` is refused when decoded as `T`: a
/// wire list of another shape must be an error, never read as an empty list.
#[track_caller]
pub fn assert_rejected<T: DeserializeOwned>(bodies: &[&str]) {
    for body in bodies {
        assert!(
            serde_json::from_str::<T>(body).is_err(),
            "{body} decoded as {}",
            std::any::type_name::<T>()
        );
    }
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
        assert_rejected::<Vec<u32>>(&["{}", "null", r#"["a"]"#]);
        let panic = std::panic::catch_unwind(|| assert_rejected::<Vec<u32>>(&["{}", "[1]"]))
            .expect_err("[1] is a Vec<u32>");
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(message.starts_with("[1] decoded as "), "{message}");
        assert!(message.ends_with("Vec<u32>"), "{message}");
    }
}
