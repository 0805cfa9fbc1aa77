//! Entra groups by delta (`GET /groups/delta`), read into mdmkit's [`GroupDelta`].
//!
//! - **What a round says.** Graph's delta reports, per group, changed properties and *direct* member
//!   additions and removals (`members@delta`, `@removed`), and deleted groups. It does not report a
//!   change inside a nested group to the groups that contain it.
//! - **What mdmkit answers.** Group membership here is transitive and joined to managed devices (as in
//!   [`MdmProvider::groups`](mdmkit_core::MdmProvider::groups)), so a delta only says *which* groups to
//!   read again: every group the round names, and every group that contains one of them. Those are
//!   read in full (name, security flag, transitive device members); the rest are unchanged.
//! - **Nesting.** Which group contains which is learnt from group-type members in the first round and
//!   kept up to date from later rounds. It travels in the token with Graph's delta link (JSON
//!   `{"link", "parents": {child: [parent, …]}}`), so the caller stores one opaque string.
//! - **Falling back.** Without a token, with a token that does not parse, or when Graph answers HTTP 410
//!   (`syncStateNotFound`, about a week after the link was issued), a new first round runs and every
//!   security group is read: [`GroupDeltaKind::Full`](mdmkit_core::GroupDeltaKind::Full).
//! - **Cost.** A first round pages through every group with all its direct members (users included),
//!   then reads each security group's device members as `groups()` does. A later round costs its delta
//!   pages, one request per group to read again, their member pages, and one managed-device join
//!   listing when one of them has device members.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use mdmkit_core::{GroupDelta, GroupDeltaToken, Result};
use serde::{Deserialize, Serialize};

use crate::wire::{DeltaGroup, Group};

/// What the token carries between rounds.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct DeltaToken {
    /// Graph's `@odata.deltaLink`.
    pub(crate) link: String,
    /// Group id to the ids of the groups that directly contain it.
    #[serde(default)]
    pub(crate) parents: BTreeMap<String, BTreeSet<String>>,
}

impl DeltaToken {
    pub(crate) fn parse(token: &GroupDeltaToken) -> Option<DeltaToken> {
        serde_json::from_str::<DeltaToken>(token.as_str())
            .ok()
            .filter(|t| !t.link.trim().is_empty())
    }

    pub(crate) fn encode(&self) -> GroupDeltaToken {
        GroupDeltaToken::new(serde_json::to_string(self).unwrap_or_default())
    }
}

/// One group's entries in a round, merged.
#[derive(Debug, Default)]
pub(crate) struct Merged {
    pub(crate) name: Option<String>,
    pub(crate) security: Option<bool>,
    /// Group-type members added.
    pub(crate) child_groups_added: BTreeSet<String>,
    /// Group-type members removed.
    pub(crate) child_groups_removed: BTreeSet<String>,
}

/// A round's entries merged per group (long member lists come in several entries).
#[derive(Debug, Default)]
pub(crate) struct Round {
    /// Groups named by the round (changed or new), with their merged entry.
    pub(crate) changed: BTreeMap<String, Merged>,
    /// Groups deleted.
    pub(crate) removed: BTreeSet<String>,
}

fn is_group(odata_type: Option<&str>) -> bool {
    odata_type.is_some_and(|t| {
        t.trim_start_matches('#')
            .eq_ignore_ascii_case("microsoft.graph.group")
    })
}

impl Round {
    pub(crate) fn new(entries: Vec<DeltaGroup>) -> Round {
        let mut round = Round::default();
        for entry in entries {
            if entry.removed.is_some() {
                round.changed.remove(&entry.id);
                round.removed.insert(entry.id);
                continue;
            }
            let merged = round.changed.entry(entry.id.clone()).or_default();
            if entry.display_name.is_some() {
                merged.name = entry.display_name;
            }
            if entry.security_enabled.is_some() {
                merged.security = entry.security_enabled;
            }
            for member in entry.members_delta {
                let Some(id) = member.id.filter(|id| !id.trim().is_empty()) else {
                    continue;
                };
                if !is_group(member.odata_type.as_deref()) {
                    continue;
                }
                if member.removed.is_some() {
                    merged.child_groups_added.remove(&id);
                    merged.child_groups_removed.insert(id);
                } else {
                    merged.child_groups_removed.remove(&id);
                    merged.child_groups_added.insert(id);
                }
            }
        }
        round
    }

    /// Applies the round's nesting changes to `parents`.
    pub(crate) fn update_nesting(&self, parents: &mut BTreeMap<String, BTreeSet<String>>) {
        for (parent, merged) in &self.changed {
            for child in &merged.child_groups_added {
                parents
                    .entry(child.clone())
                    .or_default()
                    .insert(parent.clone());
            }
            for child in &merged.child_groups_removed {
                if let Some(set) = parents.get_mut(child) {
                    set.remove(parent);
                }
            }
        }
        for gone in &self.removed {
            parents.remove(gone);
            for set in parents.values_mut() {
                set.remove(gone);
            }
        }
        parents.retain(|_, set| !set.is_empty());
    }

    /// The groups to read again: those the round names and every group containing one of them.
    pub(crate) fn affected(
        &self,
        parents: &BTreeMap<String, BTreeSet<String>>,
    ) -> BTreeSet<String> {
        let mut affected = BTreeSet::new();
        let mut todo: Vec<String> = self.changed.keys().cloned().collect();
        while let Some(id) = todo.pop() {
            if self.removed.contains(&id) || !affected.insert(id.clone()) {
                continue;
            }
            if let Some(up) = parents.get(&id) {
                todo.extend(up.iter().cloned());
            }
        }
        affected
    }

    /// The security groups of a first round, as groups to read.
    pub(crate) fn security_groups(&self) -> Vec<Group> {
        self.changed
            .iter()
            .filter(|(_, m)| m.security == Some(true))
            .map(|(id, m)| Group {
                id: id.clone(),
                display_name: m.name.clone(),
                security_enabled: Some(true),
            })
            .collect()
    }
}

/// The answer of a round of changes: the re-read groups, and the ids to report removed (deleted, gone
/// meanwhile, or no longer security groups).
pub(crate) fn changes(
    groups: Vec<mdmkit_core::MdmGroup>,
    mut removed: BTreeSet<String>,
    not_security: Vec<String>,
    token: &DeltaToken,
) -> Result<GroupDelta> {
    removed.extend(not_security);
    let groups: Vec<_> = groups
        .into_iter()
        .filter(|g| !removed.contains(&g.id))
        .collect();
    Ok(GroupDelta::changes(
        groups,
        removed.into_iter().collect(),
        token.encode(),
    ))
}

/// Group id to its parents, from every group-type member of a first round.
pub(crate) fn nesting_of(round: &Round) -> BTreeMap<String, BTreeSet<String>> {
    let mut parents = BTreeMap::new();
    round.update_nesting(&mut parents);
    parents
}

/// Keeps the order of `ids` while looking each up in `found`.
pub(crate) fn in_order<T: Clone>(ids: &[String], found: &HashMap<String, T>) -> Vec<T> {
    ids.iter().filter_map(|id| found.get(id).cloned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mdmkit_testkit::shapes::decode;

    #[test]
    fn continuations_merge_and_nesting_follows_group_members() {
        let round = Round::new(decode::<Vec<DeltaGroup>>(
            r##"[
              {"id": "p", "displayName": "Parent", "securityEnabled": true,
               "members@delta": [{"@odata.type": "#microsoft.graph.group", "id": "c"},
                                 {"@odata.type": "#microsoft.graph.device", "id": "d1"}]},
              {"id": "c", "displayName": "Child", "securityEnabled": true, "members@delta": []},
              {"id": "p", "members@delta": [{"@odata.type": "#microsoft.graph.group", "id": "c2"}]},
              {"id": "m", "displayName": "Mail", "securityEnabled": false},
              {"id": "old", "@removed": {"reason": "changed"}}
            ]"##,
        ));
        assert_eq!(round.changed.len(), 3, "the continuation merges into p");
        assert_eq!(round.removed, BTreeSet::from(["old".to_owned()]));
        let parents = nesting_of(&round);
        assert_eq!(parents["c"], BTreeSet::from(["p".to_owned()]));
        assert_eq!(parents["c2"], BTreeSet::from(["p".to_owned()]));
        let security: Vec<String> = round.security_groups().into_iter().map(|g| g.id).collect();
        assert_eq!(security, ["c", "p"]);

        // A later round naming only the child also reads its parent (and the grandparent).
        let mut parents = parents;
        parents.entry("p".into()).or_default().insert("gp".into());
        let later = Round::new(decode::<Vec<DeltaGroup>>(
            r##"[{"id": "c", "members@delta": [{"@odata.type": "#microsoft.graph.device", "id": "d9", "@removed": {"reason": "deleted"}}]}]"##,
        ));
        let affected: Vec<String> = later.affected(&parents).into_iter().collect();
        assert_eq!(affected, ["c", "gp", "p"]);

        // Removing a nested group unlinks it.
        let unnest = Round::new(decode::<Vec<DeltaGroup>>(
            r##"[{"id": "p", "members@delta": [{"@odata.type": "#microsoft.graph.group", "id": "c", "@removed": {"reason": "deleted"}}]}]"##,
        ));
        unnest.update_nesting(&mut parents);
        assert!(!parents.contains_key("c"));
    }

    #[test]
    fn tokens_round_trip_and_garbage_reads_as_none() {
        let token = DeltaToken {
            link: "https://graph/v1.0/groups/delta?$deltatoken=abc".into(),
            parents: BTreeMap::from([("c".into(), BTreeSet::from(["p".into()]))]),
        };
        let back = DeltaToken::parse(&token.encode()).unwrap();
        assert_eq!(back.link, token.link);
        assert_eq!(back.parents, token.parents);
        assert!(DeltaToken::parse(&GroupDeltaToken::new("not json")).is_none());
        assert!(DeltaToken::parse(&GroupDeltaToken::new(r#"{"link": ""}"#)).is_none());
    }
}
