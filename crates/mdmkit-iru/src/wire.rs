//! The JSON Iru sends, decoded leniently where the reference says shapes vary.
//!
//! Every decoder here goes through [`serde_json::Value`] first so that the documented variants (a bare
//! device object where an array is documented, `"user": ""`, string or numeric ids) are accepted, and
//! anything else fails with a message that says which field was wrong. What carries results is strict: a
//! device listing is an array (or one object that is a device, with a `device_id`), a tag page an object
//! with a `results` array; `{}`, `null`, an error object or an HTML page is never "no devices" or "no
//! tags".

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// Names a JSON value's type for error messages.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An identifier: a UUID string for devices, users and tags; accepted as a number too, because the
/// device filter docs speak of a "user ID number" and older records may carry integer ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct WireId(pub(crate) String);

impl WireId {
    /// The id, trimmed; `None` when blank.
    pub(crate) fn non_blank(&self) -> Option<&str> {
        let id = self.0.trim();
        (!id.is_empty()).then_some(id)
    }
}

impl<'de> Deserialize<'de> for WireId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(WireId(s)),
            Value::Number(n) => Ok(WireId(n.to_string())),
            other => Err(D::Error::custom(format!(
                "expected an id (a string or a number), got {}",
                type_name(&other)
            ))),
        }
    }
}

/// The assigned user of a device row: an object when a user is assigned, the empty string `""` when none
/// is (the documented quirk). `null`, a missing field and any other non-object are read as "unassigned" as
/// well, since none of them names a user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum WireUser {
    /// No user assigned.
    #[default]
    Unassigned,
    /// A user object (its fields may still be blank).
    Assigned(WireUserObject),
}

/// The fields of a user object the connector reads (`email` and `is_archived` are ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct WireUserObject {
    /// The user's id (a UUID).
    pub(crate) id: Option<WireId>,
    /// The user's display name.
    pub(crate) name: Option<String>,
}

impl<'de> Deserialize<'de> for WireUser {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Object(map) => serde_json::from_value(Value::Object(map))
                .map(WireUser::Assigned)
                .map_err(|e| D::Error::custom(format!("the user object is malformed: {e}"))),
            _ => Ok(WireUser::Unassigned),
        }
    }
}

/// One entry of a device row's `tags`: documented as a tag name; an object with `id` and/or `name` is
/// accepted too (then the id is used directly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WireTagRef {
    /// A tag name (case-sensitive, as the API's tag filters are).
    Name(String),
    /// A tag object.
    Object {
        /// The tag's id, if given.
        id: Option<WireId>,
        /// The tag's name, if given.
        name: Option<String>,
    },
}

/// A device row's `tags`: an array (documented), or `null`/missing for none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct WireTags(pub(crate) Vec<WireTagRef>);

impl<'de> Deserialize<'de> for WireTags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items = match Value::deserialize(d)? {
            Value::Null => return Ok(WireTags::default()),
            Value::Array(items) => items,
            other => {
                return Err(D::Error::custom(format!(
                    "expected `tags` to be an array of tag names, got {}",
                    type_name(&other)
                )))
            }
        };
        let mut tags = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Value::String(name) => tags.push(WireTagRef::Name(name)),
                Value::Object(map) => {
                    #[derive(Deserialize)]
                    struct TagObject {
                        id: Option<WireId>,
                        name: Option<String>,
                    }
                    let tag: TagObject = serde_json::from_value(Value::Object(map))
                        .map_err(|e| D::Error::custom(format!("a tag object is malformed: {e}")))?;
                    tags.push(WireTagRef::Object {
                        id: tag.id,
                        name: tag.name,
                    });
                }
                other => {
                    return Err(D::Error::custom(format!(
                        "expected a tag name in `tags`, got {}",
                        type_name(&other)
                    )))
                }
            }
        }
        Ok(WireTags(tags))
    }
}

/// A row of `GET /api/v1/devices` (also the body of `GET /api/v1/devices/{id}`). Only the fields the
/// connector maps are read; the endpoint is polymorphic and other fields vary by platform.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct WireDevice {
    /// The device's UUID. Optional here so that a row without one gets a precise error in `convert`.
    pub(crate) device_id: Option<WireId>,
    /// The device's name.
    pub(crate) device_name: Option<String>,
    /// The hardware serial number.
    pub(crate) serial_number: Option<String>,
    /// The assigned user (object or `""`).
    #[serde(default)]
    pub(crate) user: WireUser,
    /// The same, under the name the details endpoint uses; read when `user` names nobody.
    #[serde(default)]
    pub(crate) assigned_user: WireUser,
    /// The device's tag names.
    #[serde(default)]
    pub(crate) tags: WireTags,
    /// When the device last checked in (`2024-07-23T14:11:37.150080Z`); absent or `null` for a device
    /// that never has.
    pub(crate) last_check_in: Option<String>,
}

/// The body of a device listing: a bare array (documented), or a single device object (one documented
/// example of the serial lookup shows that). An object without a `device_id` is not a device (`{}`, an
/// error object): refused, so that it is not read as one nameless device, or as none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct WireDeviceList(pub(crate) Vec<WireDevice>);

impl<'de> Deserialize<'de> for WireDeviceList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    serde_json::from_value(item)
                        .map_err(|e| D::Error::custom(format!("device row {i}: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(WireDeviceList),
            Value::Object(map) => {
                let device: WireDevice = serde_json::from_value(Value::Object(map))
                    .map_err(|e| D::Error::custom(format!("the device object: {e}")))?;
                if device
                    .device_id
                    .as_ref()
                    .and_then(WireId::non_blank)
                    .is_none()
                {
                    return Err(D::Error::custom(
                        "expected an array of devices, got an object that is not a device (no device_id)",
                    ));
                }
                Ok(WireDeviceList(vec![device]))
            }
            other => Err(D::Error::custom(format!(
                "expected an array of devices, got {}",
                type_name(&other)
            ))),
        }
    }
}

/// A tag from `GET /api/v1/tags`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct WireTag {
    /// The tag's id.
    pub(crate) id: WireId,
    /// The tag's name.
    pub(crate) name: Option<String>,
}

/// A page of `GET /api/v1/tags`: `{count, next, previous, results}`, with `results` an array.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct WireTagPage {
    /// The tags on this page.
    pub(crate) results: Vec<WireTag>,
    /// The absolute URL of the next page, if any.
    pub(crate) next: Option<String>,
    /// The total number of tags the server reports.
    pub(crate) count: Option<u64>,
}

impl<'de> Deserialize<'de> for WireTagPage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        fn tags<E: serde::de::Error>(items: Vec<Value>) -> Result<Vec<WireTag>, E> {
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    serde_json::from_value(item).map_err(|e| E::custom(format!("tag {i}: {e}")))
                })
                .collect()
        }
        match Value::deserialize(d)? {
            Value::Object(mut map) => {
                let results = match map.remove("results") {
                    Some(Value::Array(items)) => tags(items)?,
                    Some(other) => {
                        return Err(D::Error::custom(format!(
                            "expected `results` to be an array of tags, got {}",
                            type_name(&other)
                        )))
                    }
                    None => {
                        return Err(D::Error::custom(
                            "expected a page of tags with `results`, got an object without it",
                        ))
                    }
                };
                Ok(WireTagPage {
                    results,
                    next: string_field(&map, "next"),
                    count: map.get("count").and_then(Value::as_u64),
                })
            }
            other => Err(D::Error::custom(format!(
                "expected a page of tags, got {}",
                type_name(&other)
            ))),
        }
    }
}

/// A non-blank string field.
fn string_field(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use mdmkit_testkit::shapes::{assert_envelope_rejected, decode};

    use super::*;

    #[test]
    fn user_is_an_object_or_unassigned_in_every_shape() {
        let d = decode::<WireDevice>(
            r#"{"device_id":"d1","user":{"id":"u1","name":"Ada","email":"a@x","is_archived":false}}"#,
        );
        assert_eq!(
            d.user,
            WireUser::Assigned(WireUserObject {
                id: Some(WireId("u1".into())),
                name: Some("Ada".into())
            })
        );
        for shape in [
            r#"{"device_id":"d1","user":""}"#,
            r#"{"device_id":"d1","user":null}"#,
            r#"{"device_id":"d1"}"#,
            r#"{"device_id":"d1","user":[]}"#,
        ] {
            assert_eq!(
                decode::<WireDevice>(shape).user,
                WireUser::Unassigned,
                "{shape}"
            );
        }
        let d = decode::<WireDevice>(
            r#"{"device_id":"d1","user":"","assigned_user":{"id":7,"name":null}}"#,
        );
        assert_eq!(
            d.assigned_user,
            WireUser::Assigned(WireUserObject {
                id: Some(WireId("7".into())),
                name: None
            })
        );
    }

    #[test]
    fn a_malformed_user_object_is_an_error_not_a_silent_unassignment() {
        let err = serde_json::from_str::<WireDevice>(r#"{"device_id":"d1","user":{"id":true}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("user object"), "{err}");
    }

    #[test]
    fn tags_are_names_objects_or_nothing() {
        let d = decode::<WireDevice>(
            r#"{"device_id":"d1","tags":["a",{"id":"t2","name":"b"},{"name":"c"}]}"#,
        );
        assert_eq!(
            d.tags.0,
            [
                WireTagRef::Name("a".into()),
                WireTagRef::Object {
                    id: Some(WireId("t2".into())),
                    name: Some("b".into())
                },
                WireTagRef::Object {
                    id: None,
                    name: Some("c".into())
                },
            ]
        );
        assert!(decode::<WireDevice>(r#"{"device_id":"d1","tags":null}"#)
            .tags
            .0
            .is_empty());
        assert!(decode::<WireDevice>(r#"{"device_id":"d1"}"#)
            .tags
            .0
            .is_empty());
        let err = serde_json::from_str::<WireDevice>(r#"{"device_id":"d1","tags":"a,b"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("tags"), "{err}");
    }

    #[test]
    fn device_lists_are_arrays_or_a_single_object() {
        let list: WireDeviceList =
            serde_json::from_str(r#"[{"device_id":"a"},{"device_id":"b"}]"#).unwrap();
        assert_eq!(list.0.len(), 2);
        let single: WireDeviceList =
            serde_json::from_str(r#"{"device_id":"a","serial_number":"X"}"#).unwrap();
        assert_eq!(single.0.len(), 1);
        assert_eq!(single.0[0].serial_number.as_deref(), Some("X"));
        for not_a_device in [
            "{}",
            r#"{"detail":"Not found."}"#,
            r#"{"device_id":" ","serial_number":"X"}"#,
            "null",
        ] {
            let err = serde_json::from_str::<WireDeviceList>(not_a_device)
                .unwrap_err()
                .to_string();
            assert!(err.contains("expected an array of devices"), "{err}");
        }
        let err = serde_json::from_str::<WireDeviceList>(r#"[{"device_id":"a"},{"device_id":[]}]"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("device row 1"), "{err}");
        assert!(serde_json::from_str::<WireDeviceList>("42").is_err());
    }

    #[test]
    fn tag_pages_are_paged_objects_or_bare_arrays() {
        let page: WireTagPage = serde_json::from_str(
            r#"{"count":3,"next":"https://t.api.kandji.io/api/v1/tags?page=2","previous":null,
                "results":[{"id":"t1","name":"a"},{"id":2,"name":"b"}]}"#,
        )
        .unwrap();
        assert_eq!(page.results.len(), 2);
        assert_eq!(page.results[1].id, WireId("2".into()));
        assert_eq!(page.count, Some(3));
        assert_eq!(
            page.next.as_deref(),
            Some("https://t.api.kandji.io/api/v1/tags?page=2")
        );
        let last: WireTagPage =
            serde_json::from_str(r#"{"count":0,"next":"","results":[]}"#).unwrap();
        assert_eq!(last.next, None);
        assert_envelope_rejected::<WireTagPage>(
            "results",
            &[
                r#"{"detail":"x"}"#,
                r#"[{"id":"t1","name":"a"}]"#,
                r#"{"count":0,"results":null}"#,
                r#"{"count":1,"results":{"id":"t1"}}"#,
            ],
        );
    }
}
