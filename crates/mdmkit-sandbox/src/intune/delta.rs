//! `/groups/delta`: group changes between rounds, behind delta and skip tokens.

use super::*;

// ----- groups delta -----

/// What a group looked like when a delta token was issued.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GroupState {
    name: String,
    security: bool,
    /// Direct members: directory object id to `@odata.type`.
    members: std::collections::BTreeMap<String, &'static str>,
}

/// What Graph keeps behind delta tokens and the pages of a round in progress.
#[derive(Debug, Clone)]
pub(crate) enum DeltaState {
    /// The groups as of a delta token.
    Token(std::collections::BTreeMap<String, GroupState>),
    /// A round being paged: its entries, and the state its delta token will stand for.
    Round {
        entries: Vec<Value>,
        state: std::collections::BTreeMap<String, GroupState>,
    },
}

/// Entries (group objects and continuations) per delta page, and members per entry.
pub(super) const DELTA_PAGE: usize = 20;
pub(super) const DELTA_MEMBER_CHUNK: usize = 200;

pub(super) fn member_object(m: &Member<'_>) -> Option<(String, &'static str)> {
    match m {
        Member::Device(d) => Some((
            d.prop("id")?.as_str()?.to_owned(),
            "#microsoft.graph.device",
        )),
        Member::User(u) => Some((
            user_prop(u, "id")?.as_str()?.to_owned(),
            "#microsoft.graph.user",
        )),
    }
}

/// Every group's state now.
pub(super) fn group_states(fleet: &Fleet) -> std::collections::BTreeMap<String, GroupState> {
    std::iter::once(GroupView::AllCompany)
        .chain(fleet.groups.values().map(GroupView::Fleet))
        .map(|g| {
            let text = |p: &str| g.prop(p).and_then(|v| v.as_str().map(str::to_owned));
            let state = GroupState {
                name: text("displayName").unwrap_or_default(),
                security: g.prop("securityEnabled").and_then(|v| v.as_bool()) == Some(true),
                members: group_members(fleet, g, None)
                    .filter_map(|(_, m)| member_object(&m))
                    .collect(),
            };
            (text("id").unwrap_or_default(), state)
        })
        .collect()
}

/// The delta entries from `old` (none: a first round, everything) to `new`: changed groups with the
/// properties that changed and their member additions and removals, deleted groups with `@removed`.
/// Long member lists continue in further entries carrying only `id` and `members@delta`.
pub(super) fn delta_entries(
    old: Option<&std::collections::BTreeMap<String, GroupState>>,
    new: &std::collections::BTreeMap<String, GroupState>,
    select: &[String],
) -> Vec<Value> {
    let wants = |p: &str| select.is_empty() || select.iter().any(|s| s.eq_ignore_ascii_case(p));
    let mut entries = Vec::new();
    for (id, state) in new {
        let before = old.and_then(|o| o.get(id));
        if before == Some(state) {
            continue;
        }
        let mut first = Map::new();
        first.insert("id".into(), json!(id));
        if wants("displayName") && before.is_none_or(|b| b.name != state.name) {
            first.insert("displayName".into(), json!(state.name));
        }
        if wants("securityEnabled") && before.is_none_or(|b| b.security != state.security) {
            first.insert("securityEnabled".into(), json!(state.security));
        }
        let mut changes: Vec<Value> = Vec::new();
        if wants("members") {
            for (member, kind) in &state.members {
                if before.is_none_or(|b| !b.members.contains_key(member)) {
                    changes.push(json!({"@odata.type": kind, "id": member}));
                }
            }
            if let Some(b) = before {
                for (member, kind) in &b.members {
                    if !state.members.contains_key(member) {
                        changes.push(
                            json!({"@odata.type": kind, "id": member, "@removed": {"reason": "deleted"}}),
                        );
                    }
                }
            }
        }
        if changes.is_empty() && first.len() == 1 {
            continue;
        }
        let mut chunks = changes.chunks(DELTA_MEMBER_CHUNK);
        if let Some(chunk) = chunks.next() {
            first.insert("members@delta".into(), json!(chunk));
        }
        entries.push(Value::Object(first));
        for chunk in chunks {
            entries.push(json!({"id": id, "members@delta": chunk}));
        }
    }
    if let Some(old) = old {
        for id in old.keys().filter(|id| !new.contains_key(*id)) {
            entries.push(json!({"id": id, "@removed": {"reason": "changed"}}));
        }
    }
    entries
}

pub(super) fn sync_state_not_found() -> Fault {
    Fault::new(
        StatusCode::GONE,
        "syncStateNotFound",
        "The sync state generation is not found or has expired. Please restart the sync without a token.",
    )
}

pub(super) async fn groups_delta(call: Call) -> Response {
    answer(&call, |ctx, headers, _, raw| {
        read_groups_delta(ctx, headers, raw)
    })
}

pub(super) fn read_groups_delta(ctx: &Ctx, headers: &HeaderMap, raw: Option<&str>) -> Answer {
    let caller = authenticate(ctx, headers)?;
    require(&caller, Permission::GroupMembers)?;
    let pairs = query_pairs(raw);
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    };
    for (key, _) in &pairs {
        let lower = key.to_ascii_lowercase();
        if lower.starts_with('$')
            && !["$select", "$deltatoken", "$skiptoken"].contains(&lower.as_str())
        {
            return Err(Dialect::Directory.bad_request(format!(
                "Query option '{key}' is not supported on this resource."
            )));
        }
    }
    let select: Vec<String> = get("$select")
        .map(|s| {
            s.split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let states = &ctx.shared.switches.group_delta_states;
    let fresh_key = || fresh_id();
    // Which round, and which page of it.
    let (round, page) = match (get("$skiptoken"), get("$deltatoken")) {
        (Some(skip), _) => {
            let (round, page) = skip.rsplit_once('.').ok_or_else(sync_state_not_found)?;
            let page: usize = page.parse().map_err(|_| sync_state_not_found())?;
            (round.to_owned(), page)
        }
        (None, token) => {
            let fleet = ctx.fleet();
            let now = group_states(&fleet);
            let mut map = states.lock().unwrap();
            let old = match token {
                Some(token) => match map.get(token) {
                    Some(DeltaState::Token(old)) => Some(old.clone()),
                    _ => return Err(sync_state_not_found()),
                },
                None => None,
            };
            let entries = delta_entries(old.as_ref(), &now, &select);
            let round = fresh_key();
            map.insert(
                round.clone(),
                DeltaState::Round {
                    entries,
                    state: now,
                },
            );
            (round, 0)
        }
    };
    let mut map = states.lock().unwrap();
    let Some(DeltaState::Round { entries, state }) = map.get(&round).cloned() else {
        return Err(sync_state_not_found());
    };
    let start = page * DELTA_PAGE;
    let rows: Vec<Value> = entries
        .iter()
        .skip(start)
        .take(DELTA_PAGE)
        .cloned()
        .collect();
    let mut body = Map::new();
    let context = if select.is_empty() {
        "groups".to_owned()
    } else {
        format!("groups({})", select.join(","))
    };
    body.insert(
        "@odata.context".into(),
        json!(format!("{}/v1.0/$metadata#{context}", caller.origin)),
    );
    if start + DELTA_PAGE < entries.len() {
        body.insert(
            "@odata.nextLink".into(),
            json!(format!(
                "{}/v1.0/groups/delta?$skiptoken={round}.{}",
                caller.origin,
                page + 1
            )),
        );
    } else {
        let token = fresh_key();
        map.insert(token.clone(), DeltaState::Token(state));
        map.remove(&round);
        body.insert(
            "@odata.deltaLink".into(),
            json!(format!(
                "{}/v1.0/groups/delta?$deltatoken={token}",
                caller.origin
            )),
        );
    }
    body.insert("value".into(), Value::Array(rows));
    Ok(odata(Value::Object(body)))
}
