//! The SimpleMDM API's JSON as it arrives: JSON:API-like records (`type`, `id`, `attributes`,
//! `relationships`) in `{"data": [...], "has_more": bool}` lists.
//!
//! Deserialisation is lenient where the API is loose or only known from community sources: ids are
//! integers on the wire but strings are accepted too; `null` counts as absent everywhere; a relationship's
//! `data` may be one object or an array; text fields accept numbers and booleans. Unknown fields are
//! ignored, so the API may add fields freely.
//!
//! Strict where results are carried: a list's `data` must be an array, and an assignment group must carry
//! its member devices (`relationships.devices.data`, embedded as documented), so a 200 of another shape is
//! an invalid response, never "no devices", "no groups" or "no members".

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::Deserialize;
use serde_json::Value;

/// One page of a list endpoint (`/devices`, `/assignment_groups`).
#[derive(Debug, Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
pub(crate) struct ListResponse<T> {
    /// The rows of this page (required; `null` is not an empty page).
    pub(crate) data: Vec<T>,
    /// Whether rows follow this page. Documented as always present; `None` if a server omits it, and
    /// the core pager then falls back to "a short page is the last".
    pub(crate) has_more: Option<bool>,
}

/// `GET /api/v1/account`: only checked for its envelope, so a 200 HTML page (a wrong host, a proxy) is not
/// taken for a working connection.
#[derive(Debug, Deserialize)]
pub(crate) struct AccountResponse {
    /// The account record; must be an object.
    pub(crate) data: serde_json::Map<String, Value>,
}

impl AccountResponse {
    /// The account's name, for logs.
    pub(crate) fn name(&self) -> Option<&str> {
        self.data.get("attributes")?.get("name")?.as_str()
    }
}

/// A device row (`GET /api/v1/devices`).
#[derive(Debug, Deserialize)]
pub(crate) struct Device {
    /// The device id: an integer on the wire, kept as text.
    #[serde(deserialize_with = "id")]
    pub(crate) id: String,
    /// The device's fields.
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) attributes: DeviceAttributes,
    /// Linked records; only the custom attribute values are read.
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) relationships: DeviceRelationships,
}

/// The device fields mdmkit reads.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct DeviceAttributes {
    /// The name given in SimpleMDM (what the console shows).
    #[serde(default, deserialize_with = "lenient_text")]
    pub(crate) name: Option<String>,
    /// The name the device reports about itself.
    #[serde(default, deserialize_with = "lenient_text")]
    pub(crate) device_name: Option<String>,
    /// The hardware serial; `null` for records still awaiting enrollment.
    #[serde(default, deserialize_with = "lenient_text")]
    pub(crate) serial_number: Option<String>,
}

/// The relationships of a device row that mdmkit reads.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct DeviceRelationships {
    /// Custom attribute values embedded in the row (present in the current API; absent in old docs).
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) custom_attribute_values: Relationship<CustomAttributeValue>,
}

/// A relationship: `{"data": [...]}` (or, leniently, `{"data": {...}}` or `{"data": null}`).
#[derive(Debug, Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
pub(crate) struct Relationship<T> {
    /// The linked records.
    #[serde(default, deserialize_with = "one_or_many")]
    pub(crate) data: Vec<T>,
}

impl<T> Default for Relationship<T> {
    fn default() -> Self {
        Relationship { data: Vec::new() }
    }
}

/// A custom attribute value on a device: `{"type":"custom_attribute_value","id":"<attribute name>",
/// "attributes":{"value":"...","secret":false}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct CustomAttributeValue {
    /// The custom attribute's name (SimpleMDM uses the name as the id).
    #[serde(default, deserialize_with = "lenient_text")]
    pub(crate) id: Option<String>,
    /// The value and flags.
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) attributes: CustomAttributeValueAttributes,
}

/// The payload of a custom attribute value.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CustomAttributeValueAttributes {
    /// The attribute's name, where a server repeats it here.
    #[serde(default, deserialize_with = "lenient_text")]
    pub(crate) name: Option<String>,
    /// The value; `""` when the device has none.
    #[serde(default, deserialize_with = "lenient_text")]
    pub(crate) value: Option<String>,
}

/// An assignment group row (`GET /api/v1/assignment_groups`).
#[derive(Debug, Deserialize)]
pub(crate) struct AssignmentGroup {
    /// The group id: an integer on the wire, kept as text.
    #[serde(deserialize_with = "id")]
    pub(crate) id: String,
    /// The group's fields.
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) attributes: AssignmentGroupAttributes,
    /// Linked records; only the member devices are read. Required: members come embedded.
    pub(crate) relationships: AssignmentGroupRelationships,
}

/// The assignment group fields mdmkit reads.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AssignmentGroupAttributes {
    /// The group's name.
    #[serde(default, deserialize_with = "lenient_text")]
    pub(crate) name: Option<String>,
}

/// The relationships of an assignment group that mdmkit reads.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AssignmentGroupRelationships {
    /// Member devices, embedded (live data repeats ids; the core de-duplicates). Required, with its
    /// `data`: a group without them is not "a group without members".
    pub(crate) devices: Members,
}

/// The `devices` relationship of an assignment group: `{"data": [...]}` (or, leniently, one object).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Members {
    /// The member references.
    #[serde(deserialize_with = "present_one_or_many")]
    pub(crate) data: Vec<ResourceRef>,
}

/// A reference to another record: `{"type":"device","id":121}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ResourceRef {
    /// The referenced id; `None` if the server sent none (the reference is then skipped).
    #[serde(default, deserialize_with = "opt_id")]
    pub(crate) id: Option<String>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    match Value::deserialize(d)? {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .into_iter()
            .map(|v| serde_json::from_value(v).map_err(de::Error::custom))
            .collect(),
        one => serde_json::from_value(one)
            .map(|v| vec![v])
            .map_err(de::Error::custom),
    }
}

/// [`one_or_many`] for a list that must be there: `null` is refused.
fn present_one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    match Value::deserialize(d)? {
        Value::Null => Err(de::Error::custom("expected a list of members, got null")),
        Value::Array(items) => items
            .into_iter()
            .map(|v| serde_json::from_value(v).map_err(de::Error::custom))
            .collect(),
        one @ Value::Object(_) => serde_json::from_value(one)
            .map(|v| vec![v])
            .map_err(de::Error::custom),
        other => Err(de::Error::custom(format!(
            "expected a list of members, got {}",
            kind_of(&other)
        ))),
    }
}

/// An id as text: integers (SimpleMDM's form) and non-blank strings are accepted.
fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let value = Value::deserialize(d)?;
    id_text(&value).ok_or_else(|| {
        de::Error::custom(format!(
            "expected an integer or text id, got {}",
            kind_of(&value)
        ))
    })
}

fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(id_text(&Value::deserialize(d)?))
}

/// Text that may arrive as a string, a number or a boolean; `null`, arrays and objects count as absent.
fn lenient_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a fractional or out-of-range number",
        Value::String(_) => "an empty string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use mdmkit_testkit::shapes::{assert_envelope_rejected, assert_rejected};

    use super::*;

    #[test]
    fn integer_ids_become_text_and_string_ids_are_accepted() {
        let d: Device = serde_json::from_str(r#"{"type":"device","id":121}"#).unwrap();
        assert_eq!(d.id, "121");
        let d: Device = serde_json::from_str(r#"{"id":" 7 ","attributes":null}"#).unwrap();
        assert_eq!(d.id, "7");
        for bad in [r#"{"id":null}"#, r#"{"id":""}"#, r#"{"id":1.5}"#, r#"{}"#] {
            assert!(serde_json::from_str::<Device>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_account_envelope_must_hold_an_object() {
        let a: AccountResponse = serde_json::from_str(
            r#"{"data":{"type":"account","attributes":{"name":"Acme Corp","apple_store_country_code":"US"}}}"#,
        )
        .unwrap();
        assert_eq!(a.name(), Some("Acme Corp"));
        for bad in [r#"{"data":null}"#, r#"{"data":[]}"#, r#"{"ok":true}"#] {
            assert!(
                serde_json::from_str::<AccountResponse>(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn relationship_data_may_be_one_object_many_or_null() {
        let many: Relationship<ResourceRef> =
            serde_json::from_str(r#"{"data":[{"type":"device","id":1},{"id":"2"},{"id":null}]}"#)
                .unwrap();
        let ids: Vec<_> = many.data.iter().map(|r| r.id.clone()).collect();
        assert_eq!(ids, [Some("1".into()), Some("2".into()), None]);
        let one: Relationship<ResourceRef> =
            serde_json::from_str(r#"{"data":{"type":"device","id":3}}"#).unwrap();
        assert_eq!(one.data.len(), 1);
        let none: Relationship<ResourceRef> = serde_json::from_str(r#"{"data":null}"#).unwrap();
        assert!(none.data.is_empty());
    }

    #[test]
    fn nulls_and_odd_scalars_are_tolerated() {
        let page: ListResponse<Device> = serde_json::from_str(
            r#"{"data":[{"id":1,"attributes":{"name":null,"device_name":42,"serial_number":null},
                "relationships":{"custom_attribute_values":null}}],"has_more":null}"#,
        )
        .unwrap();
        assert_eq!(page.has_more, None);
        let a = &page.data[0].attributes;
        assert_eq!(a.name, None);
        assert_eq!(a.device_name.as_deref(), Some("42"));
        assert_eq!(a.serial_number, None);
        let empty: ListResponse<Device> = serde_json::from_str(r#"{"data":[]}"#).unwrap();
        assert!(empty.data.is_empty());
    }

    #[test]
    fn lists_and_group_members_of_another_shape_are_errors() {
        assert_envelope_rejected::<ListResponse<Device>>(
            "data",
            &[r#"{"data":{"id":1}}"#, r#"{"has_more":false}"#],
        );
        assert_rejected::<AssignmentGroup>(&[
            r#"{"id":7,"attributes":{"name":"g"}}"#,
            r#"{"id":7,"relationships":null}"#,
            r#"{"id":7,"relationships":{}}"#,
            r#"{"id":7,"relationships":{"devices":{}}}"#,
            r#"{"id":7,"relationships":{"devices":{"data":null}}}"#,
            r#"{"id":7,"relationships":{"devices":{"data":"1,2"}}}"#,
        ]);
        let g: AssignmentGroup =
            serde_json::from_str(r#"{"id":7,"relationships":{"devices":{"data":[]}}}"#).unwrap();
        assert!(g.relationships.devices.data.is_empty());
    }
}
