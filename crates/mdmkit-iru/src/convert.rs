//! Wire rows to core types: devices (R4) and tag groups (R11) with their members.

use std::collections::HashMap;

use mdmkit_core::{Error, MdmDevice, MdmGroup, Result, SerialNumber};

use crate::wire::{WireDevice, WireTag, WireTagRef, WireUser, WireUserObject};

/// The user a row names: `user`, else `assigned_user` (the details endpoint's name for it).
fn assigned_user(row: &WireDevice) -> Option<&WireUserObject> {
    match (&row.user, &row.assigned_user) {
        (WireUser::Assigned(user), _) | (WireUser::Unassigned, WireUser::Assigned(user)) => {
            Some(user)
        }
        (WireUser::Unassigned, WireUser::Unassigned) => None,
    }
}

/// The serial number exactly as the row reports it.
pub(crate) fn reported_serial(row: &WireDevice) -> Option<&str> {
    row.serial_number.as_deref()
}

/// A device row as an [`MdmDevice`]: device id `device_id`, user id `user.id`, display name by R4
/// (`user.name`, else `device_name`). A row without a `device_id` is an invalid response: the listing
/// cannot skip it without corrupting the offset paging, and a device without an id cannot be linked.
pub(crate) fn device(row: WireDevice) -> Result<MdmDevice> {
    let Some(device_id) = row.device_id.as_ref().and_then(|id| id.non_blank()) else {
        return Err(Error::invalid_response(format!(
            "a device row has no device_id (serial {:?}, name {:?})",
            row.serial_number.as_deref().unwrap_or_default(),
            row.device_name.as_deref().unwrap_or_default()
        )));
    };
    let user = assigned_user(&row);
    let user_id = user
        .and_then(|u| u.id.as_ref())
        .and_then(|id| id.non_blank())
        .map(str::to_owned);
    let user_name = user.and_then(|u| u.name.clone());
    Ok(MdmDevice::new(
        device_id,
        SerialNumber::parse_opt(row.serial_number.as_deref()),
        row.device_name.clone(),
        user_id,
        user_name,
    ))
}

/// The tenant's tags, indexed by id and by name.
#[derive(Debug, Clone, Default)]
pub(crate) struct TagIndex {
    /// `(id, name)` in the order the API listed them, one entry per id.
    tags: Vec<(String, String)>,
    by_id: HashMap<String, usize>,
    by_name: HashMap<String, Vec<usize>>,
}

impl TagIndex {
    /// Indexes the listed tags. A repeated id (pages shifting under a concurrent change) is kept once;
    /// a tag without a name is named by its id so the group is still visible.
    pub(crate) fn new(tags: Vec<WireTag>) -> TagIndex {
        let mut index = TagIndex::default();
        for tag in tags {
            let Some(id) = tag.id.non_blank().map(str::to_owned) else {
                tracing::warn!("Iru listed a tag without an id; ignored");
                continue;
            };
            if index.by_id.contains_key(&id) {
                continue;
            }
            let name = tag
                .name
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| id.clone());
            let at = index.tags.len();
            index.by_id.insert(id.clone(), at);
            index.by_name.entry(name.clone()).or_default().push(at);
            index.tags.push((id, name));
        }
        index
    }

    /// Whether the tenant has no tags.
    pub(crate) fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// Ids of tags whose name another tag shares: device rows name tags, so their members cannot be told
    /// apart from the rows and are read with a `tag_id` filter instead.
    pub(crate) fn ambiguous_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .by_name
            .values()
            .filter(|at| at.len() > 1)
            .flatten()
            .map(|&at| self.tags[at].0.clone())
            .collect();
        ids.sort();
        ids
    }

    fn resolve(&self, tag: &WireTagRef) -> Option<usize> {
        let by_name = |name: &str| match self.by_name.get(name).map(Vec::as_slice) {
            Some([one]) => Some(*one),
            _ => None,
        };
        match tag {
            WireTagRef::Name(name) => by_name(name),
            WireTagRef::Object { id, name } => id
                .as_ref()
                .and_then(|id| id.non_blank())
                .and_then(|id| self.by_id.get(id).copied())
                .or_else(|| name.as_deref().and_then(by_name)),
        }
    }
}

/// Tag membership gathered from device rows (and `tag_id` listings for ambiguous names).
#[derive(Debug, Clone)]
pub(crate) struct Membership {
    index: TagIndex,
    members: Vec<Vec<String>>,
    unresolved: usize,
}

impl Membership {
    /// Empty membership for the given tags.
    pub(crate) fn new(index: TagIndex) -> Membership {
        let members = vec![Vec::new(); index.tags.len()];
        Membership {
            index,
            members,
            unresolved: 0,
        }
    }

    /// Records the tags a device row carries. Tag names that match no listed tag (a tag created after
    /// the tag list was read) or a shared name are counted and skipped.
    pub(crate) fn add_row(&mut self, row: &WireDevice) {
        let Some(device_id) = row.device_id.as_ref().and_then(|id| id.non_blank()) else {
            if !row.tags.0.is_empty() {
                tracing::warn!("Iru listed a tagged device without a device_id; ignored");
            }
            return;
        };
        for tag in &row.tags.0 {
            match self.index.resolve(tag) {
                Some(at) => self.members[at].push(device_id.to_owned()),
                None => self.unresolved += 1,
            }
        }
    }

    /// Records a member read with a `tag_id` filter.
    pub(crate) fn add_member(&mut self, tag_id: &str, row: &WireDevice) {
        let device_id = row.device_id.as_ref().and_then(|id| id.non_blank());
        if let (Some(&at), Some(device_id)) = (self.index.by_id.get(tag_id), device_id) {
            self.members[at].push(device_id.to_owned());
        }
    }

    /// Tag references on device rows that named no single listed tag.
    pub(crate) fn unresolved(&self) -> usize {
        self.unresolved
    }

    /// One group per tag, in the API's order; tags without devices are groups without members.
    pub(crate) fn into_groups(self) -> Vec<MdmGroup> {
        self.index
            .tags
            .into_iter()
            .zip(self.members)
            .map(|((id, name), members)| MdmGroup::new(id, name, members))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::WireId;
    use mdmkit_testkit::expect::assert_device;
    use mdmkit_testkit::shapes::decode;

    fn tag(id: &str, name: &str) -> WireTag {
        WireTag {
            id: WireId(id.into()),
            name: Some(name.into()),
        }
    }

    #[test]
    fn a_row_with_a_user_gets_the_users_id_and_name() {
        let d = device(decode::<WireDevice>(r#"{"device_id":"03f8","device_name":"accuhive's MacBook Air","serial_number":"fvhhfkf7q6l4",
            "user":{"email":"a@kandji.io","name":"acchuive admin","id":"5344","is_archived":false}}"#))
        .unwrap();
        assert_device(
            &d,
            r#"{"device_id":"03f8","serial_number":"FVHHFKF7Q6L4","user_id":"5344","user_name":"acchuive admin",
                "display_name":"acchuive admin","device_name":"accuhive's MacBook Air"}"#,
        );
    }

    #[test]
    fn unassigned_users_fall_back_to_the_device_name() {
        for user in [
            r#""user":"""#,
            r#""user":null"#,
            r#""user":{}"#,
            r#""user":{"id":"","name":"  "}"#,
            r#""assigned_user":"""#,
        ] {
            let d = device(decode::<WireDevice>(&format!(
                r#"{{"device_id":"4820","device_name":"iPad",{user}}}"#
            )))
            .unwrap();
            assert_eq!(d.user_id, None, "{user}");
            assert_eq!(d.display_name.as_deref(), Some("iPad"), "{user}");
        }
        let d = device(decode::<WireDevice>(
            r#"{"device_id":"4820","device_name":"iPad"}"#,
        ))
        .unwrap();
        assert_eq!((d.user_id, d.display_name.as_deref()), (None, Some("iPad")));
    }

    #[test]
    fn a_user_without_a_name_keeps_the_id_and_shows_the_device_name() {
        let d = device(decode::<WireDevice>(
            r#"{"device_id":"1","device_name":"Mac","user":{"id":"u9","name":null}}"#,
        ))
        .unwrap();
        assert_eq!(d.user_id.as_deref(), Some("u9"));
        assert_eq!(d.display_name.as_deref(), Some("Mac"));
    }

    #[test]
    fn assigned_user_is_read_when_user_names_nobody() {
        let d = device(decode::<WireDevice>(
            r#"{"device_id":"1","device_name":"Mac","user":"","assigned_user":{"id":"u2","name":"Grace"}}"#,
        ))
        .unwrap();
        assert_eq!(d.user_id.as_deref(), Some("u2"));
        assert_eq!(d.display_name.as_deref(), Some("Grace"));
        // `user` wins when both name someone.
        let d = device(decode::<WireDevice>(
            r#"{"device_id":"1","user":{"id":"u1","name":"Ada"},"assigned_user":{"id":"u2","name":"Grace"}}"#,
        ))
        .unwrap();
        assert_eq!(d.user_id.as_deref(), Some("u1"));
    }

    #[test]
    fn placeholder_or_missing_serials_become_none() {
        for serial in [
            r#""serial_number":"""#,
            r#""serial_number":null"#,
            r#""x":1"#,
        ] {
            let d = device(decode::<WireDevice>(&format!(
                r#"{{"device_id":"1",{serial}}}"#
            )))
            .unwrap();
            assert_eq!(d.serial_number, None, "{serial}");
        }
    }

    #[test]
    fn a_row_without_device_id_is_an_invalid_response() {
        for json in [
            r#"{"serial_number":"ABC","device_name":"Mac"}"#,
            r#"{"device_id":" ","serial_number":"ABC"}"#,
        ] {
            let err = device(decode::<WireDevice>(json)).unwrap_err();
            assert_eq!(err.kind(), mdmkit_core::ErrorKind::InvalidResponse);
            assert!(err.to_string().contains("no device_id"), "{err}");
            assert!(err.to_string().contains("ABC"), "{err}");
        }
    }

    #[test]
    fn membership_maps_tag_names_to_tag_ids() {
        let index = TagIndex::new(vec![
            tag("t1", "accuhive_01"),
            tag("t2", "accuhive_02"),
            tag("t3", "empty"),
        ]);
        let mut m = Membership::new(index);
        m.add_row(&decode::<WireDevice>(
            r#"{"device_id":"d1","tags":["accuhive_02","accuhive_01"]}"#,
        ));
        m.add_row(&decode::<WireDevice>(
            r#"{"device_id":"d2","tags":["accuhive_02","Accuhive_01","gone"]}"#,
        ));
        m.add_row(&decode::<WireDevice>(
            r#"{"device_id":"d3","tags":[{"id":"t1","name":"renamed"}]}"#,
        ));
        m.add_row(&decode::<WireDevice>(r#"{"device_id":"d4","tags":[]}"#));
        assert_eq!(m.unresolved(), 2, "case differs, and an unknown tag");
        let groups = m.into_groups();
        assert_eq!(
            groups,
            [
                MdmGroup::new("t1", "accuhive_01", ["d1".into(), "d3".into()]),
                MdmGroup::new("t2", "accuhive_02", ["d1".into(), "d2".into()]),
                MdmGroup::new("t3", "empty", []),
            ]
        );
    }

    #[test]
    fn shared_names_are_ambiguous_and_filled_by_id() {
        let index = TagIndex::new(vec![
            tag("t1", "laptops"),
            tag("t2", "laptops"),
            tag("t3", "desks"),
            tag("t1", "laptops"),
        ]);
        assert_eq!(index.ambiguous_ids(), ["t1", "t2"]);
        let mut m = Membership::new(index);
        m.add_row(&decode::<WireDevice>(
            r#"{"device_id":"d1","tags":["laptops","desks"]}"#,
        ));
        m.add_member("t2", &decode::<WireDevice>(r#"{"device_id":"d1"}"#));
        m.add_member("nope", &decode::<WireDevice>(r#"{"device_id":"d9"}"#));
        let groups = m.into_groups();
        assert_eq!(groups.len(), 3, "the repeated id is kept once");
        assert!(groups[0].member_device_ids.is_empty());
        assert_eq!(groups[1].member_device_ids, ["d1"]);
        assert_eq!(groups[2].member_device_ids, ["d1"]);
    }

    #[test]
    fn a_tag_without_a_name_is_named_by_its_id() {
        let index = TagIndex::new(vec![WireTag {
            id: WireId("t1".into()),
            name: None,
        }]);
        let groups = Membership::new(index).into_groups();
        assert_eq!(groups[0].name, "t1");
    }
}
