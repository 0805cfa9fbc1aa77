//! `/api/v1/users`: the user accounts device records point at.

use serde::Serialize;

use super::*;

// ----- users -----

pub(super) const USER_LIST: ListSpec = ListSpec {
    max_size: USERS_MAX_PAGE_SIZE,
    default_sort: "id:asc",
    sorts: &["id", "username", "realname", "email"],
    filters: &[
        ("id", rsql::Kind::Number),
        ("username", rsql::Kind::Text),
        ("realname", rsql::Kind::Text),
        ("email", rsql::Kind::Text),
        ("phone", rsql::Kind::Text),
        ("position", rsql::Kind::Text),
    ],
};

pub(super) fn user_id(index: u32) -> String {
    (index + 1).to_string()
}

#[derive(Clone, Copy)]
pub(super) struct UserRow<'f>(&'f SimUser);

impl Record for UserRow<'_> {
    fn field(&self, name: &str) -> rsql::Value<'_> {
        use rsql::Value::{Number, Text};
        let u = self.0;
        match name {
            "id" => Number(i64::from(u.index) + 1),
            "username" => Text(Cow::Borrowed(&u.username)),
            "realname" => Text(Cow::Borrowed(&u.full_name)),
            "email" => Text(Cow::Borrowed(&u.email)),
            "phone" | "position" => Text("".into()),
            _ => rsql::Value::Null,
        }
    }
}

pub(super) async fn users(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Answer {
    authorize(&ctx, &headers, Flavor::Pro, &[Read::Users])?;
    let query = ListQuery::parse(&query_pairs(raw.as_deref()), &USER_LIST)?;
    let fleet = ctx.fleet();
    let (total, page) = query.run(fleet.users.values().map(UserRow), fleet.users.len());
    let total_pages = total.div_ceil(query.size);
    Ok(json_of(
        StatusCode::OK,
        &UsersPage {
            page: query.page,
            page_size: query.size,
            total_count: total,
            total_pages,
            has_next: query.page + 1 < total_pages,
            has_previous: query.page > 0,
            results: page.into_iter().map(|UserRow(u)| UserJson::of(u)).collect(),
        },
    ))
}

/// A page of `/api/v1/users`, serialised as it is written.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UsersPage<'f> {
    page: usize,
    page_size: usize,
    total_count: usize,
    total_pages: usize,
    has_next: bool,
    has_previous: bool,
    results: Vec<UserJson<'f>>,
}

/// One user record (schema `UserV1`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserJson<'f> {
    id: String,
    username: &'f str,
    realname: &'f str,
    email: &'f str,
    phone: &'static str,
    position: &'static str,
    managed_apple_id: &'static str,
    ldap_server_id: Option<&'static str>,
    extension_attributes: [(); 0],
}

impl<'f> UserJson<'f> {
    fn of(u: &'f SimUser) -> Self {
        UserJson {
            id: user_id(u.index),
            username: &u.username,
            realname: &u.full_name,
            email: &u.email,
            phone: "",
            position: "",
            managed_apple_id: "",
            ldap_server_id: None,
            extension_attributes: [],
        }
    }
}
