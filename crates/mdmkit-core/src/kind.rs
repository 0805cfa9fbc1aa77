//! The six providers, their display names (R1), credential fields and fixed endpoints (R2).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One of the MDM providers mdmkit speaks to.
///
/// The serde and [`FromStr`] form is the short id (`jamf`, `iru`, `simplemdm`, `fleet`, `jumpcloud`,
/// `intune`), which is also what the CLI's `--provider` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ProviderKind {
    /// Jamf Pro.
    Jamf,
    /// Iru, formerly Kandji.
    Iru,
    /// SimpleMDM.
    #[serde(rename = "simplemdm")]
    SimpleMdm,
    /// Fleet (fleetdm).
    Fleet,
    /// JumpCloud.
    #[serde(rename = "jumpcloud")]
    JumpCloud,
    /// Microsoft Intune, read through Microsoft Graph.
    Intune,
}

/// A credential a provider needs, as shown to the person connecting it (R1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialField {
    /// Stable machine key (`host`, `client_id`, `client_secret`, `api_token`, `api_key`, `tenant_id`).
    pub key: &'static str,
    /// The label exactly as R1 words it.
    pub label: &'static str,
    /// Whether the value is a secret: held in `SecretString`, never displayed, encrypted at rest.
    pub secret: bool,
}

const HOST: CredentialField = CredentialField {
    key: "host",
    label: "Host",
    secret: false,
};
const API_TOKEN: CredentialField = CredentialField {
    key: "api_token",
    label: "API Token",
    secret: true,
};

impl ProviderKind {
    /// Every provider, in R1 order.
    pub const ALL: [ProviderKind; 6] = [
        ProviderKind::Jamf,
        ProviderKind::Iru,
        ProviderKind::SimpleMdm,
        ProviderKind::Fleet,
        ProviderKind::JumpCloud,
        ProviderKind::Intune,
    ];

    /// The short id used in configuration, the CLI and serde.
    pub fn id(self) -> &'static str {
        match self {
            ProviderKind::Jamf => "jamf",
            ProviderKind::Iru => "iru",
            ProviderKind::SimpleMdm => "simplemdm",
            ProviderKind::Fleet => "fleet",
            ProviderKind::JumpCloud => "jumpcloud",
            ProviderKind::Intune => "intune",
        }
    }

    /// The display name exactly as R1 gives it.
    pub fn display_name(self) -> &'static str {
        match self {
            ProviderKind::Jamf => "Jamf",
            ProviderKind::Iru => "Iru (formerly Kandji)",
            ProviderKind::SimpleMdm => "SimpleMDM",
            ProviderKind::Fleet => "Fleet",
            ProviderKind::JumpCloud => "JumpCloud",
            ProviderKind::Intune => "Microsoft Intune",
        }
    }

    /// The credentials the provider requires, in the order and with the labels of R1.
    pub fn credential_fields(self) -> &'static [CredentialField] {
        match self {
            ProviderKind::Jamf => &[
                HOST,
                CredentialField {
                    key: "client_id",
                    label: "API Client ID",
                    secret: false,
                },
                CredentialField {
                    key: "client_secret",
                    label: "API Client Secret",
                    secret: true,
                },
            ],
            ProviderKind::Iru | ProviderKind::Fleet => &[HOST, API_TOKEN],
            ProviderKind::SimpleMdm => &[CredentialField {
                key: "api_key",
                label: "API Secret Access Key",
                secret: true,
            }],
            ProviderKind::JumpCloud => &[API_TOKEN],
            ProviderKind::Intune => &[
                CredentialField {
                    key: "tenant_id",
                    label: "Tenant ID",
                    secret: false,
                },
                CredentialField {
                    key: "client_id",
                    label: "Client ID",
                    secret: false,
                },
                CredentialField {
                    key: "client_secret",
                    label: "Client Secret",
                    secret: true,
                },
            ],
        }
    }

    /// Whether the customer must supply a host; the others use a fixed endpoint (R2).
    pub fn requires_host(self) -> bool {
        matches!(
            self,
            ProviderKind::Jamf | ProviderKind::Iru | ProviderKind::Fleet
        )
    }

    /// The default fixed API endpoint of a host-less provider (R2); `None` for providers that need a host.
    pub fn fixed_endpoint(self) -> Option<&'static str> {
        match self {
            ProviderKind::SimpleMdm => Some(SIMPLEMDM_ENDPOINT),
            ProviderKind::JumpCloud => Some(JumpCloudRegion::Us.api_root()),
            ProviderKind::Intune => Some(IntuneCloud::Global.graph_root()),
            _ => None,
        }
    }

    /// The label of the link to a device's record in the provider's console (R7): `View on <display name>`.
    pub fn link_label(self) -> String {
        format!("View on {}", self.display_name())
    }

    /// The label a synced group carries (R12): `Managed by <display name>`.
    pub fn managed_by_label(self) -> String {
        format!("Managed by {}", self.display_name())
    }

    /// What a device group is in this provider (R11).
    pub fn group_noun(self) -> &'static str {
        match self {
            ProviderKind::Jamf => "computer groups",
            ProviderKind::Iru => "tags",
            ProviderKind::SimpleMdm => "assignment groups",
            ProviderKind::Fleet => "labels",
            ProviderKind::JumpCloud => "system groups",
            ProviderKind::Intune => "security groups",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

/// The error of parsing an unknown provider id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider {0:?}; expected one of jamf, iru, simplemdm, fleet, jumpcloud, intune")]
pub struct UnknownProvider(pub String);

impl FromStr for ProviderKind {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Iru was Kandji: the old name still names it.
        let alias = s
            .trim()
            .eq_ignore_ascii_case("kandji")
            .then_some(ProviderKind::Iru);
        by_id(&ProviderKind::ALL, s, ProviderKind::id)
            .or(alias)
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

/// SimpleMDM's one API endpoint.
pub const SIMPLEMDM_ENDPOINT: &str = "https://a.simplemdm.com";

/// JumpCloud data-centre region; each has its own console and API host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum JumpCloudRegion {
    /// United States, `console.jumpcloud.com` (the default).
    #[default]
    Us,
    /// European Union, `console.eu.jumpcloud.com`.
    Eu,
    /// India, `console.in.jumpcloud.com` (known from JumpCloud's own tooling, not its public spec).
    In,
}

impl JumpCloudRegion {
    /// Every region.
    pub const ALL: [JumpCloudRegion; 3] = [
        JumpCloudRegion::Us,
        JumpCloudRegion::Eu,
        JumpCloudRegion::In,
    ];

    /// `https://` root of the region's console, which also serves the API under `/api`.
    pub fn api_root(self) -> &'static str {
        match self {
            JumpCloudRegion::Us => "https://console.jumpcloud.com",
            JumpCloudRegion::Eu => "https://console.eu.jumpcloud.com",
            JumpCloudRegion::In => "https://console.in.jumpcloud.com",
        }
    }

    /// Short id (`us`, `eu`, `in`).
    pub fn id(self) -> &'static str {
        match self {
            JumpCloudRegion::Us => "us",
            JumpCloudRegion::Eu => "eu",
            JumpCloudRegion::In => "in",
        }
    }
}

impl FromStr for JumpCloudRegion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        by_id(&JumpCloudRegion::ALL, s, JumpCloudRegion::id)
            .ok_or_else(|| format!("unknown JumpCloud region {s:?}; expected us, eu or in"))
    }
}

/// Microsoft national cloud; each has its own Graph root and Entra login host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum IntuneCloud {
    /// The worldwide cloud (also used by Microsoft 365 GCC moderate).
    #[default]
    Global,
    /// US Government L4 (GCC High).
    #[serde(rename = "usgov")]
    UsGovL4,
    /// US Government L5 (DoD).
    #[serde(rename = "dod")]
    UsGovL5Dod,
    /// China, operated by 21Vianet.
    China,
}

impl IntuneCloud {
    /// Every national cloud.
    pub const ALL: [IntuneCloud; 4] = [
        IntuneCloud::Global,
        IntuneCloud::UsGovL4,
        IntuneCloud::UsGovL5Dod,
        IntuneCloud::China,
    ];

    /// Microsoft Graph root; the token scope is `<graph root>/.default`.
    pub fn graph_root(self) -> &'static str {
        match self {
            IntuneCloud::Global => "https://graph.microsoft.com",
            IntuneCloud::UsGovL4 => "https://graph.microsoft.us",
            IntuneCloud::UsGovL5Dod => "https://dod-graph.microsoft.us",
            IntuneCloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    /// Entra ID (Azure AD) login host that issues tokens for this cloud.
    pub fn login_host(self) -> &'static str {
        match self {
            IntuneCloud::Global => "https://login.microsoftonline.com",
            IntuneCloud::UsGovL4 | IntuneCloud::UsGovL5Dod => "https://login.microsoftonline.us",
            IntuneCloud::China => "https://login.chinacloudapi.cn",
        }
    }

    /// The Intune admin centre host used for device links. Microsoft documents only the worldwide host;
    /// the national-cloud hosts follow the pattern Microsoft uses for its other admin centres.
    pub fn portal_host(self) -> &'static str {
        match self {
            IntuneCloud::Global => "https://intune.microsoft.com",
            IntuneCloud::UsGovL4 | IntuneCloud::UsGovL5Dod => "https://intune.microsoft.us",
            IntuneCloud::China => "https://intune.microsoftonline.cn",
        }
    }

    /// Short id (`global`, `usgov`, `dod`, `china`).
    pub fn id(self) -> &'static str {
        match self {
            IntuneCloud::Global => "global",
            IntuneCloud::UsGovL4 => "usgov",
            IntuneCloud::UsGovL5Dod => "dod",
            IntuneCloud::China => "china",
        }
    }
}

impl FromStr for IntuneCloud {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        by_id(&IntuneCloud::ALL, s, IntuneCloud::id).ok_or_else(|| {
            format!("unknown Intune cloud {s:?}; expected global, usgov, dod or china")
        })
    }
}

/// The item of `all` whose short id is `s`, trimmed and in any case: how each of these kinds is parsed.
fn by_id<T: Copy>(all: &[T], s: &str, id: fn(T) -> &'static str) -> Option<T> {
    let wanted = s.trim().to_ascii_lowercase();
    all.iter().copied().find(|item| id(*item) == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_exactly_r1() {
        let names: Vec<_> = ProviderKind::ALL.iter().map(|k| k.display_name()).collect();
        assert_eq!(
            names,
            [
                "Jamf",
                "Iru (formerly Kandji)",
                "SimpleMDM",
                "Fleet",
                "JumpCloud",
                "Microsoft Intune"
            ]
        );
    }

    #[test]
    fn credential_labels_are_exactly_r1() {
        let labels = |k: ProviderKind| {
            k.credential_fields()
                .iter()
                .map(|f| f.label)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            labels(ProviderKind::Jamf),
            ["Host", "API Client ID", "API Client Secret"]
        );
        assert_eq!(labels(ProviderKind::Iru), ["Host", "API Token"]);
        assert_eq!(labels(ProviderKind::SimpleMdm), ["API Secret Access Key"]);
        assert_eq!(labels(ProviderKind::Fleet), ["Host", "API Token"]);
        assert_eq!(labels(ProviderKind::JumpCloud), ["API Token"]);
        assert_eq!(
            labels(ProviderKind::Intune),
            ["Tenant ID", "Client ID", "Client Secret"]
        );
        for kind in ProviderKind::ALL {
            for field in kind.credential_fields() {
                let looks_secret = field.key.contains("secret")
                    || field.key.contains("token")
                    || field.key == "api_key";
                assert_eq!(field.secret, looks_secret, "{kind:?} {}", field.key);
            }
            assert_eq!(
                kind.requires_host(),
                kind.credential_fields().iter().any(|f| f.key == "host")
            );
            assert_eq!(kind.requires_host(), kind.fixed_endpoint().is_none());
        }
    }

    #[test]
    fn ids_round_trip_and_labels() {
        for kind in ProviderKind::ALL {
            assert_eq!(kind.id().parse::<ProviderKind>().unwrap(), kind);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.id()));
        }
        assert_eq!(
            ProviderKind::Iru.link_label(),
            "View on Iru (formerly Kandji)"
        );
        assert_eq!(
            ProviderKind::Intune.managed_by_label(),
            "Managed by Microsoft Intune"
        );
        assert!("okta".parse::<ProviderKind>().is_err());
    }

    #[test]
    fn fixed_endpoints_per_region_and_cloud() {
        assert_eq!(
            JumpCloudRegion::Eu.api_root(),
            "https://console.eu.jumpcloud.com"
        );
        assert_eq!(
            JumpCloudRegion::In.api_root(),
            "https://console.in.jumpcloud.com"
        );
        assert_eq!(
            IntuneCloud::UsGovL5Dod.graph_root(),
            "https://dod-graph.microsoft.us"
        );
        assert_eq!(
            IntuneCloud::UsGovL5Dod.login_host(),
            "https://login.microsoftonline.us"
        );
        assert_eq!(
            IntuneCloud::China.login_host(),
            "https://login.chinacloudapi.cn"
        );
        for c in IntuneCloud::ALL {
            assert_eq!(c.id().parse::<IntuneCloud>().unwrap(), c);
        }
    }
}
