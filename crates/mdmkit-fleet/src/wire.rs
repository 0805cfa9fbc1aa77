//! Serde types for the Fleet REST API, as the server sends them.
//!
//! Fleet is written in Go, so an empty list is often `null` rather than `[]`, and optional strings are
//! often `""`: every list here accepts `null`, and blank strings are treated as missing by the
//! conversion. Envelope keys (`hosts`, `labels`, `host`, `user`) are required, so that a JSON answer from
//! something that is not Fleet is an error rather than "no devices".
//!
//! The 2026 "teams → fleets" rename means responses may carry `team_id`/`team_name` and
//! `fleet_id`/`fleet_name` *at the same time*. They are separate fields here (a serde `alias` would reject
//! a body that has both) and read through accessors that prefer the new name.

use mdmkit_core::wire;
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};

/// A Fleet identifier: an integer on the wire, accepted as a string too. Kept as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Id(pub(crate) String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = wire::id_text(d)?;
        if text.is_empty() {
            return Err(serde::de::Error::custom("an empty id"));
        }
        Ok(Id(text))
    }
}

/// For required list envelopes: a missing key stays `None` (an error later), `null` becomes `Some([])`.
fn present_list<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Some(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default()))
}

/// An optional id that tolerates `null`, numbers and strings (and an empty string as "none").
fn lenient_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Id>, D::Error> {
    Ok(wire::optional_id_text(d)?.map(Id))
}

/// `GET /api/v1/fleet/me`.
#[derive(Debug, Deserialize)]
pub(crate) struct MeResponse {
    pub(crate) user: Option<MeUser>,
    #[serde(default, deserialize_with = "present_list")]
    pub(crate) available_teams: Option<Vec<TeamRef>>,
    #[serde(default, deserialize_with = "present_list")]
    pub(crate) available_fleets: Option<Vec<TeamRef>>,
}

/// The user a token belongs to.
#[derive(Debug, Deserialize)]
pub(crate) struct MeUser {
    #[serde(default, deserialize_with = "lenient_id")]
    pub(crate) id: Option<Id>,
    pub(crate) email: Option<String>,
    pub(crate) global_role: Option<String>,
    pub(crate) api_only: Option<bool>,
    #[serde(default, deserialize_with = "present_list")]
    pub(crate) teams: Option<Vec<TeamRef>>,
    #[serde(default, deserialize_with = "present_list")]
    pub(crate) fleets: Option<Vec<TeamRef>>,
}

impl MeResponse {
    /// Whether the response positively shows a user with no role anywhere: no global role, and every team
    /// or fleet list that is present is empty (at least one must be present; an old or unknown shape is
    /// given the benefit of the doubt).
    pub(crate) fn shows_no_access(&self) -> bool {
        let Some(user) = &self.user else {
            return false;
        };
        let global = user
            .global_role
            .as_deref()
            .is_some_and(|r| !r.trim().is_empty());
        let lists = [
            &user.teams,
            &user.fleets,
            &self.available_teams,
            &self.available_fleets,
        ];
        !global
            && lists.iter().any(|l| l.is_some())
            && lists.iter().all(|l| l.as_ref().is_none_or(Vec::is_empty))
    }

    /// How many teams (fleets) the user may see, from whichever field names the server sent.
    pub(crate) fn team_count(&self) -> usize {
        let from = |a: &Option<Vec<TeamRef>>, b: &Option<Vec<TeamRef>>| {
            a.as_ref()
                .map(Vec::len)
                .max(b.as_ref().map(Vec::len))
                .unwrap_or(0)
        };
        let user = self
            .user
            .as_ref()
            .map(|u| from(&u.fleets, &u.teams))
            .unwrap_or(0);
        user.max(from(&self.available_fleets, &self.available_teams))
    }
}

/// A team (fleet) entry in `/me`: only counted, so its fields are not read.
type TeamRef = IgnoredAny;

/// `GET /api/v1/fleet/hosts/identifier/{identifier}` and `GET /api/v1/fleet/hosts/{id}`.
#[derive(Debug, Deserialize)]
pub(crate) struct HostEnvelope {
    pub(crate) host: Option<Host>,
}

/// `GET /api/v1/fleet/hosts` and `GET /api/v1/fleet/labels/{id}/hosts`.
#[derive(Debug, Deserialize)]
pub(crate) struct HostsPage {
    #[serde(default, deserialize_with = "present_list")]
    pub(crate) hosts: Option<Vec<Host>>,
    pub(crate) meta: Option<ListMeta>,
}

/// The paging facts some Fleet list endpoints add; `has_next_results` is authoritative when present.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListMeta {
    pub(crate) has_next_results: Option<bool>,
}

/// A host. Only the fields the connector reads; Fleet sends many more.
#[derive(Debug, Deserialize)]
pub(crate) struct Host {
    pub(crate) id: Id,
    pub(crate) hardware_serial: Option<String>,
    pub(crate) display_name: Option<String>,
    pub(crate) computer_name: Option<String>,
    pub(crate) hostname: Option<String>,
    #[serde(default, deserialize_with = "lenient_id")]
    pub(crate) team_id: Option<Id>,
    pub(crate) team_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_id")]
    pub(crate) fleet_id: Option<Id>,
    pub(crate) fleet_name: Option<String>,
    /// The assigned IdP user(s) (single-host endpoints; Fleet 4.67+).
    #[serde(default, deserialize_with = "wire::null_as_default")]
    pub(crate) end_users: Vec<EndUser>,
    /// The human-device mapping (list endpoints with `device_mapping=true`). Its list-level shape is
    /// not confirmed, so every plausible form is accepted.
    pub(crate) device_mapping: Option<DeviceMapping>,
    /// When Fleet last wrote the host's row (`2026-11-01T10:00:00Z`).
    pub(crate) updated_at: Option<String>,
}

impl Host {
    /// The host's team (fleet) id, from the new field name if sent, else the old one.
    pub(crate) fn fleet_id(&self) -> Option<&str> {
        self.fleet_id
            .as_ref()
            .or(self.team_id.as_ref())
            .map(|id| id.0.as_str())
    }

    /// The host's team (fleet) name, from the new field name if sent, else the old one.
    pub(crate) fn fleet_name(&self) -> Option<&str> {
        [&self.fleet_name, &self.team_name]
            .into_iter()
            .flatten()
            .map(|s| s.trim())
            .find(|s| !s.is_empty())
    }
}

/// An end user assigned to a host.
#[derive(Debug, Deserialize)]
pub(crate) struct EndUser {
    #[serde(default, deserialize_with = "lenient_id")]
    pub(crate) idp_id: Option<Id>,
    pub(crate) idp_username: Option<String>,
    pub(crate) idp_full_name: Option<String>,
    #[serde(default, deserialize_with = "wire::null_as_default")]
    pub(crate) other_emails: Vec<MappingEntry>,
}

/// The `device_mapping` of a host: a list of `{email, source}` (documented for
/// `PUT /hosts/{id}/device_mapping`), the wrapped form `{"host_id", "device_mapping": [...]}` of the
/// per-host endpoint, or a list of bare e-mail strings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum DeviceMapping {
    /// `[{"email", "source"}, ...]` or `["a@b", ...]`.
    List(Vec<MappingEntry>),
    /// `{"device_mapping": [...]}`.
    Wrapped {
        #[serde(default, deserialize_with = "wire::null_as_default")]
        device_mapping: Vec<MappingEntry>,
    },
}

impl DeviceMapping {
    /// The entries, whatever the form.
    pub(crate) fn entries(&self) -> &[MappingEntry] {
        match self {
            DeviceMapping::List(entries) => entries,
            DeviceMapping::Wrapped { device_mapping } => device_mapping,
        }
    }
}

/// One e-mail mapped to a host.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum MappingEntry {
    /// `{"email": "...", "source": "..."}`.
    Entry {
        email: Option<String>,
        source: Option<String>,
    },
    /// A bare e-mail string.
    Email(String),
}

impl MappingEntry {
    /// The e-mail, if not blank.
    pub(crate) fn email(&self) -> Option<&str> {
        let email = match self {
            MappingEntry::Entry { email, .. } => email.as_deref()?,
            MappingEntry::Email(email) => email,
        };
        let email = email.trim();
        (!email.is_empty()).then_some(email)
    }

    /// The source (`mdm_idp_accounts`, `custom`, `google_chrome_profiles`, ...), if given.
    pub(crate) fn source(&self) -> Option<&str> {
        match self {
            MappingEntry::Entry { source, .. } => source.as_deref().map(str::trim),
            MappingEntry::Email(_) => None,
        }
    }
}

/// `GET /api/v1/fleet/labels`.
#[derive(Debug, Deserialize)]
pub(crate) struct LabelsPage {
    #[serde(default, deserialize_with = "present_list")]
    pub(crate) labels: Option<Vec<Label>>,
    pub(crate) meta: Option<ListMeta>,
}

/// A label (R11: Fleet's device groups).
#[derive(Debug, Deserialize)]
pub(crate) struct Label {
    pub(crate) id: Id,
    pub(crate) name: Option<String>,
    pub(crate) label_type: Option<LabelType>,
    #[serde(default, deserialize_with = "lenient_id")]
    pub(crate) team_id: Option<Id>,
    #[serde(default, deserialize_with = "lenient_id")]
    pub(crate) fleet_id: Option<Id>,
}

impl Label {
    /// Whether Fleet ships this label (`All Hosts`, the platform labels) rather than a person making it.
    pub(crate) fn is_builtin(&self) -> bool {
        matches!(&self.label_type, Some(t) if t.is_builtin())
    }

    /// The team (fleet) the label belongs to, from the new field name if sent, else the old one.
    pub(crate) fn fleet_id(&self) -> Option<&str> {
        self.fleet_id
            .as_ref()
            .or(self.team_id.as_ref())
            .map(|id| id.0.as_str())
    }
}

/// `label_type`: `"regular"`/`"builtin"` today; old servers sent the Go enum value (0 regular,
/// 1 built-in).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum LabelType {
    Text(String),
    Number(i64),
}

impl LabelType {
    fn is_builtin(&self) -> bool {
        match self {
            LabelType::Text(t) => t.trim().eq_ignore_ascii_case("builtin"),
            LabelType::Number(n) => *n == 1,
        }
    }
}

/// Fleet's error body: `{"message", "errors": [{"name", "reason"}], "uuid"}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    pub(crate) message: Option<String>,
    #[serde(default, deserialize_with = "present_list")]
    pub(crate) errors: Option<Vec<ErrorItem>>,
}

/// One entry of `errors`.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorItem {
    pub(crate) name: Option<String>,
    pub(crate) reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_with_both_team_and_fleet_fields_decodes() {
        let host: Host = serde_json::from_str(
            r#"{"id": 42, "team_id": 2, "team_name": "Workstations", "fleet_id": 3, "fleet_name": "Laptops"}"#,
        )
        .unwrap();
        assert_eq!(host.fleet_id(), Some("3"));
        assert_eq!(host.fleet_name(), Some("Laptops"));

        let old: Host =
            serde_json::from_str(r#"{"id": "7", "team_id": 2, "team_name": "Workstations"}"#)
                .unwrap();
        assert_eq!(old.id.0, "7");
        assert_eq!(old.fleet_id(), Some("2"));
        assert_eq!(old.fleet_name(), Some("Workstations"));

        let none: Host =
            serde_json::from_str(r#"{"id": 8, "team_id": null, "fleet_name": ""}"#).unwrap();
        assert_eq!(none.fleet_id(), None);
        assert_eq!(none.fleet_name(), None);
    }

    #[test]
    fn go_nulls_are_empty_lists_but_missing_envelopes_are_not() {
        let page: HostsPage = serde_json::from_str(r#"{"hosts": null}"#).unwrap();
        assert_eq!(page.hosts.map(|h| h.len()), Some(0));
        let page: HostsPage = serde_json::from_str(r#"{"labels": []}"#).unwrap();
        assert!(page.hosts.is_none());

        let host: Host =
            serde_json::from_str(r#"{"id": 1, "end_users": null, "device_mapping": null}"#)
                .unwrap();
        assert!(host.end_users.is_empty());
        assert!(host.device_mapping.is_none());
    }

    #[test]
    fn a_host_without_an_id_is_rejected() {
        assert!(serde_json::from_str::<Host>(r#"{"hardware_serial": "X"}"#).is_err());
        assert!(serde_json::from_str::<Host>(r#"{"id": ""}"#).is_err());
    }

    #[test]
    fn every_device_mapping_form_decodes() {
        let forms = [
            r#"[{"email": "a@x.com", "source": "mdm_idp_accounts"}]"#,
            r#"["a@x.com"]"#,
            r#"{"host_id": 1, "device_mapping": [{"email": "a@x.com", "source": "custom"}]}"#,
        ];
        for form in forms {
            let m: DeviceMapping = serde_json::from_str(form).unwrap();
            assert_eq!(m.entries()[0].email(), Some("a@x.com"), "{form}");
        }
        let m: DeviceMapping = serde_json::from_str(r#"{"device_mapping": null}"#).unwrap();
        assert!(m.entries().is_empty());
    }

    #[test]
    fn label_types_old_and_new() {
        let label = |json: &str| serde_json::from_str::<Label>(json).unwrap();
        assert!(label(r#"{"id": 6, "name": "All Hosts", "label_type": "builtin"}"#).is_builtin());
        assert!(label(r#"{"id": 6, "label_type": 1}"#).is_builtin());
        assert!(!label(r#"{"id": 9, "label_type": "regular"}"#).is_builtin());
        assert!(!label(r#"{"id": 9, "label_type": 0}"#).is_builtin());
        assert!(!label(r#"{"id": 9}"#).is_builtin());
        let scoped = label(r#"{"id": 9, "team_id": 4, "fleet_id": 4}"#);
        assert_eq!(scoped.fleet_id(), Some("4"));
        assert_eq!(label(r#"{"id": 9, "team_id": 5}"#).fleet_id(), Some("5"));
    }

    #[test]
    fn me_access_rules() {
        let me = |json: &str| serde_json::from_str::<MeResponse>(json).unwrap();
        assert!(!me(r#"{"user": {"global_role": "observer", "teams": []}}"#).shows_no_access());
        assert!(me(r#"{"user": {"global_role": null, "teams": [], "fleets": []}, "available_teams": [], "available_fleets": []}"#).shows_no_access());
        assert!(
            !me(r#"{"user": {"global_role": null, "teams": [{"id": 1, "name": "A"}]}}"#)
                .shows_no_access()
        );
        assert!(
            !me(r#"{"user": {"global_role": null, "fleets": [{"id": 1}], "teams": []}}"#)
                .shows_no_access()
        );
        // Nothing to judge by: not refused.
        assert!(!me(r#"{"user": {"email": "a@x.com"}}"#).shows_no_access());
        let both = me(
            r#"{"user": {"global_role": "admin", "teams": [{"id": 1}], "fleets": [{"id": 1}, {"id": 2}]},
                "available_teams": [{"id": 1}], "available_fleets": [{"id": 1}, {"id": 2}, {"id": 3}]}"#,
        );
        assert_eq!(both.team_count(), 3);
    }
}
