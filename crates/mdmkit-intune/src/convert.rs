//! Graph wire types -> mdmkit's [`MdmDevice`] and [`MdmGroup`], and the group join
//! (`device.deviceId == managedDevice.azureADDeviceId`).

use std::collections::HashMap;

use mdmkit_core::{Error, ErrorKind, MdmDevice, MdmGroup, SerialNumber};

use crate::error::permissions;
use crate::wire::{DeviceMember, Group, ManagedDevice};

/// Graph's "no identifier": the all-zero GUID, sent for devices that are not Entra-registered and for
/// userless devices on some enrolment paths.
const ZERO_GUID: &str = "00000000-0000-0000-0000-000000000000";

/// An identifier as Graph sends it, or `None` for empty, blank and zero-GUID values.
pub(crate) fn clean_id(raw: Option<&str>) -> Option<String> {
    let id = raw?.trim();
    (!id.is_empty() && id != ZERO_GUID).then(|| id.to_owned())
}

/// The join key of an Entra device id: GUIDs compare case-insensitively, so both sides are lower-cased.
pub(crate) fn entra_key(raw: Option<&str>) -> Option<String> {
    clean_id(raw).map(|id| id.to_ascii_lowercase())
}

/// A managed device as mdmkit sees it (R4): the user is `userId`, the display name `userDisplayName`,
/// else `deviceName` (applied by [`MdmDevice::new`]).
pub(crate) fn device(d: ManagedDevice) -> MdmDevice {
    MdmDevice::new(
        d.id,
        SerialNumber::parse_opt(d.serial_number.as_deref()),
        d.device_name,
        clean_id(d.user_id.as_deref()),
        d.user_display_name,
    )
}

/// Maps each Entra device id to the managed devices that carry it. Usually one; a device re-enrolled
/// without its stale record being removed yields two, and both are group members.
pub(crate) fn entra_index(devices: &[ManagedDevice]) -> HashMap<String, Vec<String>> {
    let mut index: HashMap<String, Vec<String>> = HashMap::new();
    for d in devices {
        if let Some(key) = entra_key(d.azure_ad_device_id.as_deref()) {
            index.entry(key).or_default().push(d.id.clone());
        }
    }
    index
}

/// The Entra device ids of a group's device members.
///
/// Members whose `deviceId` is hidden (the app lacks `Device.Read.All`) cannot be joined; they make the
/// whole listing fail with a [`ErrorKind::Forbidden`] error naming the permission, because dropping them
/// would empty the group in every downstream sync.
pub(crate) fn member_keys(group: &Group, members: &[DeviceMember]) -> Result<Vec<String>, Error> {
    let devices = members.iter().filter(|m| {
        m.odata_type
            .as_deref()
            .is_none_or(|t| t.trim_start_matches('#') == "microsoft.graph.device")
    });
    let mut keys = Vec::new();
    let mut hidden = 0usize;
    for member in devices {
        match entra_key(member.device_id.as_deref()) {
            Some(key) => keys.push(key),
            None => hidden += 1,
        }
    }
    if hidden > 0 {
        return Err(crate::OPS.groups.error(
            ErrorKind::Forbidden,
            format!(
                "group {:?} ({}) lists {hidden} device member(s) without a deviceId: Microsoft Graph hides device details from apps without the application permission {} (grant it with admin consent so group members can be matched to Intune devices)",
                group_name(group),
                group.id,
                permissions::DEVICES
            ),
        ));
    }
    Ok(keys)
}

fn group_name(group: &Group) -> &str {
    group
        .display_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(&group.id)
}

/// A group with its members as managed-device ids. Members that Intune does not manage (Entra-only
/// devices) are not MDM devices and are left out.
pub(crate) fn group(
    group: &Group,
    keys: &[String],
    index: &HashMap<String, Vec<String>>,
) -> MdmGroup {
    let members = keys.iter().filter_map(|k| index.get(k)).flatten().cloned();
    MdmGroup::new(group.id.clone(), group_name(group), members)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mdmkit_testkit::expect::assert_device;
    use mdmkit_testkit::shapes::decode;

    fn member(device_id: Option<&str>) -> DeviceMember {
        DeviceMember {
            odata_type: Some("#microsoft.graph.device".into()),
            device_id: device_id.map(str::to_owned),
        }
    }

    fn grp(id: &str, name: Option<&str>) -> Group {
        Group {
            id: id.into(),
            display_name: name.map(str::to_owned),
            security_enabled: Some(true),
        }
    }

    #[test]
    fn assigned_user_gives_user_id_and_display_name() {
        let d = device(decode::<ManagedDevice>(
            r#"{"id":"m1","deviceName":"DESKTOP-01","serialNumber":" pf3abcde ",
                "userId":"3e9c57b9-808d-4aa0-9500-4b2d369279e7","userDisplayName":"Anna Chao"}"#,
        ));
        assert_device(
            &d,
            r#"{"device_id":"m1","serial_number":"PF3ABCDE","user_id":"3e9c57b9-808d-4aa0-9500-4b2d369279e7",
                "user_name":"Anna Chao","display_name":"Anna Chao","device_name":"DESKTOP-01"}"#,
        );
    }

    #[test]
    fn every_unassigned_shape_falls_back_to_the_device_name() {
        for json in [
            r#"{"id":"m","deviceName":"KIOSK-7","userId":"","userDisplayName":""}"#,
            r#"{"id":"m","deviceName":"KIOSK-7","userId":null,"userDisplayName":null}"#,
            r#"{"id":"m","deviceName":"KIOSK-7"}"#,
            r#"{"id":"m","deviceName":"KIOSK-7","userId":"00000000-0000-0000-0000-000000000000","userDisplayName":" "}"#,
        ] {
            let d = device(decode::<ManagedDevice>(json));
            assert_eq!(d.user_id, None, "{json}");
            assert_eq!(d.display_name.as_deref(), Some("KIOSK-7"), "{json}");
        }
    }

    #[test]
    fn placeholder_and_missing_serials_are_none() {
        for json in [
            r#"{"id":"m","serialNumber":""}"#,
            r#"{"id":"m","serialNumber":"To Be Filled By O.E.M."}"#,
            r#"{"id":"m","serialNumber":null}"#,
            r#"{"id":"m"}"#,
        ] {
            assert_eq!(
                device(decode::<ManagedDevice>(json)).serial_number,
                None,
                "{json}"
            );
        }
    }

    #[test]
    fn the_join_is_case_insensitive_and_skips_unregistered_devices() {
        let devices = [
            decode::<ManagedDevice>(
                r#"{"id":"m1","azureADDeviceId":"C3998D6E-2E37-4C56-87B5-7B444EE1CB26"}"#,
            ),
            decode::<ManagedDevice>(
                r#"{"id":"m2","azureADDeviceId":"00000000-0000-0000-0000-000000000000"}"#,
            ),
            decode::<ManagedDevice>(r#"{"id":"m3","azureADDeviceId":""}"#),
            // A stale record of the same Entra device: both are members.
            decode::<ManagedDevice>(
                r#"{"id":"m4","azureADDeviceId":"c3998d6e-2e37-4c56-87b5-7b444ee1cb26"}"#,
            ),
        ];
        let index = entra_index(&devices);
        assert_eq!(index.len(), 1);
        let g = grp("g1", Some("Kiosks"));
        let keys = member_keys(
            &g,
            &[
                member(Some("c3998d6e-2e37-4c56-87b5-7b444ee1cb26")),
                // Entra-only device, not managed by Intune.
                member(Some("11111111-2222-3333-4444-555555555555")),
            ],
        )
        .unwrap();
        let out = group(&g, &keys, &index);
        assert_eq!(out.name, "Kiosks");
        assert_eq!(out.member_device_ids, ["m1", "m4"]);
    }

    #[test]
    fn hidden_device_ids_are_an_error_naming_device_read_all() {
        let g = grp("g1", Some("Kiosks"));
        let err = member_keys(&g, &[member(Some("abc")), member(None), member(None)]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Forbidden);
        let text = err.to_string();
        assert!(text.contains("Device.Read.All"), "{text}");
        assert!(text.contains("2 device member"), "{text}");
        assert!(text.contains("Kiosks"), "{text}");
    }

    #[test]
    fn members_of_other_types_are_ignored_and_names_fall_back_to_id() {
        let g = grp("g9", None);
        let user = DeviceMember {
            odata_type: Some("#microsoft.graph.user".into()),
            device_id: None,
        };
        assert!(member_keys(&g, &[user]).unwrap().is_empty());
        assert_eq!(group(&g, &[], &HashMap::new()).name, "g9");
    }
}
