//! Wire records to the normalised [`MdmDevice`] and [`MdmGroup`], and page facts to [`PageInfo`].

use mdmkit_core::{MdmDevice, MdmGroup, PageInfo, SerialNumber};

use crate::wire;

/// Normalises a configured custom attribute name: trimmed, and `None` when blank (the feature is off).
pub(crate) fn user_attribute_name(configured: Option<&str>) -> Option<String> {
    configured
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A device row as an [`MdmDevice`].
///
/// - device name: `attributes.name` (the name set in SimpleMDM, shown in its console), else the name the
///   device reports (`attributes.device_name`);
/// - user: only when `user_attribute` is set, the non-blank value of that custom attribute, used as both
///   the MDM user ID and the user's name (SimpleMDM has no user record, so the value is the only handle);
/// - display name: the core R4 rule over those two.
pub(crate) fn device(row: wire::Device, user_attribute: Option<&str>) -> MdmDevice {
    let attrs = row.attributes;
    let device_name = first_non_blank([attrs.name, attrs.device_name]);
    let user = user_attribute.and_then(|name| custom_attribute(&row.relationships, name));
    MdmDevice::new(
        row.id,
        SerialNumber::parse_opt(attrs.serial_number.as_deref()),
        device_name,
        user.clone(),
        user,
    )
}

/// The value of custom attribute `name` on a device, if it has a non-blank one. SimpleMDM treats
/// attribute names case-insensitively, so the comparison does too.
pub(crate) fn custom_attribute(
    relationships: &wire::DeviceRelationships,
    name: &str,
) -> Option<String> {
    relationships
        .custom_attribute_values
        .data
        .iter()
        .filter(|v| {
            [v.id.as_deref(), v.attributes.name.as_deref()]
                .into_iter()
                .flatten()
                .any(|n| n.trim().eq_ignore_ascii_case(name))
        })
        .find_map(|v| {
            v.attributes
                .value
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        })
}

/// An assignment group as an [`MdmGroup`]; members are de-duplicated and sorted by the core. A group
/// without a name is named after its id so it can still be shown and synced.
pub(crate) fn group(row: wire::AssignmentGroup) -> MdmGroup {
    let name = first_non_blank([row.attributes.name])
        .unwrap_or_else(|| format!("Assignment group {}", row.id));
    let members = row
        .relationships
        .devices
        .data
        .into_iter()
        .filter_map(|r| r.id);
    MdmGroup::new(row.id, name, members)
}

/// What a page says about the rest of the listing: the server's `has_more` and, as the cursor for the
/// next page, the id of this page's last row (SimpleMDM's `starting_after`).
pub(crate) fn page_info(has_more: Option<bool>, last_id: Option<&str>) -> PageInfo {
    PageInfo {
        has_more,
        next_cursor: last_id.map(str::to_owned),
        ..PageInfo::default()
    }
}

fn first_non_blank<const N: usize>(candidates: [Option<String>; N]) -> Option<String> {
    candidates
        .into_iter()
        .flatten()
        .map(|s| s.trim().to_owned())
        .find(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mdmkit_testkit::expect::assert_device;
    use mdmkit_testkit::shapes::decode;

    const WITH_ATTRIBUTES: &str = r#"{
        "type":"device","id":121,
        "attributes":{"name":"Mike's iPhone","device_name":"iPhone","serial_number":"dnfje9dng5mg"},
        "relationships":{"custom_attribute_values":{"data":[
            {"type":"custom_attribute_value","id":"email","attributes":{"value":"mike@example.com","secret":false}},
            {"type":"custom_attribute_value","id":"Owner_Name","attributes":{"value":"  Mike Rivera ","secret":false}},
            {"type":"custom_attribute_value","id":"asset_tag","attributes":{"value":"","secret":false}}
        ]}}
    }"#;

    #[test]
    fn without_a_user_attribute_the_display_name_is_the_device_name() {
        let d = device(decode::<wire::Device>(WITH_ATTRIBUTES), None);
        assert_device(
            &d,
            r#"{"device_id":"121","serial_number":"DNFJE9DNG5MG","user_id":null,"user_name":null,
                "display_name":"Mike's iPhone","device_name":"Mike's iPhone"}"#,
        );
    }

    #[test]
    fn the_user_attribute_gives_user_id_and_name_case_insensitively() {
        let d = device(decode::<wire::Device>(WITH_ATTRIBUTES), Some("owner_name"));
        assert_eq!(d.user_id.as_deref(), Some("Mike Rivera"));
        assert_eq!(d.user_name.as_deref(), Some("Mike Rivera"));
        assert_eq!(d.display_name.as_deref(), Some("Mike Rivera"));
        let d = device(decode::<wire::Device>(WITH_ATTRIBUTES), Some("email"));
        assert_eq!(d.display_name.as_deref(), Some("mike@example.com"));
    }

    #[test]
    fn blank_or_missing_attribute_values_mean_no_user() {
        for attribute in ["asset_tag", "department"] {
            let d = device(decode::<wire::Device>(WITH_ATTRIBUTES), Some(attribute));
            assert_eq!(d.user_id, None, "{attribute}");
            assert_eq!(d.display_name.as_deref(), Some("Mike's iPhone"));
        }
        let bare = decode::<wire::Device>(
            r#"{"id":5,"attributes":{"name":"Lab Mac","serial_number":"C02X"}}"#,
        );
        assert_eq!(device(bare, Some("email")).user_id, None);
        let null_value = decode::<wire::Device>(
            r#"{"id":6,"attributes":{"name":"M"},"relationships":{"custom_attribute_values":
               {"data":[{"id":"email","attributes":{"value":null}}]}}}"#,
        );
        assert_eq!(device(null_value, Some("email")).user_id, None);
    }

    #[test]
    fn device_name_falls_back_to_the_reported_name_and_serial_may_be_missing() {
        let d = device(
            decode::<wire::Device>(
                r#"{"id":9,"attributes":{"name":"  ","device_name":"Ada's MacBook Air","serial_number":null,"status":"awaiting enrollment"}}"#,
            ),
            None,
        );
        assert_eq!(d.device_name.as_deref(), Some("Ada's MacBook Air"));
        assert_eq!(d.serial_number, None);
        let d = device(
            decode::<wire::Device>(r#"{"id":10,"attributes":{"serial_number":"Not Available"}}"#),
            None,
        );
        assert_eq!(d.serial_number, None, "placeholder serials are dropped");
        assert_eq!(d.display_name, None);
    }

    #[test]
    fn groups_dedupe_members_and_name_unnamed_groups() {
        let g: wire::AssignmentGroup = serde_json::from_str(
            r#"{"type":"assignment_group","id":436635,"attributes":{"name":"SimpleMDM for iOS","group_type":"dynamic"},
                "relationships":{"devices":{"data":[{"type":"device","id":1406463},{"type":"device","id":775822},
                {"type":"device","id":1406463}]}}}"#,
        )
        .unwrap();
        let g = group(g);
        assert_eq!(g.id, "436635");
        assert_eq!(g.name, "SimpleMDM for iOS");
        assert_eq!(g.member_device_ids, ["1406463", "775822"]);
        let unnamed: wire::AssignmentGroup = serde_json::from_str(
            r#"{"id":7,"attributes":{"name":""},"relationships":{"devices":{"data":[]}}}"#,
        )
        .unwrap();
        let unnamed = group(unnamed);
        assert_eq!(unnamed.name, "Assignment group 7");
        assert!(unnamed.member_device_ids.is_empty());
    }

    #[test]
    fn page_info_carries_has_more_and_the_last_id() {
        let info = page_info(Some(true), Some("942"));
        assert_eq!(info.has_more, Some(true));
        assert_eq!(info.next_cursor.as_deref(), Some("942"));
        assert_eq!(info.total, None);
        assert_eq!(page_info(Some(false), None).next_cursor, None);
    }

    #[test]
    fn blank_user_attribute_configuration_is_off() {
        assert_eq!(user_attribute_name(Some("  ")), None);
        assert_eq!(user_attribute_name(None), None);
        assert_eq!(
            user_attribute_name(Some(" email ")).as_deref(),
            Some("email")
        );
    }
}
