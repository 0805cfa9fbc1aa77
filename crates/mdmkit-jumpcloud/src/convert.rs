//! Wire types to mdmkit's [`MdmDevice`] and [`MdmGroup`], and the choices that go with it: which of a
//! system's users is "the assigned user", and which of a user's fields is their name.

use std::collections::HashSet;

use mdmkit_core::{Error, MdmDevice, MdmGroup, Result, SerialNumber};

use crate::wire::{GraphObject, System, SystemGroup, SystemUser};

/// The first non-blank value, trimmed.
fn first_non_blank<'a>(values: impl IntoIterator<Item = Option<&'a str>>) -> Option<String> {
    values
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The system's id, or an error: a row without one cannot be linked or matched, and dropping it would
/// shift the `skip` offset of the next page.
pub(crate) fn system_id(system: &System) -> Result<String> {
    system.device_id().map(str::to_owned).ok_or_else(|| {
        Error::invalid_response(format!(
            "a system has neither `_id` nor `id` (hostname {:?})",
            system.hostname.as_deref().unwrap_or("unknown")
        ))
    })
}

/// The device's own name: `displayName`, else `hostname`.
pub(crate) fn device_name(system: &System) -> Option<String> {
    first_non_blank([system.display_name.as_deref(), system.hostname.as_deref()])
}

/// A person's name as the directory holds it: `displayname`, else first and last name, else `email`,
/// else `username`. Names come before the e-mail address because R4 asks for the user's *name*.
pub(crate) fn user_name(user: &SystemUser) -> Option<String> {
    let full = first_non_blank([user.firstname.as_deref()])
        .into_iter()
        .chain(first_non_blank([user.lastname.as_deref()]))
        .collect::<Vec<_>>()
        .join(" ");
    first_non_blank([
        user.displayname.as_deref(),
        Some(full.as_str()),
        user.email.as_deref(),
        user.username.as_deref(),
    ])
}

/// The assigned user among the users the graph binds to a system (`/api/v2/systems/{id}/users`), when a
/// system has no primary user:
/// - a single bound user is the assigned user, however bound;
/// - among several, the single user bound directly (a one-hop path) is, and users reached through user
///   groups do not compete with it;
/// - otherwise (several direct bindings, or only group bindings) the device is shared and no one user is
///   assigned.
pub(crate) fn assigned_user(bound: &[GraphObject]) -> Option<String> {
    let mut seen = HashSet::new();
    let users: Vec<&GraphObject> = bound
        .iter()
        .filter(|o| o.is("user"))
        .filter(|o| o.object_id().is_some_and(|id| seen.insert(id.to_owned())))
        .collect();
    let pick = |candidates: Vec<&GraphObject>| match candidates.as_slice() {
        [only] => only.object_id().map(str::to_owned),
        _ => None,
    };
    if users.len() == 1 {
        return pick(users);
    }
    let direct: Vec<&GraphObject> = users.into_iter().filter(|u| u.is_direct()).collect();
    pick(direct)
}

/// A normalised device from a system, its assigned user's id and that user's name.
pub(crate) fn device(
    system: &System,
    user_id: Option<String>,
    user_name: Option<String>,
) -> Result<MdmDevice> {
    Ok(MdmDevice::new(
        system_id(system)?,
        SerialNumber::parse_opt(system.serial_number.as_deref()),
        device_name(system),
        user_id,
        user_name,
    ))
}

/// The member device ids of a group's membership rows (systems only; nested groups are paths, not
/// members).
pub(crate) fn member_ids(rows: &[GraphObject]) -> Vec<String> {
    rows.iter()
        .filter(|o| o.is("system"))
        .filter_map(|o| o.object_id().map(str::to_owned))
        .collect()
}

/// A group's id and display name, or `None` for a row that is not a usable system group.
pub(crate) fn group_header(group: &SystemGroup) -> Option<(String, String)> {
    let is_system_group = group
        .kind
        .as_deref()
        .is_none_or(|k| k.trim().is_empty() || k.eq_ignore_ascii_case("system_group"));
    if !is_system_group {
        return None;
    }
    let id = first_non_blank([group.id.as_deref()])?;
    let name = first_non_blank([group.name.as_deref()]).unwrap_or_else(|| id.clone());
    Some((id, name))
}

/// A group with its members.
pub(crate) fn group(id: String, name: String, rows: &[GraphObject]) -> MdmGroup {
    MdmGroup::new(id, name, member_ids(rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mdmkit_testkit::expect::assert_device;
    use serde_json::json;

    fn graph(v: serde_json::Value) -> Vec<GraphObject> {
        serde_json::from_value(v).unwrap()
    }

    fn user(v: serde_json::Value) -> SystemUser {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn device_prefers_the_user_name_then_display_name_then_hostname() {
        let s: System = serde_json::from_value(json!({
            "_id": "s1", "displayName": "Anna-MBP", "hostname": "annas-mbp.local",
            "serialNumber": " c02xk0aajg5j "
        }))
        .unwrap();
        let d = device(&s, Some("u1".into()), Some("Anna Chao".into())).unwrap();
        assert_device(
            &d,
            r#"{"device_id":"s1","serial_number":"C02XK0AAJG5J","user_id":"u1","user_name":"Anna Chao",
                "display_name":"Anna Chao","device_name":"Anna-MBP"}"#,
        );

        let d = device(&s, None, None).unwrap();
        assert_eq!(d.display_name.as_deref(), Some("Anna-MBP"));
        assert_eq!(d.user_id, None);

        let s: System = serde_json::from_value(json!({
            "id": "s2", "displayName": "  ", "hostname": "build-07", "serialNumber": "Not Specified"
        }))
        .unwrap();
        let d = device(&s, None, None).unwrap();
        assert_eq!(d.device_id, "s2");
        assert_eq!(d.display_name.as_deref(), Some("build-07"));
        assert_eq!(d.serial_number, None, "placeholder serials are not serials");
    }

    #[test]
    fn a_system_without_any_id_is_an_invalid_response() {
        let s: System = serde_json::from_value(json!({"hostname": "ghost"})).unwrap();
        let err = device(&s, None, None).unwrap_err();
        assert_eq!(err.kind(), mdmkit_core::ErrorKind::InvalidResponse);
        assert!(err.to_string().contains("ghost"));
    }

    #[test]
    fn user_names_prefer_displayname_then_full_name_then_email_then_username() {
        let all = json!({"_id": "u", "username": "anna", "email": "anna@acme.com",
                         "displayname": "Anna Chao", "firstname": "Anna", "lastname": "C."});
        assert_eq!(user_name(&user(all)).as_deref(), Some("Anna Chao"));
        let no_display = json!({"username": "anna", "email": "anna@acme.com",
                                "displayname": "", "firstname": "Anna", "lastname": "Chao"});
        assert_eq!(user_name(&user(no_display)).as_deref(), Some("Anna Chao"));
        let first_only = json!({"displayname": null, "firstname": "Anna", "lastname": " "});
        assert_eq!(user_name(&user(first_only)).as_deref(), Some("Anna"));
        let email_only = json!({"username": "anna", "email": "anna@acme.com", "firstname": ""});
        assert_eq!(
            user_name(&user(email_only)).as_deref(),
            Some("anna@acme.com")
        );
        let username_only = json!({"username": "anna"});
        assert_eq!(user_name(&user(username_only)).as_deref(), Some("anna"));
        assert_eq!(user_name(&user(json!({"_id": "u"}))), None);
    }

    #[test]
    fn a_single_bound_user_is_assigned_however_bound() {
        let via_group = graph(json!([{"id": "u1", "type": "user", "paths": [[
            {"to": {"id": "g1", "type": "user_group"}}, {"to": {"id": "u1", "type": "user"}}
        ]]}]));
        assert_eq!(assigned_user(&via_group).as_deref(), Some("u1"));
        assert_eq!(assigned_user(&[]), None);
    }

    #[test]
    fn among_several_users_only_a_single_direct_binding_counts() {
        let direct = json!({"id": "u1", "type": "user",
                            "paths": [[{"to": {"id": "u1", "type": "user"}}]]});
        let grouped = |id: &str| {
            json!({"id": id, "type": "user", "paths": [[
                {"to": {"id": "g1", "type": "user_group"}}, {"to": {"id": id, "type": "user"}}
            ]]})
        };
        let one_direct = graph(json!([grouped("u2"), direct.clone(), grouped("u3")]));
        assert_eq!(assigned_user(&one_direct).as_deref(), Some("u1"));

        let shared = graph(json!([grouped("u2"), grouped("u3")]));
        assert_eq!(assigned_user(&shared), None, "a group-bound lab machine");

        let two_direct = graph(json!([direct, {"id": "u4", "type": "user",
                            "paths": [[{"to": {"id": "u4", "type": "user"}}]]}]));
        assert_eq!(assigned_user(&two_direct), None);

        let repeated = graph(json!([{"id": "u5", "type": "user"}, {"id": "u5", "type": "user"}]));
        assert_eq!(assigned_user(&repeated).as_deref(), Some("u5"));
    }

    #[test]
    fn membership_keeps_systems_only() {
        let rows = graph(json!([
            {"id": "s1", "type": "system", "paths": [[{"to": {"id": "s1", "type": "system"}}]]},
            {"id": "g2", "type": "system_group"},
            {"id": "s2", "type": "system", "paths": [[{"to": {"id": "g2"}}, {"to": {"id": "s2"}}]]},
            {"id": "s1", "type": "system"},
            {"id": "", "type": "system"}
        ]));
        let g = group("g".into(), "Macs".into(), &rows);
        assert_eq!(g.member_device_ids, ["s1", "s2"]);
    }

    #[test]
    fn group_headers_need_an_id_and_fall_back_to_it_for_a_name() {
        let g: SystemGroup =
            serde_json::from_value(json!({"id": "g1", "name": " Macs ", "type": "system_group"}))
                .unwrap();
        assert_eq!(group_header(&g), Some(("g1".into(), "Macs".into())));
        let g: SystemGroup = serde_json::from_value(json!({"id": "g2"})).unwrap();
        assert_eq!(group_header(&g), Some(("g2".into(), "g2".into())));
        let g: SystemGroup = serde_json::from_value(json!({"name": "no id"})).unwrap();
        assert_eq!(group_header(&g), None);
        let g: SystemGroup =
            serde_json::from_value(json!({"id": "g3", "type": "user_group"})).unwrap();
        assert_eq!(group_header(&g), None);
    }
}
