//! JumpCloud's JSON as the API sends it (V1 `/api/...` and V2 `/api/v2/...`).
//!
//! Fields are optional and `null`-tolerant: the public spec marks almost nothing as required, and public
//! scripts read fields (`id` beside `_id`) the spec does not list. Unknown fields are ignored. What carries
//! results is strict: a V1 list's `results` must be an array and a V2 list an array (or that envelope),
//! so `{}`, `null` or an HTML page is an invalid response, never "no systems" or "no groups".

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A V1 list: `{"results": [...], "totalCount": N}` (`systemslist`, `systemuserslist`,
/// `organizationslist`).
#[derive(Debug, Deserialize)]
#[serde(bound = "T: Deserialize<'de>")]
pub(crate) struct V1List<T> {
    /// Required, and an array: `null` or a missing list is not an empty one.
    pub(crate) results: Vec<T>,
    #[serde(rename = "totalCount", default)]
    pub(crate) total_count: Option<u64>,
}

/// A V2 list. V2 documents a bare JSON array with the total in the `x-total-count` header; JumpCloud's
/// own PowerShell module also copes with the V1 envelope, so both are accepted.
#[derive(Debug, Deserialize)]
#[serde(untagged, bound = "T: Deserialize<'de>")]
pub(crate) enum V2List<T> {
    /// `[...]`
    Bare(Vec<T>),
    /// `{"results": [...], "totalCount": N}`
    Wrapped(V1List<T>),
}

impl<T> V2List<T> {
    /// The rows and the body's own total, if it has one.
    pub(crate) fn into_parts(self) -> (Vec<T>, Option<u64>) {
        match self {
            V2List::Bare(items) => (items, None),
            V2List::Wrapped(list) => (list.results, list.total_count),
        }
    }
}

/// A device (`JcSystem`), reduced to what mdmkit reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct System {
    /// The documented id.
    #[serde(rename = "_id", default)]
    pub(crate) underscore_id: Option<String>,
    /// The id public scripts read from raw responses; not in the spec.
    pub(crate) id: Option<String>,
    #[serde(rename = "displayName", default)]
    pub(crate) display_name: Option<String>,
    pub(crate) hostname: Option<String>,
    #[serde(rename = "serialNumber", default)]
    pub(crate) serial_number: Option<String>,
    /// `primarySystemUser.id`; `null`, `{}` and a blank id all mean "no primary user".
    #[serde(
        rename = "primarySystemUser",
        default,
        deserialize_with = "primary_user_id"
    )]
    pub(crate) primary_user_id: Option<String>,
    /// When the agent last contacted JumpCloud (`2026-06-01T10:00:00.000Z`).
    #[serde(rename = "lastContact", default)]
    pub(crate) last_contact: Option<String>,
}

impl System {
    /// `_id`, else `id` (blank counts as missing).
    pub(crate) fn device_id(&self) -> Option<&str> {
        underscore_id_else_id(&self.underscore_id, &self.id)
    }
}

/// A directory user (`systemuserreturn`), reduced to the fields that name a person.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct SystemUser {
    #[serde(rename = "_id", default)]
    pub(crate) underscore_id: Option<String>,
    pub(crate) id: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) email: Option<String>,
    /// Lower-case on users (`displayname`), unlike systems (`displayName`).
    pub(crate) displayname: Option<String>,
    pub(crate) firstname: Option<String>,
    pub(crate) lastname: Option<String>,
}

impl SystemUser {
    /// `_id`, else `id` (blank counts as missing).
    pub(crate) fn user_id(&self) -> Option<&str> {
        underscore_id_else_id(&self.underscore_id, &self.id)
    }
}

/// The V1 record id: `_id`, else `id`, trimmed; a blank one counts as missing.
fn underscore_id_else_id<'a>(
    underscore_id: &'a Option<String>,
    id: &'a Option<String>,
) -> Option<&'a str> {
    [underscore_id, id]
        .into_iter()
        .filter_map(|v| v.as_deref())
        .map(str::trim)
        .find(|v| !v.is_empty())
}

/// A V2 graph row (`GraphObjectWithPaths`): a user bound to a system, or a system in a group's
/// membership, with every path that connects them.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct GraphObject {
    pub(crate) id: Option<String>,
    #[serde(rename = "type", default)]
    pub(crate) kind: Option<String>,
    /// Each path is a list of hops; a path of one hop is a direct binding.
    #[serde(default, deserialize_with = "mdmkit_core::wire::null_as_default")]
    pub(crate) paths: Vec<Vec<Value>>,
}

impl GraphObject {
    /// The id, blank counting as missing.
    pub(crate) fn object_id(&self) -> Option<&str> {
        self.id.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }

    /// Whether the row is of `kind`; a row without a type is taken to be of the kind the endpoint lists.
    pub(crate) fn is(&self, kind: &str) -> bool {
        self.kind
            .as_deref()
            .is_none_or(|k| k.trim().is_empty() || k.eq_ignore_ascii_case(kind))
    }

    /// Whether one of the paths is a single hop (a direct binding rather than one through a group).
    pub(crate) fn is_direct(&self) -> bool {
        self.paths.iter().any(|p| p.len() == 1)
    }
}

/// A system group (`SystemGroup`, V2).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct SystemGroup {
    pub(crate) id: Option<String>,
    pub(crate) name: Option<String>,
    #[serde(rename = "type", default)]
    pub(crate) kind: Option<String>,
}

/// `primarySystemUser` as `{"id": "..."}` (documented), a bare id string, `{}` or `null`.
fn primary_user_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = Option::<Value>::deserialize(d)?;
    let id = match value {
        Some(Value::Object(map)) => map
            .get("id")
            .or_else(|| map.get("_id"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    Ok(id.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()))
}

#[cfg(test)]
mod tests {
    use mdmkit_testkit::shapes::{assert_envelope_rejected, assert_rejected};

    use super::*;

    #[test]
    fn system_reads_both_ids_and_every_primary_user_shape() {
        let s: System = serde_json::from_str(
            r#"{"_id":"a","id":"a","displayName":null,"primarySystemUser":{"id":"u1"}}"#,
        )
        .unwrap();
        assert_eq!(s.device_id(), Some("a"));
        assert_eq!(s.primary_user_id.as_deref(), Some("u1"));

        let s: System = serde_json::from_str(r#"{"id":"b","primarySystemUser":null}"#).unwrap();
        assert_eq!(s.device_id(), Some("b"));
        assert_eq!(s.primary_user_id, None);

        for shape in [
            r#"{"_id":"c"}"#,
            r#"{"_id":"c","primarySystemUser":{}}"#,
            r#"{"_id":"c","primarySystemUser":{"id":""}}"#,
            r#"{"_id":"c","primarySystemUser":{"id":null}}"#,
        ] {
            let s: System = serde_json::from_str(shape).unwrap();
            assert_eq!(s.primary_user_id, None, "{shape}");
        }
        let s: System =
            serde_json::from_str(r#"{"_id":" ","id":"d","primarySystemUser":"u2"}"#).unwrap();
        assert_eq!(s.device_id(), Some("d"));
        assert_eq!(s.primary_user_id.as_deref(), Some("u2"));
    }

    #[test]
    fn v2_lists_accept_bare_arrays_and_the_v1_envelope() {
        let bare: V2List<GraphObject> =
            serde_json::from_str(r#"[{"id":"x","type":"system","paths":null}]"#).unwrap();
        let (items, total) = bare.into_parts();
        assert_eq!((items.len(), total), (1, None));
        let wrapped: V2List<GraphObject> =
            serde_json::from_str(r#"{"results":[{"id":"x"}],"totalCount":7}"#).unwrap();
        let (items, total) = wrapped.into_parts();
        assert_eq!((items.len(), total), (1, Some(7)));
        let v1: V1List<System> = serde_json::from_str(r#"{"results":[],"totalCount":0}"#).unwrap();
        assert!(v1.results.is_empty());
    }

    #[test]
    fn lists_of_another_shape_are_errors() {
        assert_envelope_rejected::<V1List<System>>(
            "results",
            &[r#"{"totalCount":3}"#, r#"{"results":{"_id":"a"}}"#],
        );
        // V2's empty list may also come bare (`[]`, read below), so only its other wrong shapes.
        assert_rejected::<V2List<GraphObject>>(&["{}", r#"{"results":null}"#]);
        let (items, _) = serde_json::from_str::<V2List<GraphObject>>("[]")
            .unwrap()
            .into_parts();
        assert!(items.is_empty(), "a bare empty array is V2's empty list");
    }
}
