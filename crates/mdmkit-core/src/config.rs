//! Typed provider configurations (credentials plus endpoint), their validation, and host parsing.
//!
//! # One validation path
//!
//! Every way of building a configuration runs the same checks and normalisation: the constructors
//! ([`JamfConfig::new`], ...), `Deserialize` (serde goes through the same code as the constructors), and
//! [`ProviderConfig::validated`], which re-checks a configuration whose public fields were changed after
//! it was built. Providers (`JamfProvider::new`, ...) and `MdmSync::connect` call `validated` before any
//! request, so a missing credential is a local "API Client ID is required", never a round trip that comes
//! back "Unauthorized". The checks: required fields are present and not blank (trimmed); hosts parse as
//! `http(s)` URLs without user names, queries or fragments ([`parse_base_url`]), with a trailing API path
//! such as Jamf's `/api/v1` stripped; an Iru host has one of the documented forms unless the configuration
//! was built for a sandbox ([`IruConfig::with_base_url`]); optional texts that are blank count as absent.
//!
//! # Serde form
//!
//! Tagged by `provider`; the field names are the [`crate::CredentialField`] keys, so a form posted by a
//! settings page deserialises directly (`base_url` is also accepted as `host`):
//!
//! ```
//! use mdmkit_core::ProviderConfig;
//!
//! let body = r#"{"provider":"jamf","host":"acme.jamfcloud.com/api/v1",
//!                "client_id":"3f9c","client_secret":"s3cret"}"#;
//! let config: ProviderConfig = serde_json::from_str(body).unwrap();
//! // Normalised exactly as `JamfConfig::new` would: the API path is stripped.
//! let ProviderConfig::Jamf(jamf) = &config else { unreachable!() };
//! assert_eq!(jamf.base_url.as_str(), "https://acme.jamfcloud.com/");
//!
//! // The same checks as the constructor, with the same messages.
//! let blank = r#"{"provider":"jamf","host":"acme.jamfcloud.com","client_id":" ","client_secret":"s"}"#;
//! let err = serde_json::from_str::<ProviderConfig>(blank).unwrap_err();
//! assert!(err.to_string().contains("API Client ID is required"));
//! ```
//!
//! # Secrets
//!
//! Secrets are held as [`SecretString`]. `Debug` never shows them, and the default `Serialize` writes
//! `"[redacted]"` in their place, so a configuration can be logged or returned by an API without leaking a
//! customer's credentials. Serialising secrets is explicit: [`ProviderConfig::expose_secrets`] returns an
//! [`ExposedSecrets`] whose `Serialize` writes them in clear, for a vault that encrypts the result (see
//! `mdmkit-sync`). Deserialising a redacted form fails with a message that says so, rather than building a
//! configuration whose secret is the redaction marker.
//!
//! ```
//! use mdmkit_core::{FleetConfig, ProviderConfig};
//!
//! let config = ProviderConfig::Fleet(FleetConfig::new("fleet.example.com", "t0ken").unwrap());
//! let shown = serde_json::to_string(&config).unwrap();
//! assert_eq!(shown, r#"{"provider":"fleet","base_url":"https://fleet.example.com/","api_token":"[redacted]"}"#);
//! assert!(serde_json::from_str::<ProviderConfig>(&shown).is_err());
//!
//! let sealed = serde_json::to_string(&config.expose_secrets()).unwrap(); // for the vault only
//! assert!(sealed.contains("t0ken"));
//! let back: ProviderConfig = serde_json::from_str(&sealed).unwrap();
//! assert!(back.same_connection(&config));
//! ```

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

use crate::error::{Error, Result};
use crate::kind::{
    CredentialField, IntuneCloud, JumpCloudRegion, ProviderKind, SIMPLEMDM_ENDPOINT,
};
use crate::links;

/// What the default `Serialize` writes in place of a secret.
pub const REDACTED: &str = "[redacted]";

/// Parses a base URL the way people paste it: with or without `https://`, with a trailing `/`, with
/// trailing API paths from `api_suffixes` (e.g. `/api/v1`, `/api`), with a port.
///
/// The result always ends in `/`, so request paths join below it. Suffixes are stripped until none is
/// left, so parsing a result again gives the same URL. Rejected, with a message that says why: empty
/// input, spaces, schemes other than `http`/`https`, user names or passwords, query strings and
/// fragments, and text that is not a host.
pub fn parse_base_url(input: &str, api_suffixes: &[&str]) -> Result<Url> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(Error::config("the host is empty"));
    }
    if trimmed.chars().any(char::is_whitespace) {
        return Err(Error::config(format!(
            "the host {trimmed:?} contains spaces; expected something like acme.example.com or https://acme.example.com"
        )));
    }
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_owned()
    } else {
        format!("https://{trimmed}")
    };
    let mut url = Url::parse(&with_scheme).map_err(|e| {
        Error::config(format!(
            "the host {trimmed:?} is not a valid URL ({e}); expected something like acme.example.com or https://acme.example.com"
        ))
    })?;
    match url.scheme() {
        "https" | "http" => {}
        other => {
            return Err(Error::config(format!(
                "the host {trimmed:?} uses the scheme {other}://; only https:// (or http:// for a local test server) is supported"
            )))
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::config(format!("{trimmed:?} names no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::config(
            "the host must not contain a user name or password; enter credentials in their own fields",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config(format!(
            "the host {trimmed:?} has a query string or fragment; enter only the server address"
        )));
    }
    let mut path = url.path().trim_end_matches('/').to_owned();
    while let Some(suffix) = api_suffixes.iter().find(|suffix| {
        let (path, suffix) = (path.as_bytes(), suffix.as_bytes());
        !suffix.is_empty()
            && path.len() >= suffix.len()
            && path[path.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    }) {
        path.truncate(path.len() - suffix.len());
        path = path.trim_end_matches('/').to_owned();
    }
    url.set_path(&format!("{path}/"));
    Ok(url)
}

/// Whether a serde form carries a configuration's secrets or the redaction marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Secrets {
    Redacted,
    Exposed,
}

/// A secret as it appears in the serde form: its value, or the marker the default `Serialize` writes.
#[derive(Clone)]
enum SecretField {
    Redacted,
    Value(SecretString),
}

impl SecretField {
    fn new(value: String) -> Self {
        SecretField::Value(SecretString::from(value))
    }

    fn of(secret: &SecretString, secrets: Secrets) -> Self {
        match secrets {
            Secrets::Redacted => SecretField::Redacted,
            Secrets::Exposed => SecretField::Value(secret.clone()),
        }
    }
}

impl Serialize for SecretField {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SecretField::Redacted => s.serialize_str(REDACTED),
            SecretField::Value(secret) => s.serialize_str(secret.expose_secret()),
        }
    }
}

impl<'de> Deserialize<'de> for SecretField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Reads a string; other types fail without their value in the message (it may be the secret).
        struct SecretVisitor;
        impl serde::de::Visitor<'_> for SecretVisitor {
            type Value = SecretField;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SecretField, E> {
                Ok(if v == REDACTED {
                    SecretField::Redacted
                } else {
                    SecretField::new(v.to_owned())
                })
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<SecretField, E> {
                Ok(if v == REDACTED {
                    SecretField::Redacted
                } else {
                    SecretField::new(v)
                })
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<SecretField, E> {
                Err(not_a_string())
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<SecretField, E> {
                Err(not_a_string())
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<SecretField, E> {
                Err(not_a_string())
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<SecretField, E> {
                Err(not_a_string())
            }
            fn visit_char<E: serde::de::Error>(self, _: char) -> Result<SecretField, E> {
                Err(not_a_string())
            }
            fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> Result<SecretField, E> {
                Err(not_a_string())
            }
        }
        fn not_a_string<E: serde::de::Error>() -> E {
            E::custom("a secret must be a string (its value is not shown)")
        }
        // `deserialize_any`, not `deserialize_str`: buffered (tagged) input would report a non-string itself,
        // with its value.
        d.deserialize_any(SecretVisitor)
    }
}

/// `Serialize` (secrets redacted) and `TryFrom<fields>` (the constructor's checks) for a configuration,
/// both through its fields struct: the one place each configuration meets serde.
macro_rules! serde_through_fields {
    ($config:ident, $fields:ident, $kind:expr) => {
        impl Serialize for $config {
            /// Secrets are written as `"[redacted]"`; see [`ProviderConfig::expose_secrets`].
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.fields(Secrets::Redacted).serialize(s)
            }
        }

        impl TryFrom<$fields> for $config {
            type Error = Error;
            fn try_from(fields: $fields) -> Result<Self> {
                $config::from_fields(fields).map_err(|e| e.with_provider($kind))
            }
        }

        impl $config {
            /// Runs the constructor's checks and normalisation again, for a configuration whose public
            /// fields were changed after it was built.
            pub fn validated(self) -> Result<Self> {
                $config::try_from(self.fields(Secrets::Exposed))
            }
        }
    };
}

/// The trailing API paths a pasted Jamf host may carry.
const JAMF_API_SUFFIXES: &[&str] = &["/api/v1", "/api", "/JSSResource"];
/// The trailing API paths a pasted Iru host may carry.
const IRU_API_SUFFIXES: &[&str] = &["/api/v1", "/api"];
/// The trailing API paths a pasted Fleet host may carry.
const FLEET_API_SUFFIXES: &[&str] = &["/api/v1/fleet", "/api/latest/fleet", "/api/v1", "/api"];

/// Jamf Pro: Host, API Client ID, API Client Secret.
///
/// Built by [`JamfConfig::new`] or deserialised (both run the same checks).
#[derive(Clone, Deserialize)]
#[serde(try_from = "JamfFields")]
#[non_exhaustive]
pub struct JamfConfig {
    /// The Jamf Pro server, e.g. `https://acme.jamfcloud.com/` (ends in `/`).
    pub base_url: Url,
    /// The API client's ID.
    pub client_id: String,
    /// The API client's secret.
    pub client_secret: SecretString,
}

#[derive(Serialize, Deserialize)]
struct JamfFields {
    #[serde(default, alias = "host")]
    base_url: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: Option<SecretField>,
}

impl JamfConfig {
    /// Validates and normalises what a person enters.
    pub fn new(host: &str, client_id: &str, client_secret: impl Into<String>) -> Result<Self> {
        JamfConfig::try_from(JamfFields {
            base_url: host.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: Some(SecretField::new(client_secret.into())),
        })
    }

    fn from_fields(f: JamfFields) -> Result<Self> {
        Ok(JamfConfig {
            base_url: parse_base_url(&f.base_url, JAMF_API_SUFFIXES)?,
            client_id: required("API Client ID", &f.client_id)?,
            client_secret: required_secret("API Client Secret", f.client_secret)?,
        })
    }

    fn fields(&self, secrets: Secrets) -> JamfFields {
        JamfFields {
            base_url: self.base_url.to_string(),
            client_id: self.client_id.clone(),
            client_secret: Some(SecretField::of(&self.client_secret, secrets)),
        }
    }
}

serde_through_fields!(JamfConfig, JamfFields, ProviderKind::Jamf);

/// Iru, formerly Kandji: Host, API Token.
///
/// Built by [`IruConfig::new`] (a tenant host), [`IruConfig::with_base_url`] (a sandbox) or deserialised
/// (both run the same checks).
#[derive(Clone, Deserialize)]
#[serde(try_from = "IruFields")]
#[non_exhaustive]
pub struct IruConfig {
    /// The tenant's API host, e.g. `https://acme.api.kandji.io/`.
    pub base_url: Url,
    /// The API token.
    pub api_token: SecretString,
    /// Set by [`IruConfig::with_base_url`]: `base_url` is a sandbox or test server, so it is not checked
    /// against Iru's host forms. Serialised (as `"custom_endpoint": true`) only when set.
    pub custom_endpoint: bool,
}

#[derive(Serialize, Deserialize)]
struct IruFields {
    #[serde(default, alias = "host")]
    base_url: String,
    #[serde(default)]
    api_token: Option<SecretField>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    custom_endpoint: bool,
}

/// The host forms Iru issues, shown when a host does not match.
pub const IRU_HOST_FORMS: &str =
    "TENANT.api.kandji.io, TENANT.api.eu.kandji.io, TENANT.api.iru.com or TENANT.api.eu.iru.com";

impl IruConfig {
    /// Validates an Iru API host: one of the four documented forms (with or without scheme, trailing `/`
    /// or `/api/v1`).
    pub fn new(host: &str, api_token: impl Into<String>) -> Result<Self> {
        IruConfig::try_from(IruFields {
            base_url: host.to_owned(),
            api_token: Some(SecretField::new(api_token.into())),
            custom_endpoint: false,
        })
    }

    /// Uses any base URL (a sandbox or a test server) instead of a tenant host.
    pub fn with_base_url(base_url: &str, api_token: impl Into<String>) -> Result<Self> {
        IruConfig::try_from(IruFields {
            base_url: base_url.to_owned(),
            api_token: Some(SecretField::new(api_token.into())),
            custom_endpoint: true,
        })
    }

    fn from_fields(f: IruFields) -> Result<Self> {
        let base_url = parse_base_url(&f.base_url, IRU_API_SUFFIXES)?;
        if !f.custom_endpoint {
            let name = base_url.host_str().unwrap_or_default().to_ascii_lowercase();
            if links::iru_console_host(&name).is_none()
                || base_url.path() != "/"
                || base_url.port().is_some()
            {
                return Err(Error::config(format!(
                    "{:?} is not an Iru API host; expected {IRU_HOST_FORMS} (shown under Settings > Access > API token)",
                    f.base_url.trim()
                )));
            }
        }
        Ok(IruConfig {
            base_url,
            api_token: required_secret("API Token", f.api_token)?,
            custom_endpoint: f.custom_endpoint,
        })
    }

    fn fields(&self, secrets: Secrets) -> IruFields {
        IruFields {
            base_url: self.base_url.to_string(),
            api_token: Some(SecretField::of(&self.api_token, secrets)),
            custom_endpoint: self.custom_endpoint,
        }
    }
}

serde_through_fields!(IruConfig, IruFields, ProviderKind::Iru);

/// SimpleMDM: API Secret Access Key, fixed endpoint.
///
/// Built by [`SimpleMdmConfig::new`] or deserialised (both run the same checks).
#[derive(Clone, Deserialize)]
#[serde(try_from = "SimpleMdmFields")]
#[non_exhaustive]
pub struct SimpleMdmConfig {
    /// The API secret access key.
    pub api_key: SecretString,
    /// Overrides `https://a.simplemdm.com` (sandboxes and tests).
    pub base_url: Option<Url>,
    /// The name of the custom attribute that holds the assigned user, if the embedder uses one
    /// (SimpleMDM has no assigned-user field). Off by default: the display name is then the device name.
    pub user_attribute: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct SimpleMdmFields {
    #[serde(default)]
    api_key: Option<SecretField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_attribute: Option<String>,
}

impl SimpleMdmConfig {
    /// A configuration for the fixed endpoint.
    pub fn new(api_key: impl Into<String>) -> Result<Self> {
        SimpleMdmConfig::try_from(SimpleMdmFields {
            api_key: Some(SecretField::new(api_key.into())),
            base_url: None,
            user_attribute: None,
        })
    }

    /// The API base in force.
    pub fn api_base(&self) -> Url {
        self.base_url
            .clone()
            .unwrap_or_else(|| fixed(SIMPLEMDM_ENDPOINT))
    }

    fn from_fields(f: SimpleMdmFields) -> Result<Self> {
        Ok(SimpleMdmConfig {
            api_key: required_secret("API Secret Access Key", f.api_key)?,
            base_url: override_url(f.base_url.as_deref())?,
            user_attribute: optional_text(f.user_attribute),
        })
    }

    fn fields(&self, secrets: Secrets) -> SimpleMdmFields {
        SimpleMdmFields {
            api_key: Some(SecretField::of(&self.api_key, secrets)),
            base_url: self.base_url.as_ref().map(Url::to_string),
            user_attribute: self.user_attribute.clone(),
        }
    }
}

serde_through_fields!(SimpleMdmConfig, SimpleMdmFields, ProviderKind::SimpleMdm);

/// Fleet: Host, API Token.
///
/// Built by [`FleetConfig::new`] or deserialised (both run the same checks).
#[derive(Clone, Deserialize)]
#[serde(try_from = "FleetFields")]
#[non_exhaustive]
pub struct FleetConfig {
    /// The Fleet server, e.g. `https://fleet.example.com/`.
    pub base_url: Url,
    /// The API token (preferably of an API-only user: another login of the same user revokes it).
    pub api_token: SecretString,
}

#[derive(Serialize, Deserialize)]
struct FleetFields {
    #[serde(default, alias = "host")]
    base_url: String,
    #[serde(default)]
    api_token: Option<SecretField>,
}

impl FleetConfig {
    /// Validates and normalises what a person enters.
    pub fn new(host: &str, api_token: impl Into<String>) -> Result<Self> {
        FleetConfig::try_from(FleetFields {
            base_url: host.to_owned(),
            api_token: Some(SecretField::new(api_token.into())),
        })
    }

    fn from_fields(f: FleetFields) -> Result<Self> {
        Ok(FleetConfig {
            base_url: parse_base_url(&f.base_url, FLEET_API_SUFFIXES)?,
            api_token: required_secret("API Token", f.api_token)?,
        })
    }

    fn fields(&self, secrets: Secrets) -> FleetFields {
        FleetFields {
            base_url: self.base_url.to_string(),
            api_token: Some(SecretField::of(&self.api_token, secrets)),
        }
    }
}

serde_through_fields!(FleetConfig, FleetFields, ProviderKind::Fleet);

/// JumpCloud: API Token, fixed endpoint per region, optional organisation for multi-tenant admins.
///
/// Built by [`JumpCloudConfig::new`] or deserialised (both run the same checks).
#[derive(Clone, Deserialize)]
#[serde(try_from = "JumpCloudFields")]
#[non_exhaustive]
pub struct JumpCloudConfig {
    /// The API key.
    pub api_token: SecretString,
    /// The data-centre region.
    pub region: JumpCloudRegion,
    /// The organisation to act on (`x-org-id`), for administrators of several organisations. Blank
    /// counts as none.
    pub org_id: Option<String>,
    /// Overrides the region's console host (sandboxes and tests).
    pub base_url: Option<Url>,
}

#[derive(Serialize, Deserialize)]
struct JumpCloudFields {
    #[serde(default)]
    api_token: Option<SecretField>,
    #[serde(default)]
    region: JumpCloudRegion,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    org_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base_url: Option<String>,
}

impl JumpCloudConfig {
    /// A configuration for the US region.
    pub fn new(api_token: impl Into<String>) -> Result<Self> {
        JumpCloudConfig::try_from(JumpCloudFields {
            api_token: Some(SecretField::new(api_token.into())),
            region: JumpCloudRegion::Us,
            org_id: None,
            base_url: None,
        })
    }

    /// The API base in force (the console host; the API lives under `/api`).
    pub fn api_base(&self) -> Url {
        self.base_url
            .clone()
            .unwrap_or_else(|| fixed(self.region.api_root()))
    }

    fn from_fields(f: JumpCloudFields) -> Result<Self> {
        Ok(JumpCloudConfig {
            api_token: required_secret("API Token", f.api_token)?,
            region: f.region,
            org_id: optional_text(f.org_id),
            base_url: override_url(f.base_url.as_deref())?,
        })
    }

    fn fields(&self, secrets: Secrets) -> JumpCloudFields {
        JumpCloudFields {
            api_token: Some(SecretField::of(&self.api_token, secrets)),
            region: self.region,
            org_id: self.org_id.clone(),
            base_url: self.base_url.as_ref().map(Url::to_string),
        }
    }
}

serde_through_fields!(JumpCloudConfig, JumpCloudFields, ProviderKind::JumpCloud);

/// Microsoft Intune: Tenant ID, Client ID, Client Secret, national cloud.
///
/// Built by [`IntuneConfig::new`] or deserialised (both run the same checks).
#[derive(Clone, Deserialize)]
#[serde(try_from = "IntuneFields")]
#[non_exhaustive]
pub struct IntuneConfig {
    /// The Entra tenant, as a GUID or a verified domain.
    pub tenant_id: String,
    /// The app registration's application (client) ID.
    pub client_id: String,
    /// The client secret's value (not its ID).
    pub client_secret: SecretString,
    /// The national cloud.
    pub cloud: IntuneCloud,
    /// Overrides the cloud's Graph root (sandboxes and tests).
    pub graph_url: Option<Url>,
    /// Overrides the cloud's Entra login host (sandboxes and tests).
    pub login_url: Option<Url>,
}

#[derive(Serialize, Deserialize)]
struct IntuneFields {
    #[serde(default)]
    tenant_id: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: Option<SecretField>,
    #[serde(default)]
    cloud: IntuneCloud,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    graph_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    login_url: Option<String>,
}

impl IntuneConfig {
    /// A configuration for the global cloud.
    pub fn new(tenant_id: &str, client_id: &str, client_secret: impl Into<String>) -> Result<Self> {
        IntuneConfig::try_from(IntuneFields {
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: Some(SecretField::new(client_secret.into())),
            cloud: IntuneCloud::Global,
            graph_url: None,
            login_url: None,
        })
    }

    /// The Graph root in force (without `/v1.0`).
    pub fn graph_base(&self) -> Url {
        self.graph_url
            .clone()
            .unwrap_or_else(|| fixed(self.cloud.graph_root()))
    }

    /// The Entra login host in force.
    pub fn login_base(&self) -> Url {
        self.login_url
            .clone()
            .unwrap_or_else(|| fixed(self.cloud.login_host()))
    }

    fn from_fields(f: IntuneFields) -> Result<Self> {
        Ok(IntuneConfig {
            tenant_id: required("Tenant ID", &f.tenant_id)?,
            client_id: required("Client ID", &f.client_id)?,
            client_secret: required_secret("Client Secret", f.client_secret)?,
            cloud: f.cloud,
            graph_url: override_url(f.graph_url.as_deref())?,
            login_url: override_url(f.login_url.as_deref())?,
        })
    }

    fn fields(&self, secrets: Secrets) -> IntuneFields {
        IntuneFields {
            tenant_id: self.tenant_id.clone(),
            client_id: self.client_id.clone(),
            client_secret: Some(SecretField::of(&self.client_secret, secrets)),
            cloud: self.cloud,
            graph_url: self.graph_url.as_ref().map(Url::to_string),
            login_url: self.login_url.as_ref().map(Url::to_string),
        }
    }
}

serde_through_fields!(IntuneConfig, IntuneFields, ProviderKind::Intune);

/// The configuration of any provider: what a workspace saves (encrypted) and what the factory builds a
/// provider from. The serde form is tagged by `provider` (`{"provider":"jamf", ...}`); the default
/// `Serialize` redacts secrets (see the [module docs](self)).
#[derive(Clone, Deserialize)]
#[serde(try_from = "ProviderFields")]
#[non_exhaustive]
pub enum ProviderConfig {
    /// Jamf Pro.
    Jamf(JamfConfig),
    /// Iru, formerly Kandji.
    Iru(IruConfig),
    /// SimpleMDM.
    SimpleMdm(SimpleMdmConfig),
    /// Fleet.
    Fleet(FleetConfig),
    /// JumpCloud.
    JumpCloud(JumpCloudConfig),
    /// Microsoft Intune.
    Intune(IntuneConfig),
}

/// The serde form of [`ProviderConfig`].
#[derive(Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
enum ProviderFields {
    Jamf(JamfFields),
    #[serde(alias = "kandji")]
    Iru(IruFields),
    #[serde(rename = "simplemdm")]
    SimpleMdm(SimpleMdmFields),
    Fleet(FleetFields),
    #[serde(rename = "jumpcloud")]
    JumpCloud(JumpCloudFields),
    Intune(IntuneFields),
}

impl TryFrom<ProviderFields> for ProviderConfig {
    type Error = Error;
    fn try_from(fields: ProviderFields) -> Result<Self> {
        Ok(match fields {
            ProviderFields::Jamf(f) => ProviderConfig::Jamf(f.try_into()?),
            ProviderFields::Iru(f) => ProviderConfig::Iru(f.try_into()?),
            ProviderFields::SimpleMdm(f) => ProviderConfig::SimpleMdm(f.try_into()?),
            ProviderFields::Fleet(f) => ProviderConfig::Fleet(f.try_into()?),
            ProviderFields::JumpCloud(f) => ProviderConfig::JumpCloud(f.try_into()?),
            ProviderFields::Intune(f) => ProviderConfig::Intune(f.try_into()?),
        })
    }
}

impl Serialize for ProviderConfig {
    /// The tagged form with every secret written as `"[redacted]"`; see [`ProviderConfig::expose_secrets`].
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.fields(Secrets::Redacted).serialize(s)
    }
}

/// A [`ProviderConfig`] whose `Serialize` writes the secrets **in clear**, from
/// [`ProviderConfig::expose_secrets`]. Only for code that encrypts the result at once (a vault); its
/// `Debug` still redacts.
pub struct ExposedSecrets<'a>(&'a ProviderConfig);

impl Serialize for ExposedSecrets<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.fields(Secrets::Exposed).serialize(s)
    }
}

impl fmt::Debug for ExposedSecrets<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ExposedSecrets").field(self.0).finish()
    }
}

impl ProviderConfig {
    /// Which provider this configures.
    pub fn kind(&self) -> ProviderKind {
        match self {
            ProviderConfig::Jamf(_) => ProviderKind::Jamf,
            ProviderConfig::Iru(_) => ProviderKind::Iru,
            ProviderConfig::SimpleMdm(_) => ProviderKind::SimpleMdm,
            ProviderConfig::Fleet(_) => ProviderKind::Fleet,
            ProviderConfig::JumpCloud(_) => ProviderKind::JumpCloud,
            ProviderConfig::Intune(_) => ProviderKind::Intune,
        }
    }

    /// Runs the checks and normalisation of the constructors again (a missing credential, a bad host, a
    /// trailing API path), for a configuration whose public fields were changed after it was built.
    /// Providers and `MdmSync::connect` call it before any request.
    ///
    /// ```
    /// use mdmkit_core::{JamfConfig, ProviderConfig};
    ///
    /// let mut jamf = JamfConfig::new("acme.jamfcloud.com", "id", "secret")?;
    /// jamf.client_id = "  ".into();
    /// let err = ProviderConfig::Jamf(jamf).validated().unwrap_err();
    /// assert_eq!(err.to_string(), "Jamf: API Client ID is required");
    /// # Ok::<(), mdmkit_core::Error>(())
    /// ```
    pub fn validated(self) -> Result<Self> {
        Ok(match self {
            ProviderConfig::Jamf(c) => ProviderConfig::Jamf(c.validated()?),
            ProviderConfig::Iru(c) => ProviderConfig::Iru(c.validated()?),
            ProviderConfig::SimpleMdm(c) => ProviderConfig::SimpleMdm(c.validated()?),
            ProviderConfig::Fleet(c) => ProviderConfig::Fleet(c.validated()?),
            ProviderConfig::JumpCloud(c) => ProviderConfig::JumpCloud(c.validated()?),
            ProviderConfig::Intune(c) => ProviderConfig::Intune(c.validated()?),
        })
    }

    /// This configuration for `Serialize` **with its secrets in clear**: the one way to serialise them,
    /// for a vault that encrypts the result (`mdmkit-sync`'s does). Anything else (logs, API answers,
    /// caches) serialises the configuration itself, which redacts them.
    pub fn expose_secrets(&self) -> ExposedSecrets<'_> {
        ExposedSecrets(self)
    }

    fn fields(&self, secrets: Secrets) -> ProviderFields {
        match self {
            ProviderConfig::Jamf(c) => ProviderFields::Jamf(c.fields(secrets)),
            ProviderConfig::Iru(c) => ProviderFields::Iru(c.fields(secrets)),
            ProviderConfig::SimpleMdm(c) => ProviderFields::SimpleMdm(c.fields(secrets)),
            ProviderConfig::Fleet(c) => ProviderFields::Fleet(c.fields(secrets)),
            ProviderConfig::JumpCloud(c) => ProviderFields::JumpCloud(c.fields(secrets)),
            ProviderConfig::Intune(c) => ProviderFields::Intune(c.fields(secrets)),
        }
    }

    /// The link to a device's record in the provider's console (R7), computed without any request.
    pub fn device_url(&self, device_id: &str) -> Option<Url> {
        match self {
            ProviderConfig::Jamf(c) => links::jamf_computer(&c.base_url, device_id),
            ProviderConfig::Iru(c) => links::iru_device(&c.base_url, device_id),
            ProviderConfig::SimpleMdm(c) => links::simplemdm_device(&c.api_base(), device_id),
            ProviderConfig::Fleet(c) => links::fleet_host(&c.base_url, device_id),
            ProviderConfig::JumpCloud(c) => links::jumpcloud_device(&c.api_base(), device_id),
            ProviderConfig::Intune(c) => links::intune_device(c.cloud, device_id),
        }
    }

    /// A stable, non-secret name for the MDM account this configuration talks to: provider, endpoint and
    /// tenant or organisation where there is one. A rotated secret keeps the key; another server or
    /// tenant of the same provider does not (group sync links groups to it).
    pub fn account_key(&self) -> String {
        let kind = self.kind().id();
        match self {
            ProviderConfig::Jamf(c) => format!("{kind}:{}", c.base_url),
            ProviderConfig::Iru(c) => format!("{kind}:{}", c.base_url),
            ProviderConfig::SimpleMdm(c) => format!("{kind}:{}", c.api_base()),
            ProviderConfig::Fleet(c) => format!("{kind}:{}", c.base_url),
            ProviderConfig::JumpCloud(c) => format!(
                "{kind}:{}#{}",
                c.api_base(),
                c.org_id.as_deref().unwrap_or_default()
            ),
            ProviderConfig::Intune(c) => format!(
                "{kind}:{}#{}",
                c.graph_base(),
                c.tenant_id.to_ascii_lowercase()
            ),
        }
    }

    /// The credentials that are not secrets (a host, a client or tenant ID) with their values, in the
    /// order of [`ProviderKind::credential_fields`]: what a settings page may show back, so a person
    /// changing a secret types only the secret again. Secrets are never among them.
    pub fn shown_credentials(&self) -> Vec<(CredentialField, String)> {
        self.kind()
            .credential_fields()
            .iter()
            .filter(|field| !field.secret)
            .filter_map(|field| {
                let value = match (self, field.key) {
                    (ProviderConfig::Jamf(c), "host") => c.base_url.to_string(),
                    (ProviderConfig::Jamf(c), "client_id") => c.client_id.clone(),
                    (ProviderConfig::Iru(c), "host") => c.base_url.to_string(),
                    (ProviderConfig::Fleet(c), "host") => c.base_url.to_string(),
                    (ProviderConfig::Intune(c), "tenant_id") => c.tenant_id.clone(),
                    (ProviderConfig::Intune(c), "client_id") => c.client_id.clone(),
                    _ => return None,
                };
                Some((*field, value))
            })
            .collect()
    }

    /// Whether two configurations talk to the same account with the same credentials. Used to decide when
    /// stored MDM metadata must be cleared (R9); compares secrets without exposing them elsewhere.
    pub fn same_connection(&self, other: &ProviderConfig) -> bool {
        fn s(a: &SecretString, b: &SecretString) -> bool {
            a.expose_secret() == b.expose_secret()
        }
        match (self, other) {
            (ProviderConfig::Jamf(a), ProviderConfig::Jamf(b)) => {
                a.base_url == b.base_url
                    && a.client_id == b.client_id
                    && s(&a.client_secret, &b.client_secret)
            }
            (ProviderConfig::Iru(a), ProviderConfig::Iru(b)) => {
                a.base_url == b.base_url && s(&a.api_token, &b.api_token)
            }
            (ProviderConfig::SimpleMdm(a), ProviderConfig::SimpleMdm(b)) => {
                a.api_base() == b.api_base()
                    && s(&a.api_key, &b.api_key)
                    && a.user_attribute == b.user_attribute
            }
            (ProviderConfig::Fleet(a), ProviderConfig::Fleet(b)) => {
                a.base_url == b.base_url && s(&a.api_token, &b.api_token)
            }
            (ProviderConfig::JumpCloud(a), ProviderConfig::JumpCloud(b)) => {
                a.api_base() == b.api_base()
                    && a.org_id == b.org_id
                    && s(&a.api_token, &b.api_token)
            }
            (ProviderConfig::Intune(a), ProviderConfig::Intune(b)) => {
                a.graph_base() == b.graph_base()
                    && a.login_base() == b.login_base()
                    && a.tenant_id == b.tenant_id
                    && a.client_id == b.client_id
                    && s(&a.client_secret, &b.client_secret)
            }
            _ => false,
        }
    }
}

fn fixed(url: &str) -> Url {
    parse_base_url(url, &[]).expect("built-in endpoints are valid URLs")
}

fn required(label: &str, value: &str) -> Result<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Error::config(format!("{label} is required")));
    }
    Ok(value.to_owned())
}

fn required_secret(label: &str, value: Option<SecretField>) -> Result<SecretString> {
    let secret = match value {
        None => return Err(Error::config(format!("{label} is required"))),
        Some(SecretField::Redacted) => {
            return Err(Error::config(format!(
                "{label} is the redaction marker {REDACTED}: this configuration was serialised without its secrets (only ProviderConfig::expose_secrets writes them)"
            )))
        }
        Some(SecretField::Value(secret)) => secret,
    };
    let value = secret.expose_secret();
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Error::config(format!("{label} is required")));
    }
    if trimmed.len() == value.len() {
        return Ok(secret);
    }
    Ok(SecretString::from(trimmed.to_owned()))
}

/// An optional text: trimmed, and blank counts as absent.
fn optional_text(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// An endpoint override (sandboxes and tests): the same URL rules as a host, no API path stripped.
fn override_url(value: Option<&str>) -> Result<Option<Url>> {
    value.map(|url| parse_base_url(url, &[])).transpose()
}

impl fmt::Debug for JamfConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JamfConfig")
            .field("base_url", &self.base_url.as_str())
            .field("client_id", &self.client_id)
            .field("client_secret", &REDACTED)
            .finish()
    }
}

impl fmt::Debug for IruConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IruConfig")
            .field("base_url", &self.base_url.as_str())
            .field("api_token", &REDACTED)
            .field("custom_endpoint", &self.custom_endpoint)
            .finish()
    }
}

impl fmt::Debug for SimpleMdmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimpleMdmConfig")
            .field("api_key", &REDACTED)
            .field("base_url", &self.base_url.as_ref().map(Url::as_str))
            .field("user_attribute", &self.user_attribute)
            .finish()
    }
}

impl fmt::Debug for FleetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetConfig")
            .field("base_url", &self.base_url.as_str())
            .field("api_token", &REDACTED)
            .finish()
    }
}

impl fmt::Debug for JumpCloudConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JumpCloudConfig")
            .field("api_token", &REDACTED)
            .field("region", &self.region)
            .field("org_id", &self.org_id)
            .field("base_url", &self.base_url.as_ref().map(Url::as_str))
            .finish()
    }
}

impl fmt::Debug for IntuneConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntuneConfig")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &REDACTED)
            .field("cloud", &self.cloud)
            .field("graph_url", &self.graph_url.as_ref().map(Url::as_str))
            .field("login_url", &self.login_url.as_ref().map(Url::as_str))
            .finish()
    }
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProviderConfig::Jamf(c) => c.fmt(f),
            ProviderConfig::Iru(c) => c.fmt(f),
            ProviderConfig::SimpleMdm(c) => c.fmt(f),
            ProviderConfig::Fleet(c) => c.fmt(f),
            ProviderConfig::JumpCloud(c) => c.fmt(f),
            ProviderConfig::Intune(c) => c.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-VALUE-do-not-print";

    fn all_configs() -> Vec<ProviderConfig> {
        let mut sm = SimpleMdmConfig::new(SECRET).unwrap();
        sm.user_attribute = Some("owner".into());
        let mut jc = JumpCloudConfig::new(SECRET).unwrap();
        jc.org_id = Some("org1".into());
        vec![
            ProviderConfig::Jamf(JamfConfig::new("acme.jamfcloud.com", "cid", SECRET).unwrap()),
            ProviderConfig::Iru(IruConfig::new("acme.api.kandji.io", SECRET).unwrap()),
            ProviderConfig::SimpleMdm(sm),
            ProviderConfig::Fleet(FleetConfig::new("fleet.example.com", SECRET).unwrap()),
            ProviderConfig::JumpCloud(jc),
            ProviderConfig::Intune(
                IntuneConfig::new("contoso.onmicrosoft.com", "app", SECRET).unwrap(),
            ),
        ]
    }

    #[test]
    fn shown_credentials_are_the_non_secret_fields_and_rebuild_the_same_connection() {
        for config in all_configs() {
            let kind = config.kind();
            let shown = config.shown_credentials();
            let keys: Vec<&str> = shown.iter().map(|(f, _)| f.key).collect();
            let expected: Vec<&str> = kind
                .credential_fields()
                .iter()
                .filter(|f| !f.secret)
                .map(|f| f.key)
                .collect();
            assert_eq!(keys, expected, "{kind:?}");
            assert!(shown.iter().all(|(_, v)| !v.contains(SECRET)));
            if shown.is_empty() {
                continue;
            }
            // What a settings form posts back: the shown values and the secret typed again.
            let mut form = serde_json::Map::new();
            form.insert("provider".into(), kind.id().into());
            for (field, value) in &shown {
                form.insert(field.key.into(), value.clone().into());
            }
            for field in kind.credential_fields().iter().filter(|f| f.secret) {
                form.insert(field.key.into(), SECRET.into());
            }
            let rebuilt: ProviderConfig =
                serde_json::from_value(serde_json::Value::Object(form)).unwrap();
            assert!(rebuilt.same_connection(&config), "{kind:?}: {shown:?}");
        }
        let jamf = &all_configs()[0];
        assert_eq!(
            jamf.shown_credentials()
                .iter()
                .map(|(f, v)| (f.label, v.as_str()))
                .collect::<Vec<_>>(),
            [
                ("Host", "https://acme.jamfcloud.com/"),
                ("API Client ID", "cid")
            ]
        );
    }

    #[test]
    fn debug_of_every_credential_type_hides_the_secret() {
        for config in all_configs() {
            let shown = format!("{config:?} {config:#?}");
            assert!(!shown.contains(SECRET), "{shown}");
            assert!(shown.contains("[redacted]"), "{shown}");
        }
    }

    #[test]
    fn default_serialize_redacts_every_secret_and_the_redacted_form_is_refused() {
        for config in all_configs() {
            for json in [
                serde_json::to_string(&config).unwrap(),
                serde_json::to_string_pretty(&config).unwrap(),
                match &config {
                    ProviderConfig::Jamf(c) => serde_json::to_string(c),
                    ProviderConfig::Iru(c) => serde_json::to_string(c),
                    ProviderConfig::SimpleMdm(c) => serde_json::to_string(c),
                    ProviderConfig::Fleet(c) => serde_json::to_string(c),
                    ProviderConfig::JumpCloud(c) => serde_json::to_string(c),
                    ProviderConfig::Intune(c) => serde_json::to_string(c),
                }
                .unwrap(),
            ] {
                assert!(!json.contains(SECRET), "{json}");
                assert!(json.contains(REDACTED), "{json}");
            }
            let redacted = serde_json::to_string(&config).unwrap();
            assert!(redacted.contains(&format!("\"provider\":\"{}\"", config.kind().id())));
            let err = serde_json::from_str::<ProviderConfig>(&redacted)
                .unwrap_err()
                .to_string();
            assert!(err.contains("redaction marker"), "{err}");
            let exposed = format!("{:?}", config.expose_secrets());
            assert!(!exposed.contains(SECRET), "{exposed}");
        }
    }

    #[test]
    fn exposed_secrets_round_trip_for_the_vault() {
        for config in all_configs() {
            let json = serde_json::to_string(&config.expose_secrets()).unwrap();
            assert!(json.contains(SECRET), "{json}");
            assert!(json.contains(&format!("\"provider\":\"{}\"", config.kind().id())));
            let back: ProviderConfig = serde_json::from_str(&json).unwrap();
            assert!(back.same_connection(&config));
            assert_eq!(back.account_key(), config.account_key());
        }
    }

    /// What the derived `Serialize` of earlier releases wrote (and vaults sealed): still read, unchanged.
    #[test]
    fn the_earlier_serialised_form_still_deserialises() {
        let cases = [
            r#"{"provider":"jamf","base_url":"https://acme.jamfcloud.com/","client_id":"cid","client_secret":"jsecret"}"#,
            r#"{"provider":"iru","base_url":"https://acme.api.kandji.io/","api_token":"itoken"}"#,
            r#"{"provider":"simplemdm","api_key":"smkey","base_url":"http://127.0.0.1:9000/","user_attribute":"owner"}"#,
            r#"{"provider":"simplemdm","api_key":"smkey"}"#,
            r#"{"provider":"fleet","base_url":"https://fleet.example.com/","api_token":"ftoken"}"#,
            r#"{"provider":"jumpcloud","api_token":"jctoken","region":"eu","org_id":"org1"}"#,
            r#"{"provider":"jumpcloud","api_token":"jctoken","region":"us"}"#,
            r#"{"provider":"intune","tenant_id":"contoso.onmicrosoft.com","client_id":"app","client_secret":"itsecret","cloud":"usgov","graph_url":"http://127.0.0.1:1/"}"#,
            r#"{"provider":"intune","tenant_id":"t","client_id":"c","client_secret":"s","cloud":"global"}"#,
        ];
        for old in cases {
            let config: ProviderConfig =
                serde_json::from_str(old).unwrap_or_else(|e| panic!("{old}: {e}"));
            // Written back with secrets, the form is byte for byte what was read.
            assert_eq!(
                serde_json::to_string(&config.expose_secrets()).unwrap(),
                old
            );
        }
    }

    /// Constructor, `Deserialize` and `validated` refuse the same input with the same message.
    #[test]
    fn every_way_of_building_runs_the_same_checks() {
        fn mutated(f: impl FnOnce(&mut ProviderConfig)) -> ProviderConfig {
            let mut c =
                ProviderConfig::Jamf(JamfConfig::new("a.jamfcloud.com", "id", "s").unwrap());
            f(&mut c);
            c
        }
        let cases: Vec<(Result<ProviderConfig>, &str, ProviderConfig, &str)> = vec![
            (
                JamfConfig::new("acme.jamfcloud.com", "", "s").map(ProviderConfig::Jamf),
                r#"{"provider":"jamf","host":"acme.jamfcloud.com","client_id":"","client_secret":"s"}"#,
                mutated(|c| {
                    if let ProviderConfig::Jamf(j) = c {
                        j.client_id = " ".into();
                    }
                }),
                "Jamf: API Client ID is required",
            ),
            (
                JamfConfig::new("acme.jamfcloud.com", "id", " ").map(ProviderConfig::Jamf),
                r#"{"provider":"jamf","host":"acme.jamfcloud.com","client_id":"id"}"#,
                mutated(|c| {
                    if let ProviderConfig::Jamf(j) = c {
                        j.client_secret = SecretString::from("");
                    }
                }),
                "Jamf: API Client Secret is required",
            ),
            (
                FleetConfig::new("ftp://fleet.example.com", "t").map(ProviderConfig::Fleet),
                r#"{"provider":"fleet","base_url":"ftp://fleet.example.com","api_token":"t"}"#,
                {
                    let mut f = FleetConfig::new("fleet.example.com", "t").unwrap();
                    f.base_url = Url::parse("ftp://fleet.example.com").unwrap();
                    ProviderConfig::Fleet(f)
                },
                "uses the scheme ftp://",
            ),
            (
                IruConfig::new("evil.example.com", "t").map(ProviderConfig::Iru),
                r#"{"provider":"iru","base_url":"https://evil.example.com/","api_token":"t"}"#,
                {
                    let mut i = IruConfig::new("acme.api.kandji.io", "t").unwrap();
                    i.base_url = Url::parse("https://evil.example.com/").unwrap();
                    ProviderConfig::Iru(i)
                },
                "is not an Iru API host",
            ),
            (
                IntuneConfig::new("", "c", "s").map(ProviderConfig::Intune),
                r#"{"provider":"intune","client_id":"c","client_secret":"s"}"#,
                {
                    let mut i = IntuneConfig::new("t", "c", "s").unwrap();
                    i.tenant_id = "\t".into();
                    ProviderConfig::Intune(i)
                },
                "Microsoft Intune: Tenant ID is required",
            ),
            (
                SimpleMdmConfig::new("").map(ProviderConfig::SimpleMdm),
                r#"{"provider":"simplemdm","api_key":"  "}"#,
                {
                    let mut c = SimpleMdmConfig::new("k").unwrap();
                    c.api_key = SecretString::from(" ");
                    ProviderConfig::SimpleMdm(c)
                },
                "SimpleMDM: API Secret Access Key is required",
            ),
            (
                JumpCloudConfig::new("").map(ProviderConfig::JumpCloud),
                r#"{"provider":"jumpcloud","api_token":""}"#,
                {
                    let mut c = JumpCloudConfig::new("k").unwrap();
                    c.api_token = SecretString::from("");
                    ProviderConfig::JumpCloud(c)
                },
                "JumpCloud: API Token is required",
            ),
        ];
        for (built, json, mutated, needle) in cases {
            let from_constructor = built.unwrap_err().to_string();
            let from_json = serde_json::from_str::<ProviderConfig>(json)
                .unwrap_err()
                .to_string();
            let from_validated = mutated.validated().unwrap_err().to_string();
            assert!(from_constructor.contains(needle), "{from_constructor}");
            assert!(from_json.contains(needle), "{json}: {from_json}");
            assert!(from_validated.contains(needle), "{from_validated}");
        }
    }

    #[test]
    fn deserialising_normalises_like_the_constructor() {
        let json = r#"{"provider":"jamf","base_url":"HTTPS://Acme.jamfcloud.com:443/api/v1/","client_id":" id ","client_secret":" s "}"#;
        let ProviderConfig::Jamf(c) = serde_json::from_str::<ProviderConfig>(json).unwrap() else {
            panic!("not Jamf")
        };
        assert_eq!(c.base_url.as_str(), "https://acme.jamfcloud.com/");
        assert_eq!(c.client_id, "id");
        assert_eq!(c.client_secret.expose_secret(), "s");

        let json = r#"{"provider":"jumpcloud","api_token":"k","org_id":"  ","base_url":"http://127.0.0.1:9"}"#;
        let ProviderConfig::JumpCloud(c) = serde_json::from_str::<ProviderConfig>(json).unwrap()
        else {
            panic!("not JumpCloud")
        };
        assert_eq!(c.org_id, None);
        assert_eq!(c.api_base().as_str(), "http://127.0.0.1:9/");

        for bad in [
            r#"{"provider":"simplemdm","api_key":"k","base_url":"ftp://x.example"}"#,
            r#"{"provider":"jumpcloud","api_token":"k","base_url":"https://u:p@x.example"}"#,
            r#"{"provider":"intune","tenant_id":"t","client_id":"c","client_secret":"s","login_url":"https://x.example/?a=1"}"#,
        ] {
            let err = serde_json::from_str::<ProviderConfig>(bad).unwrap_err();
            assert!(err.to_string().contains("host"), "{bad}: {err}");
        }

        // `validated` normalises a mutated configuration the same way, and is idempotent.
        let mut jamf = JamfConfig::new("acme.jamfcloud.com", "id", "s").unwrap();
        jamf.base_url = Url::parse("https://acme.jamfcloud.com/api/v1").unwrap();
        let jamf = jamf.validated().unwrap();
        assert_eq!(jamf.base_url.as_str(), "https://acme.jamfcloud.com/");
        assert_eq!(jamf.clone().validated().unwrap().base_url, jamf.base_url);
    }

    #[test]
    fn iru_sandbox_endpoints_survive_serde_but_tenant_hosts_are_checked() {
        let sandbox = IruConfig::with_base_url("http://127.0.0.1:7000", SECRET).unwrap();
        assert!(sandbox.custom_endpoint);
        let config = ProviderConfig::Iru(sandbox);
        let json = serde_json::to_string(&config.expose_secrets()).unwrap();
        assert!(json.contains(r#""custom_endpoint":true"#), "{json}");
        let back: ProviderConfig = serde_json::from_str(&json).unwrap();
        assert!(back.same_connection(&config));

        let tenant = ProviderConfig::Iru(IruConfig::new("acme.api.iru.com", "t").unwrap());
        let json = serde_json::to_string(&tenant).unwrap();
        assert!(!json.contains("custom_endpoint"), "{json}");

        let err = serde_json::from_str::<ProviderConfig>(
            r#"{"provider":"iru","base_url":"http://127.0.0.1:7000/","api_token":"t"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("TENANT.api.kandji.io"), "{err}");
        // The old name of the provider is accepted as a tag.
        let kandji: ProviderConfig = serde_json::from_str(
            r#"{"provider":"kandji","host":"acme.api.kandji.io","api_token":"t"}"#,
        )
        .unwrap();
        assert_eq!(kandji.kind(), ProviderKind::Iru);
    }

    #[test]
    fn malformed_secrets_are_refused_without_their_value() {
        for json in [
            r#"{"provider":"fleet","host":"f.example.com","api_token":31415926535}"#,
            r#"{"provider":"fleet","host":"f.example.com","api_token":true}"#,
            r#"{"provider":"fleet","host":"f.example.com","api_token":-31415926535}"#,
            r#"{"provider":"fleet","host":"f.example.com","api_token":3.1415926535}"#,
        ] {
            let err = serde_json::from_str::<ProviderConfig>(json)
                .unwrap_err()
                .to_string();
            assert!(err.contains("a secret must be a string"), "{err}");
            assert!(
                !err.contains("1415926535") && !err.contains("true"),
                "{err}"
            );
        }
    }

    #[test]
    fn host_parsing_accepts_what_people_paste() {
        let jamf = |h: &str| JamfConfig::new(h, "id", "s").map(|c| c.base_url.to_string());
        for input in [
            "acme.jamfcloud.com",
            "https://acme.jamfcloud.com",
            "https://acme.jamfcloud.com/",
            "  https://acme.jamfcloud.com/api  ",
            "https://acme.jamfcloud.com/api/v1/",
            "HTTPS://ACME.jamfcloud.com:443/",
        ] {
            assert_eq!(
                jamf(input).unwrap(),
                "https://acme.jamfcloud.com/",
                "{input}"
            );
        }
        assert_eq!(
            jamf("jamf.corp.example:8443").unwrap(),
            "https://jamf.corp.example:8443/"
        );
        assert_eq!(
            jamf("https://corp.example/jamf/api").unwrap(),
            "https://corp.example/jamf/"
        );
        // Repeated API paths are all stripped, so parsing a parsed URL changes nothing.
        assert_eq!(
            jamf("https://corp.example/api/API/v1").unwrap(),
            "https://corp.example/"
        );
    }

    #[test]
    fn host_parsing_rejects_the_rest_clearly() {
        for (input, needle) in [
            ("", "empty"),
            ("https://acme.jamfcloud.com/#top", "fragment"),
            ("acme jamfcloud.com", "spaces"),
            ("ftp://acme.jamfcloud.com", "scheme"),
            ("https://user:pw@acme.jamfcloud.com", "user name"),
            ("https://acme.jamfcloud.com/?x=1", "query"),
            ("https://", "not a valid URL"),
            ("https://exa mple", "spaces"),
        ] {
            let err = parse_base_url(input, &["/api"]).unwrap_err();
            assert!(err.to_string().contains(needle), "{input}: {err}");
            assert_eq!(err.category(), crate::Category::NotFound);
        }
    }

    #[test]
    fn iru_hosts_follow_the_documented_forms() {
        for ok in [
            "acme.api.kandji.io",
            "https://acme.api.eu.kandji.io/",
            "acme.api.iru.com/api/v1",
            "https://acme.api.eu.iru.com/api/v1/",
        ] {
            IruConfig::new(ok, "t").unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "acme.kandji.io",
            "api.kandji.io",
            "acme.clients.us-1.kandji.io",
            "acme.api.kandji.io.evil.com",
            "example.com",
        ] {
            let err = IruConfig::new(bad, "t").unwrap_err().to_string();
            assert!(err.contains("TENANT.api.kandji.io"), "{bad}: {err}");
        }
    }

    #[test]
    fn missing_credentials_are_named() {
        let err = JamfConfig::new("acme.jamfcloud.com", " ", "s").unwrap_err();
        assert!(err.to_string().contains("API Client ID"));
        let err = IntuneConfig::new("t", "c", "  ").unwrap_err();
        assert!(err.to_string().contains("Client Secret"));
    }

    #[test]
    fn fixed_endpoints_and_overrides() {
        let mut sm = SimpleMdmConfig::new("k").unwrap();
        assert_eq!(sm.api_base().as_str(), "https://a.simplemdm.com/");
        sm.base_url = Some(parse_base_url("http://127.0.0.1:9000", &[]).unwrap());
        assert_eq!(sm.api_base().as_str(), "http://127.0.0.1:9000/");

        let mut jc = JumpCloudConfig::new("k").unwrap();
        jc.region = JumpCloudRegion::Eu;
        assert_eq!(jc.api_base().as_str(), "https://console.eu.jumpcloud.com/");

        let mut it = IntuneConfig::new("t", "c", "s").unwrap();
        it.cloud = IntuneCloud::China;
        assert_eq!(
            it.graph_base().as_str(),
            "https://microsoftgraph.chinacloudapi.cn/"
        );
        assert_eq!(it.login_base().as_str(), "https://login.chinacloudapi.cn/");
        it.graph_url = Some(parse_base_url("http://127.0.0.1:1", &[]).unwrap());
        it.login_url = Some(parse_base_url("http://127.0.0.1:2", &[]).unwrap());
        assert_eq!(it.graph_base().port(), Some(1));
        assert_eq!(it.login_base().port(), Some(2));
    }

    #[test]
    fn a_changed_secret_is_a_different_connection() {
        let a = ProviderConfig::Fleet(FleetConfig::new("fleet.example.com", "one").unwrap());
        let b =
            ProviderConfig::Fleet(FleetConfig::new("https://fleet.example.com/", "two").unwrap());
        let c =
            ProviderConfig::Fleet(FleetConfig::new("https://fleet.example.com/", "one").unwrap());
        assert!(!a.same_connection(&b));
        assert!(a.same_connection(&c));
    }
}
