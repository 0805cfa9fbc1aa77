//! Fleet hosts and labels → [`MdmDevice`] and [`MdmGroup`].
//!
//! - Device id: the host's `id`. Serial: `hardware_serial` (blank and placeholder serials read as none).
//! - Device name: `display_name`, else `computer_name`, else `hostname` (the first that is not blank).
//! - User: Fleet has no user objects of its own for end users, so the user is identified by the e-mail
//!   the IdP knows them by. Candidates come from `end_users[]` (`idp_username`, then `idp_id` when there
//!   is no username, then `other_emails`) and from `device_mapping`; the best source wins: the IdP
//!   (`idp_username`, source `mdm_idp_accounts`), then a custom mapping, then Chrome profiles, then
//!   anything else, in the order Fleet listed them. The list endpoint never carries `end_users`, only
//!   `device_mapping`, and its IdP e-mail is the same as `idp_username`: ranking both the same way keeps
//!   the user id stable whether a device was refreshed by lookup or by listing.
//! - User name: `idp_full_name` of the end user the chosen identity came from. The display name then
//!   follows R4 through [`MdmDevice::new`].

use mdmkit_core::{MdmDevice, MdmGroup, SerialNumber, Unresolved};

use crate::scim::ScimIndex;
use crate::wire::{Host, Label, MappingEntry};

/// A host as a device, from its own record (a lookup: `end_users` carries the IdP identity and name).
pub(crate) fn device_from_host(host: &Host) -> MdmDevice {
    device_with_user(host, assigned_user(host))
}

fn device_with_user(host: &Host, user: Option<AssignedUser>) -> MdmDevice {
    MdmDevice::new(
        host.id.0.clone(),
        reported_serial(host).and_then(|s| SerialNumber::parse_opt(Some(s))),
        device_name(host).map(str::to_owned),
        user.as_ref().map(|u| u.id.clone()),
        user.and_then(|u| u.name),
    )
}

/// A host of the list (which carries only `device_mapping` e-mails) as a device, named through the
/// SCIM users when they could be read. With them, an IdP identity takes the linked SCIM user's
/// `userName` and name, as a lookup of the host shows them (a user Fleet does not hold has no name).
/// Without them, an IdP identity keeps its e-mail and is marked [`Unresolved::UserName`].
pub(crate) fn device_from_listed_host(host: &Host, scim: Option<&ScimIndex>) -> MdmDevice {
    let user = assigned_user(host);
    let unresolved = user
        .as_ref()
        .is_some_and(|u| u.from_idp && u.name.is_none())
        && scim.is_none();
    let user = match (user, scim) {
        (Some(u), Some(index)) if u.from_idp => Some(match index.find(&u.id) {
            Some(named) => AssignedUser {
                id: named.user_id.to_owned(),
                name: named.name.map(str::to_owned),
                from_idp: true,
            },
            None => u,
        }),
        (user, _) => user,
    };
    let device = device_with_user(host, user);
    if unresolved {
        device.with_unresolved(Unresolved::UserName)
    } else {
        device
    }
}

/// The serial the host reports, if any.
pub(crate) fn reported_serial(host: &Host) -> Option<&str> {
    non_blank(host.hardware_serial.as_deref())
}

/// The host's own name: `display_name`, else `computer_name`, else `hostname`.
pub(crate) fn device_name(host: &Host) -> Option<&str> {
    [&host.display_name, &host.computer_name, &host.hostname]
        .into_iter()
        .find_map(|n| non_blank(n.as_deref()))
}

/// The user assigned to a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AssignedUser {
    /// The user's identifier: an e-mail (or the IdP id when the IdP gave no username).
    pub(crate) id: String,
    /// The user's full name from the IdP, if known.
    pub(crate) name: Option<String>,
    /// Whether the identity is the host's IdP account (`end_users`, or `device_mapping` source
    /// `mdm_idp_accounts`): the only identity Fleet links to a SCIM user, and so the only one that can
    /// have a name.
    pub(crate) from_idp: bool,
}

/// Ranks where an identity came from; lower is better.
fn source_rank(source: Option<&str>) -> u8 {
    match source.map(str::to_ascii_lowercase).as_deref() {
        Some("mdm_idp_accounts") | Some("idp") => 0,
        Some(s) if s.starts_with("custom") => 1,
        Some("google_chrome_profiles") => 2,
        _ => 3,
    }
}

/// Picks the user assigned to a host from `end_users` and `device_mapping` (see the module docs).
pub(crate) fn assigned_user(host: &Host) -> Option<AssignedUser> {
    let mut best: Option<(u8, AssignedUser)> = None;
    let mut offer = |rank: u8, id: &str, name: Option<&str>| {
        if best.as_ref().is_none_or(|(r, _)| rank < *r) {
            best = Some((
                rank,
                AssignedUser {
                    id: id.to_owned(),
                    name: name.map(str::to_owned),
                    from_idp: rank == 0,
                },
            ));
        }
    };
    for user in &host.end_users {
        let name = non_blank(user.idp_full_name.as_deref());
        if let Some(username) = non_blank(user.idp_username.as_deref()) {
            offer(0, username, name);
        } else if let Some(idp_id) = user.idp_id.as_ref().and_then(|i| non_blank(Some(&i.0))) {
            offer(0, idp_id, name);
        }
        for entry in &user.other_emails {
            offer_entry(entry, name, &mut offer);
        }
    }
    if let Some(mapping) = &host.device_mapping {
        for entry in mapping.entries() {
            offer_entry(entry, None, &mut offer);
        }
    }
    best.map(|(_, user)| user)
}

fn offer_entry(
    entry: &MappingEntry,
    name: Option<&str>,
    offer: &mut impl FnMut(u8, &str, Option<&str>),
) {
    if let Some(email) = entry.email() {
        offer(source_rank(entry.source()), email, name);
    }
}

/// A label and its member host ids as a group. A label without a name is named after its id.
pub(crate) fn group_from_label(label: &Label, members: Vec<String>) -> MdmGroup {
    let name = non_blank(label.name.as_deref())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("Fleet label {}", label.id.0));
    MdmGroup::new(label.id.0.clone(), name, members)
}

fn non_blank(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mdmkit_testkit::expect::assert_device;
    use mdmkit_testkit::shapes::decode;

    #[test]
    fn end_user_gives_id_and_full_name() {
        let h = decode::<Host>(
            r#"{"id": 42, "hardware_serial": "c0124fxasd6g", "hostname": "annas-macbook-pro.local",
                "display_name": "Anna's MacBook Pro",
                "end_users": [{"idp_id": "f26f8649", "idp_username": "anna@acme.com",
                               "idp_full_name": "Anna Chao",
                               "other_emails": [{"email": "anna@example.com", "source": "custom"}]}]}"#,
        );
        let d = device_from_host(&h);
        assert_device(
            &d,
            r#"{"device_id":"42","serial_number":"C0124FXASD6G","user_id":"anna@acme.com",
                "user_name":"Anna Chao","display_name":"Anna Chao","device_name":"Anna's MacBook Pro"}"#,
        );
    }

    #[test]
    fn end_user_without_username_falls_back_to_idp_id_then_other_emails() {
        let h = decode::<Host>(
            r#"{"id": 1, "hostname": "h", "end_users": [{"idp_id": "abc-123", "idp_username": "", "idp_full_name": "Bo"}]}"#,
        );
        let u = assigned_user(&h).unwrap();
        assert_eq!((u.id.as_str(), u.name.as_deref()), ("abc-123", Some("Bo")));

        let h = decode::<Host>(
            r#"{"id": 1, "hostname": "h", "end_users": [{"idp_username": "", "idp_full_name": "",
                 "other_emails": [{"email": "bo@chrome.example", "source": "google_chrome_profiles"},
                                  {"email": "bo@custom.example", "source": "custom"}]}]}"#,
        );
        let d = device_from_host(&h);
        assert_eq!(d.user_id.as_deref(), Some("bo@custom.example"));
        assert_eq!(d.user_name, None);
        assert_eq!(
            d.display_name.as_deref(),
            Some("h"),
            "no full name: the display name is the device name"
        );
    }

    #[test]
    fn device_mapping_sources_are_ranked_and_match_the_lookup_identity() {
        let listed = decode::<Host>(
            r#"{"id": 42, "hostname": "annas-macbook-pro.local", "display_name": "Anna's MacBook Pro",
                "device_mapping": [{"email": "anna@gmail.example", "source": "google_chrome_profiles"},
                                   {"email": "anna@acme.com", "source": "mdm_idp_accounts"}]}"#,
        );
        let looked_up = decode::<Host>(
            r#"{"id": 42, "hostname": "annas-macbook-pro.local",
                "end_users": [{"idp_username": "anna@acme.com", "idp_full_name": "Anna Chao"}]}"#,
        );
        let a = device_from_host(&listed);
        let b = device_from_host(&looked_up);
        assert_eq!(a.user_id, b.user_id);
        assert_eq!(a.user_id.as_deref(), Some("anna@acme.com"));
        // The list carries no full name: the display name is the device's.
        assert_eq!(a.display_name.as_deref(), Some("Anna's MacBook Pro"));
        assert_eq!(b.display_name.as_deref(), Some("Anna Chao"));
    }

    #[test]
    fn unknown_sources_and_bare_emails_are_the_last_resort_in_order() {
        let h = decode::<Host>(r#"{"id": 1, "device_mapping": ["first@x.com", "second@x.com"]}"#);
        assert_eq!(assigned_user(&h).unwrap().id, "first@x.com");
        let h = decode::<Host>(
            r#"{"id": 1, "device_mapping": [{"email": "z@x.com", "source": "something_new"}, {"email": "c@x.com", "source": "custom_override"}]}"#,
        );
        assert_eq!(assigned_user(&h).unwrap().id, "c@x.com");
    }

    #[test]
    fn unassigned_in_every_shape() {
        for json in [
            r#"{"id": 5, "computer_name": "Lab iMac"}"#,
            r#"{"id": 5, "computer_name": "Lab iMac", "end_users": null, "device_mapping": null}"#,
            r#"{"id": 5, "computer_name": "Lab iMac", "end_users": [], "device_mapping": []}"#,
            r#"{"id": 5, "computer_name": "Lab iMac", "end_users": [{"idp_id": "", "idp_username": "", "idp_full_name": "", "other_emails": null}]}"#,
            r#"{"id": 5, "computer_name": "Lab iMac", "device_mapping": [{"email": "", "source": "custom"}]}"#,
            r#"{"id": 5, "computer_name": "Lab iMac", "device_mapping": {"host_id": 5, "device_mapping": null}}"#,
        ] {
            let d = device_from_host(&decode::<Host>(json));
            assert_eq!(d.user_id, None, "{json}");
            assert_eq!(d.display_name.as_deref(), Some("Lab iMac"), "{json}");
        }
    }

    #[test]
    fn device_name_order_and_missing_serials() {
        let d = device_from_host(&decode::<Host>(
            r#"{"id": 3, "display_name": " ", "computer_name": "", "hostname": "web-01.example.com", "hardware_serial": ""}"#,
        ));
        assert_eq!(d.device_name.as_deref(), Some("web-01.example.com"));
        assert_eq!(d.serial_number, None);
        let d = device_from_host(&decode::<Host>(
            r#"{"id": 4, "computer_name": "Büro-Mac", "hostname": "buero.local", "hardware_serial": "To Be Filled By O.E.M."}"#,
        ));
        assert_eq!(d.device_name.as_deref(), Some("Büro-Mac"));
        assert_eq!(d.serial_number, None);
        let d = device_from_host(&decode::<Host>(r#"{"id": 9}"#));
        assert_eq!((d.device_name, d.display_name), (None, None));
    }

    #[test]
    fn labels_become_groups() {
        let label: Label =
            serde_json::from_str(r#"{"id": 12, "name": " Engineering Macs "}"#).unwrap();
        let g = group_from_label(&label, vec!["9".into(), "10".into(), "9".into()]);
        assert_eq!(g.id, "12");
        assert_eq!(g.name, "Engineering Macs");
        assert_eq!(g.member_device_ids, ["10", "9"]);
        let label: Label = serde_json::from_str(r#"{"id": 13, "name": ""}"#).unwrap();
        assert_eq!(group_from_label(&label, vec![]).name, "Fleet label 13");
    }
}
