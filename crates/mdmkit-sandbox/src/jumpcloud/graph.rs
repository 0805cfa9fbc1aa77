//! The V2 graph: system-to-user bindings and group membership.

use super::*;

// ---------------------------------------------------------------------------------------------------
// The V2 graph

/// One hop of a graph path.
pub(super) fn hop(id: &str, kind: &str) -> Value {
    json!({"to": {"id": id, "type": kind}, "attributes": null})
}

/// A `GraphConnection` row (`/members`).
pub(super) fn connection(id: &str, kind: &str) -> Value {
    json!({"to": {"id": id, "type": kind, "attributes": null}, "attributes": null})
}

/// A `GraphObjectWithPaths` row.
pub(super) fn with_paths(id: &str, kind: &str, paths: Vec<Value>) -> Value {
    json!({"id": id, "type": kind, "compiledAttributes": {}, "paths": paths})
}

/// A `GraphObjectWithPaths` row reached in one hop: a direct binding or membership.
pub(super) fn one_hop(id: &str, kind: &str) -> Value {
    with_paths(id, kind, vec![json!([hop(id, kind)])])
}

/// The members of the Help Desk user group: the first two directory users (none with fewer than two,
/// so the group never makes a device look assigned).
pub(super) fn help_desk(fleet: &Fleet) -> Vec<&SimUser> {
    let users: Vec<&SimUser> = fleet.users.values().take(2).collect();
    if users.len() == 2 {
        users
    } else {
        Vec::new()
    }
}

pub(super) fn bound_to_help_desk(d: &SimDevice) -> bool {
    d.index % 4 == 3
}

/// The users bound to a system, one row per user with every path, sorted by user id.
pub(super) fn bound_users(fleet: &Fleet, d: &SimDevice) -> Vec<Value> {
    let mut rows: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    if let Some(u) = fleet.user_of(d) {
        let id = user_id(u.index);
        rows.entry(id.clone())
            .or_default()
            .push(json!([hop(&id, "user")]));
    }
    if bound_to_help_desk(d) {
        let group = ids::object_id(NS_USER_GROUP, 0);
        for u in help_desk(fleet) {
            let id = user_id(u.index);
            rows.entry(id.clone())
                .or_default()
                .push(json!([hop(&group, "user_group"), hop(&id, "user")]));
        }
    }
    rows.into_iter()
        .map(|(id, paths)| with_paths(&id, "user", paths))
        .collect()
}

pub(super) async fn system_users(
    graph: GraphRequest,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let fleet = graph.fleet();
    let rows = bound_users(&fleet, device_in(&fleet, graph.org, &id)?);
    Ok(graph.page(rows.len(), rows.into_iter()))
}

/// The systems bound to a user, one row per system with every path from the user, in enrolment order:
/// the user's own devices directly, and every Help Desk device through the user group when the user is
/// in it.
pub(super) fn bound_systems<'f>(fleet: &'f Fleet, u: &SimUser) -> Vec<(&'f SimDevice, Vec<Value>)> {
    let in_help_desk = help_desk(fleet).iter().any(|h| h.index == u.index);
    let group = ids::object_id(NS_USER_GROUP, 0);
    fleet
        .devices
        .values()
        .filter_map(|d| {
            let mut paths = Vec::new();
            if d.user == Some(u.index) {
                paths.push(json!([hop(&system_id(d.index), "system")]));
            }
            if in_help_desk && bound_to_help_desk(d) {
                paths.push(json!([
                    hop(&group, "user_group"),
                    hop(&system_id(d.index), "system")
                ]));
            }
            (!paths.is_empty()).then_some((d, paths))
        })
        .collect()
}

pub(super) async fn user_systems(
    graph: GraphRequest,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let fleet = graph.fleet();
    let user = find_in(&fleet.users, graph.org, NS_USER, &id)?;
    let rows = bound_systems(&fleet, user);
    Ok(graph.page(
        rows.len(),
        rows.into_iter()
            .map(|(d, paths)| with_paths(&system_id(d.index), "system", paths)),
    ))
}

pub(super) async fn system_memberof(
    graph: GraphRequest,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let fleet = graph.fleet();
    let d = device_in(&fleet, graph.org, &id)?;
    let groups: Vec<&SimGroup> = fleet.groups_of(d.index).collect();
    let rows = groups
        .iter()
        .map(|g| one_hop(&group_id(g.index), "system_group"));
    Ok(graph.page(groups.len(), rows))
}
