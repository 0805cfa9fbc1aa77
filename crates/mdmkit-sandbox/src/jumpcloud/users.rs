//! `/api/systemusers`: the users systems are bound to.

use super::*;

// ---------------------------------------------------------------------------------------------------
// Users

/// `displayname` as served: empty for one user in three (the field is optional in JumpCloud).
pub(super) fn displayname(u: &SimUser) -> &str {
    if u.index % 3 == 1 {
        ""
    } else {
        &u.full_name
    }
}

pub(super) fn first_last(u: &SimUser) -> (&str, &str) {
    u.full_name
        .split_once(' ')
        .unwrap_or((u.full_name.as_str(), ""))
}

pub(super) fn user_field<'f>(index: u32, u: &'f SimUser, field: &str) -> Option<Cow<'f, str>> {
    Some(match field {
        "_id" | "id" => Cow::Owned(user_id(index)),
        "username" => Cow::Borrowed(u.username.as_str()),
        "email" => Cow::Borrowed(u.email.as_str()),
        "displayname" => Cow::Borrowed(displayname(u)),
        "firstname" => Cow::Borrowed(first_last(u).0),
        "lastname" => Cow::Borrowed(first_last(u).1),
        "state" => Cow::Borrowed("ACTIVATED"),
        "organization" => Cow::Borrowed(ORG_ID),
        _ => return None,
    })
}

pub(super) fn user_json(u: &SimUser) -> Value {
    let (first, last) = first_last(u);
    json!({
        "_id": user_id(u.index),
        "username": u.username,
        "email": u.email,
        "displayname": displayname(u),
        "firstname": first,
        "lastname": last,
        "state": "ACTIVATED",
        "activated": true,
        "suspended": false,
        "account_locked": false,
        "organization": ORG_ID,
        "created": timestamp(u.index % 300, u.index * 11),
    })
}

pub(super) const USERS: Collection = Collection {
    route: Route::Users,
    api: Api::V1,
    sortable: &[
        "_id",
        "username",
        "email",
        "displayname",
        "firstname",
        "lastname",
    ],
};

pub(super) async fn list_users(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Response> {
    let listing = Listing::read(&headers, raw.as_deref(), &USERS)?;
    let fleet = ctx.fleet();
    let (total, page) = listing.select(&fleet.users, NS_USER, user_field);
    Ok(listing.v1_answer(total, page.into_iter().map(user_json)))
}

pub(super) async fn get_user(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Response> {
    let org = authorize(&headers, Route::Users)?;
    let fields = projection(&query_pairs(raw.as_deref()));
    let fleet = ctx.fleet();
    let user = find_in(&fleet.users, org, NS_USER, &id)?;
    Ok(json(
        StatusCode::OK,
        project(user_json(user), fields.as_deref()),
    ))
}
