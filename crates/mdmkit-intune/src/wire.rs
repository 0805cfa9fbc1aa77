//! Microsoft Graph JSON as the service sends it: only the fields the connector reads, each optional where
//! Graph may leave it out or send `null` (unselected properties, hidden directory objects, unassigned
//! users). A collection's `value` is required and an array, so a 200 of another shape (`{}`, `null`, an
//! HTML page) is an invalid response, never "no devices" or "no groups".

use serde::Deserialize;

/// An OData collection page: `{"@odata.context", "@odata.count"?, "@odata.nextLink"?, "value": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub(crate) struct Collection<T> {
    /// The rows; may be empty even when a next link follows, but never missing or `null`.
    pub value: Vec<T>,
    /// The absolute URL of the next page, with Graph's own `$skiptoken`; absent on the last page.
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
    /// The total, when Graph volunteers one (it may do so without any next link).
    #[serde(rename = "@odata.count", default)]
    pub count: Option<u64>,
}

/// A `microsoft.graph.managedDevice`, reduced to what R4 and the group join need.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ManagedDevice {
    /// The Intune managed-device id (a GUID), used in the admin-centre link.
    pub id: String,
    /// The device's name as Intune shows it.
    pub device_name: Option<String>,
    /// The hardware serial; `""` for devices that report none.
    pub serial_number: Option<String>,
    /// The primary user's Entra object id; `""`, `null`, absent or the zero GUID when nobody is assigned.
    pub user_id: Option<String>,
    /// The primary user's display name; `""` when nobody is assigned.
    pub user_display_name: Option<String>,
    /// The Entra device's `deviceId` (not its object `id`); empty or zeroed when not Entra-registered.
    #[serde(default, rename = "azureADDeviceId")]
    pub azure_ad_device_id: Option<String>,
    /// When the device last synced with Intune (selected for listings of changes only).
    pub last_sync_date_time: Option<String>,
}

/// A `microsoft.graph.group`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Group {
    /// The group's object id.
    pub id: String,
    /// The group's name.
    pub display_name: Option<String>,
    /// Whether it is a security group; checked on our side in case the filter was not applied.
    pub security_enabled: Option<bool>,
}

/// A group member cast to `microsoft.graph.device`. Without `Device.Read.All` Graph returns only
/// `@odata.type` and `id`, every other property `null`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeviceMember {
    /// `#microsoft.graph.device`; other types are skipped should the cast not be applied.
    #[serde(rename = "@odata.type", default)]
    pub odata_type: Option<String>,
    /// The Entra `deviceId`, equal to `managedDevice.azureADDeviceId`.
    pub device_id: Option<String>,
}

/// A page of `GET /groups/delta`: like a collection, and the last page carries `@odata.deltaLink`.
#[derive(Debug, Deserialize)]
pub(crate) struct DeltaPage {
    /// Changed groups (or continuations of one, holding only `id` and `members@delta`). Required, like a
    /// collection's: `{}` is not "nothing changed".
    pub value: Vec<DeltaGroup>,
    /// The next page of this round.
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
    /// Where the next round starts; only on the last page.
    #[serde(rename = "@odata.deltaLink", default)]
    pub delta_link: Option<String>,
}

/// A group in a delta round: only the properties that changed, plus `id`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeltaGroup {
    /// The group's object id.
    pub id: String,
    /// Present when new or renamed.
    pub display_name: Option<String>,
    /// Present when new or changed.
    pub security_enabled: Option<bool>,
    /// Members added, and removed ones (with `@removed`); sent only when members changed, so absent or
    /// `null` is none.
    #[serde(
        rename = "members@delta",
        default,
        deserialize_with = "mdmkit_core::wire::null_as_default"
    )]
    pub members_delta: Vec<DeltaMember>,
    /// Set when the group was deleted (`{"reason": "changed"|"deleted"}`).
    #[serde(rename = "@removed", default)]
    pub removed: Option<serde::de::IgnoredAny>,
}

/// One entry of `members@delta`: a directory object with its type, removed or not.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DeltaMember {
    /// `#microsoft.graph.device`, `#microsoft.graph.user`, `#microsoft.graph.group`, …
    #[serde(rename = "@odata.type", default)]
    pub odata_type: Option<String>,
    /// The member's directory object id.
    pub id: Option<String>,
    /// Set when the member left the group.
    #[serde(rename = "@removed", default)]
    pub removed: Option<serde::de::IgnoredAny>,
}

/// Graph's error envelope: `{"error": {"code", "message", "innerError"}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct GraphErrorBody {
    /// The error itself.
    pub error: GraphError,
}

/// The inside of Graph's error envelope. Intune puts a JSON document into `message` as a string.
#[derive(Debug, Deserialize)]
pub(crate) struct GraphError {
    /// `Forbidden`, `UnknownError`, `InvalidAuthenticationToken`, `Authorization_RequestDenied`, …
    pub code: Option<String>,
    /// Text, or (Intune) a JSON document serialised into a string, possibly twice.
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use mdmkit_testkit::shapes::assert_envelope_rejected;

    use super::*;

    #[test]
    fn collections_need_their_value_array() {
        let c: Collection<ManagedDevice> =
            serde_json::from_str(r#"{"value": [], "@odata.nextLink": "https://g/next"}"#).unwrap();
        assert!(c.value.is_empty(), "an empty page before the next one");
        assert_eq!(c.next_link.as_deref(), Some("https://g/next"));
        assert_envelope_rejected::<Collection<ManagedDevice>>(
            "value",
            &[
                r#"{"@odata.nextLink": "https://g/next"}"#,
                r#"{"value": {"id": "m1"}}"#,
            ],
        );
    }

    #[test]
    fn managed_device_reads_the_entra_key_and_nulls() {
        let d: ManagedDevice = serde_json::from_str(
            r#"{"id":"m1","deviceName":null,"serialNumber":"S1","userId":null,
                "azureADDeviceId":"C3998D6E-2E37-4C56-87B5-7B444EE1CB26"}"#,
        )
        .unwrap();
        assert_eq!(d.id, "m1");
        assert_eq!(d.device_name, None);
        assert_eq!(
            d.azure_ad_device_id.as_deref(),
            Some("C3998D6E-2E37-4C56-87B5-7B444EE1CB26")
        );
    }

    #[test]
    fn hidden_device_members_parse_with_null_device_id() {
        let m: DeviceMember = serde_json::from_str(
            r##"{"@odata.type":"#microsoft.graph.device","id":"o1","deviceId":null,"displayName":null}"##,
        )
        .unwrap();
        assert_eq!(m.device_id, None);
        assert_eq!(m.odata_type.as_deref(), Some("#microsoft.graph.device"));
    }
}
