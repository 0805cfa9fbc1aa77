//! Users, paged with an opaque cursor.

use super::*;

// ---------------------------------------------------------------------------------------------------
// Users

pub(super) const INTEGRATION_ID: u32 = 1;
pub(super) const DEPARTMENTS: &[&str] = &["Engineering", "Design", "Sales", "Finance", "Support"];

pub(super) fn user_json(u: &SimUser, device_count: usize) -> Value {
    json!({
        "id": user_id(u.index),
        "email": u.email,
        "name": u.full_name,
        "active": true,
        "archived": false,
        "department": DEPARTMENTS[u.index as usize % DEPARTMENTS.len()],
        "job_title": "Staff",
        "device_count": device_count,
        "integration": {
            "id": INTEGRATION_ID,
            "name": "Sandbox Directory",
            "uuid": ids::uuid(NS_MISC, 0),
            "type": "scim",
        },
        "deprecated_user_id": u.index + 1,
        "created_at": format!("2024-{:02}-{:02}T09:00:00.000000Z", 1 + u.index % 12, 1 + u.index % 28),
        "updated_at": "2026-10-01T09:00:00.000000Z",
    })
}

/// A users cursor: after (`reverse == false`) or before (`true`) the user numbered `position`.
pub(super) fn encode_cursor(reverse: bool, position: u32) -> String {
    let raw = if reverse {
        format!("r=1&p={position}")
    } else {
        format!("p={position}")
    };
    base64::engine::general_purpose::STANDARD.encode(raw)
}

pub(super) fn decode_cursor(cursor: &str) -> Option<(bool, u32)> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cursor.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut reverse = false;
    let mut position = None;
    for (k, v) in url::form_urlencoded::parse(text.as_bytes()) {
        match k.as_ref() {
            "r" => reverse = v == "1",
            "p" => position = Some(v.parse().ok()?),
            _ => return None,
        }
    }
    Some((reverse, position?))
}

pub(super) async fn list_users(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(e) = refusal(&headers, Permission::Users) {
        return e;
    }
    let pairs = query_pairs(raw.as_deref());
    let cursor = match query_get(&pairs, "cursor") {
        None => None,
        Some(c) => match decode_cursor(c) {
            Some(c) => Some(c),
            None => return detail(StatusCode::NOT_FOUND, "Invalid cursor"),
        },
    };
    let fleet = ctx.fleet();
    let email = param(&pairs, "email");
    let id = param(&pairs, "id").map(str::to_ascii_lowercase);
    let id_index = id
        .as_deref()
        .map(|id| user_by_id(&fleet, id).map(|u| u.index));
    let archived = param(&pairs, "archived");
    let integration = param(&pairs, "integration_id");
    let keep = |u: &&SimUser| {
        email.is_none_or(|e| u.email.eq_ignore_ascii_case(e))
            && id_index.is_none_or(|want| want == Some(u.index))
            && archived != Some("true")
            && integration.is_none_or(|i| i == INTEGRATION_ID.to_string())
    };
    // One more than a page, to know whether another page follows.
    let mut page: Vec<&SimUser> = match cursor {
        None => fleet
            .users
            .values()
            .filter(keep)
            .take(USER_PAGE + 1)
            .collect(),
        Some((false, after)) => fleet
            .users
            .range(after.saturating_add(1)..)
            .map(|(_, u)| u)
            .filter(keep)
            .take(USER_PAGE + 1)
            .collect(),
        Some((true, before)) => {
            let mut v: Vec<&SimUser> = fleet
                .users
                .range(..before)
                .rev()
                .map(|(_, u)| u)
                .filter(keep)
                .take(USER_PAGE + 1)
                .collect();
            v.reverse();
            v
        }
    };
    let more = page.len() > USER_PAGE;
    let (has_next, has_previous) = match cursor {
        None => {
            page.truncate(USER_PAGE);
            (more, false)
        }
        Some((false, _)) => {
            page.truncate(USER_PAGE);
            (more, true)
        }
        Some((true, _)) => {
            if more {
                page.remove(0);
            }
            (true, more)
        }
    };
    let cursor_link = |reverse: bool, position: u32| {
        let mut q: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, _)| k != "cursor")
            .cloned()
            .collect();
        q.push(("cursor".into(), encode_cursor(reverse, position)));
        Value::String(link(&headers, "/api/v1/users", &q))
    };
    let next = match page.last() {
        Some(last) if has_next => cursor_link(false, last.index),
        _ => Value::Null,
    };
    let previous = match page.first() {
        Some(first) if has_previous => cursor_link(true, first.index),
        _ => Value::Null,
    };
    let mut counts = vec![0usize; page.len()];
    if let (Some(first), Some(last)) = (page.first(), page.last()) {
        let (lo, hi) = (first.index, last.index);
        for d in fleet.devices.values() {
            if let Some(u) = d.user.filter(|u| (lo..=hi).contains(u)) {
                if let Ok(at) = page.binary_search_by_key(&u, |p| p.index) {
                    counts[at] += 1;
                }
            }
        }
    }
    let results: Vec<Value> = page
        .iter()
        .zip(counts)
        .map(|(u, n)| user_json(u, n))
        .collect();
    json(
        StatusCode::OK,
        json!({"next": next, "previous": previous, "results": results}),
    )
}

pub(super) async fn get_user(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(e) = refusal(&headers, Permission::Users) {
        return e;
    }
    let fleet = ctx.fleet();
    match user_by_id(&fleet, &id) {
        Some(u) => {
            let count = fleet
                .devices
                .values()
                .filter(|d| d.user == Some(u.index))
                .count();
            json(StatusCode::OK, user_json(u, count))
        }
        None => not_found(),
    }
}
