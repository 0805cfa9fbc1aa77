//! Typed, serialisable provider configurations (credentials plus endpoint), and host parsing.
//!
//! Secrets are held as [`SecretString`]: `Debug` never shows them, and they are serialised only so that a
//! vault can encrypt the whole configuration (see `mdmkit-sync`). Never log a serialised configuration.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

use crate::error::{Error, Result};
use crate::kind::{IntuneCloud, JumpCloudRegion, ProviderKind, SIMPLEMDM_ENDPOINT};
use crate::links;

/// Serde helpers for secrets: written in clear only into the serialised configuration a vault encrypts.
pub mod secret_serde {
    use super::*;

    /// Serialises a secret's value.
    pub fn serialize<S: Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(secret.expose_secret())
    }

    /// Deserialises a secret.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
        let value = String::deserialize(d)?;
        Ok(SecretString::from(value))
    }
}

/// Parses a base URL the way people paste it: with or without `https://`, with a trailing `/`, with a
/// trailing API path from `api_suffixes` (e.g. `/api/v1`, `/api`), with a port.
///
/// The result always ends in `/`, so request paths join below it. Rejected, with a message that says why:
/// empty input, spaces, schemes other than `http`/`https`, user names or passwords, query strings and
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
                "the host {trimmed:?} uses the scheme {other}://; only https:// is supported"
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
    for suffix in api_suffixes {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(&suffix.to_ascii_lowercase()) {
            path.truncate(path.len() - suffix.len());
            path = path.trim_end_matches('/').to_owned();
            break;
        }
    }
    url.set_path(&format!("{path}/"));
    Ok(url)
}

/// Jamf Pro: Host, API Client ID, API Client Secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct JamfConfig {
    /// The Jamf Pro server, e.g. `https://acme.jamfcloud.com/` (ends in `/`).
    pub base_url: Url,
    /// The API client's ID.
    pub client_id: String,
    /// The API client's secret.
    #[serde(with = "secret_serde")]
    pub client_secret: SecretString,
}

impl JamfConfig {
    /// Validates and normalises what a person enters.
    pub fn new(host: &str, client_id: &str, client_secret: impl Into<String>) -> Result<Self> {
        Ok(JamfConfig {
            base_url: parse_base_url(host, &["/api/v1", "/api", "/JSSResource"])?,
            client_id: required("API Client ID", client_id)?,
            client_secret: required_secret("API Client Secret", client_secret.into())?,
        })
    }
}

/// Iru, formerly Kandji: Host, API Token.
#[derive(Clone, Serialize, Deserialize)]
pub struct IruConfig {
    /// The tenant's API host, e.g. `https://acme.api.kandji.io/`.
    pub base_url: Url,
    /// The API token.
    #[serde(with = "secret_serde")]
    pub api_token: SecretString,
}

/// The host forms Iru issues, shown when a host does not match.
pub const IRU_HOST_FORMS: &str =
    "TENANT.api.kandji.io, TENANT.api.eu.kandji.io, TENANT.api.iru.com or TENANT.api.eu.iru.com";

impl IruConfig {
    /// Validates an Iru API host: one of the four documented forms (with or without scheme, trailing `/`
    /// or `/api/v1`).
    pub fn new(host: &str, api_token: impl Into<String>) -> Result<Self> {
        let base_url = parse_base_url(host, &["/api/v1", "/api"])?;
        let name = base_url.host_str().unwrap_or_default().to_ascii_lowercase();
        if links::iru_console_host(&name).is_none()
            || base_url.path() != "/"
            || base_url.port().is_some()
        {
            return Err(Error::config(format!(
                "{host:?} is not an Iru API host; expected {IRU_HOST_FORMS} (shown under Settings > Access > API token)"
            )));
        }
        Ok(IruConfig {
            base_url,
            api_token: required_secret("API Token", api_token.into())?,
        })
    }

    /// Uses any base URL (a sandbox or a test server) instead of a tenant host.
    pub fn with_base_url(base_url: &str, api_token: impl Into<String>) -> Result<Self> {
        Ok(IruConfig {
            base_url: parse_base_url(base_url, &["/api/v1", "/api"])?,
            api_token: required_secret("API Token", api_token.into())?,
        })
    }
}

/// SimpleMDM: API Secret Access Key, fixed endpoint.
#[derive(Clone, Serialize, Deserialize)]
pub struct SimpleMdmConfig {
    /// The API secret access key.
    #[serde(with = "secret_serde")]
    pub api_key: SecretString,
    /// Overrides `https://a.simplemdm.com` (sandboxes and tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<Url>,
    /// The name of the custom attribute that holds the assigned user, if the embedder uses one
    /// (SimpleMDM has no assigned-user field). Off by default: the display name is then the device name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_attribute: Option<String>,
}

impl SimpleMdmConfig {
    /// A configuration for the fixed endpoint.
    pub fn new(api_key: impl Into<String>) -> Result<Self> {
        Ok(SimpleMdmConfig {
            api_key: required_secret("API Secret Access Key", api_key.into())?,
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
}

/// Fleet: Host, API Token.
#[derive(Clone, Serialize, Deserialize)]
pub struct FleetConfig {
    /// The Fleet server, e.g. `https://fleet.example.com/`.
    pub base_url: Url,
    /// The API token (preferably of an API-only user: another login of the same user revokes it).
    #[serde(with = "secret_serde")]
    pub api_token: SecretString,
}

impl FleetConfig {
    /// Validates and normalises what a person enters.
    pub fn new(host: &str, api_token: impl Into<String>) -> Result<Self> {
        Ok(FleetConfig {
            base_url: parse_base_url(
                host,
                &["/api/v1/fleet", "/api/latest/fleet", "/api/v1", "/api"],
            )?,
            api_token: required_secret("API Token", api_token.into())?,
        })
    }
}

/// JumpCloud: API Token, fixed endpoint per region, optional organisation for multi-tenant admins.
#[derive(Clone, Serialize, Deserialize)]
pub struct JumpCloudConfig {
    /// The API key.
    #[serde(with = "secret_serde")]
    pub api_token: SecretString,
    /// The data-centre region.
    #[serde(default)]
    pub region: JumpCloudRegion,
    /// The organisation to act on (`x-org-id`), for administrators of several organisations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// Overrides the region's console host (sandboxes and tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<Url>,
}

impl JumpCloudConfig {
    /// A configuration for the US region.
    pub fn new(api_token: impl Into<String>) -> Result<Self> {
        Ok(JumpCloudConfig {
            api_token: required_secret("API Token", api_token.into())?,
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
}

/// Microsoft Intune: Tenant ID, Client ID, Client Secret, national cloud.
#[derive(Clone, Serialize, Deserialize)]
pub struct IntuneConfig {
    /// The Entra tenant, as a GUID or a verified domain.
    pub tenant_id: String,
    /// The app registration's application (client) ID.
    pub client_id: String,
    /// The client secret's value (not its ID).
    #[serde(with = "secret_serde")]
    pub client_secret: SecretString,
    /// The national cloud.
    #[serde(default)]
    pub cloud: IntuneCloud,
    /// Overrides the cloud's Graph root (sandboxes and tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_url: Option<Url>,
    /// Overrides the cloud's Entra login host (sandboxes and tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_url: Option<Url>,
}

impl IntuneConfig {
    /// A configuration for the global cloud.
    pub fn new(tenant_id: &str, client_id: &str, client_secret: impl Into<String>) -> Result<Self> {
        Ok(IntuneConfig {
            tenant_id: required("Tenant ID", tenant_id)?,
            client_id: required("Client ID", client_id)?,
            client_secret: required_secret("Client Secret", client_secret.into())?,
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
}

/// The configuration of any provider: what a workspace saves (encrypted) and what the factory builds a
/// provider from. The serde form is tagged by `provider` (`{"provider":"jamf", ...}`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
#[non_exhaustive]
pub enum ProviderConfig {
    /// Jamf Pro.
    Jamf(JamfConfig),
    /// Iru, formerly Kandji.
    Iru(IruConfig),
    /// SimpleMDM.
    #[serde(rename = "simplemdm")]
    SimpleMdm(SimpleMdmConfig),
    /// Fleet.
    Fleet(FleetConfig),
    /// JumpCloud.
    #[serde(rename = "jumpcloud")]
    JumpCloud(JumpCloudConfig),
    /// Microsoft Intune.
    Intune(IntuneConfig),
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

fn required_secret(label: &str, value: String) -> Result<SecretString> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Error::config(format!("{label} is required")));
    }
    Ok(SecretString::from(trimmed.to_owned()))
}

const REDACTED: &str = "[redacted]";

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
    fn debug_of_every_credential_type_hides_the_secret() {
        for config in all_configs() {
            let shown = format!("{config:?} {config:#?}");
            assert!(!shown.contains(SECRET), "{shown}");
            assert!(shown.contains("[redacted]"), "{shown}");
        }
    }

    #[test]
    fn serde_round_trips_secrets_for_the_vault() {
        for config in all_configs() {
            let json = serde_json::to_string(&config).unwrap();
            assert!(json.contains(&format!("\"provider\":\"{}\"", config.kind().id())));
            let back: ProviderConfig = serde_json::from_str(&json).unwrap();
            assert!(back.same_connection(&config));
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
    }

    #[test]
    fn host_parsing_rejects_the_rest_clearly() {
        for (input, needle) in [
            ("", "empty"),
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
