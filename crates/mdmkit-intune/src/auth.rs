//! Entra ID client credentials: the token endpoint and scope per national cloud, and token errors mapped
//! by their `AADSTS` code to a message that names the credential field to fix.

use mdmkit_core::http::StatusCode;
use mdmkit_core::http::{TokenErrorBody, TokenErrorMapper};
use mdmkit_core::{Error, ErrorKind, IntuneCloud, IntuneConfig, Result, Url};

use crate::error::entra_said;

/// The v2.0 token endpoint: `<login host>/{tenant}/oauth2/v2.0/token` (the tenant path-escaped).
///
/// The login host is the configured cloud's (`login.microsoftonline.com`, `login.microsoftonline.us`,
/// `login.chinacloudapi.cn`) unless [`IntuneConfig::login_url`] overrides it.
pub fn token_endpoint(config: &IntuneConfig) -> Result<Url> {
    let mut url = config.login_base();
    url.path_segments_mut()
        .map_err(|()| Error::config("the Entra login URL cannot take a path"))?
        .pop_if_empty()
        .push(config.tenant_id.trim())
        .extend(["oauth2", "v2.0", "token"]);
    Ok(url)
}

/// The client-credentials scope: `<Graph root>/.default`, e.g. `https://graph.microsoft.us/.default`.
///
/// It follows the Graph root in force ([`IntuneConfig::graph_base`]), so the token is always issued for the
/// host the requests go to: tokens cannot be swapped between clouds, and an override (a sandbox, or a
/// sovereign cloud without an [`IntuneCloud`] variant) gets a matching audience.
pub fn graph_scope(config: &IntuneConfig) -> String {
    format!(
        "{}/.default",
        config.graph_base().origin().ascii_serialization()
    )
}

/// How a cloud is named in messages about a tenant that was not found there.
fn cloud_name(cloud: IntuneCloud) -> &'static str {
    match cloud {
        IntuneCloud::Global => "global (worldwide)",
        IntuneCloud::UsGovL4 => "US Government GCC High",
        IntuneCloud::UsGovL5Dod => "US Government DoD",
        IntuneCloud::China => "China (21Vianet)",
        _ => "selected national",
    }
}

/// Maps Entra's token errors by `AADSTS` code (from `error_codes`, else the description's prefix).
///
/// Everything about the tenant, the client or the secret is [`ErrorKind::Unauthorized`]; a refused scope is
/// [`ErrorKind::Forbidden`] (as core's default mapping has it). Messages name the field to fix with its R1
/// label and end with what Entra said, minus its trace ids.
#[derive(Debug, Clone)]
pub(crate) struct EntraTokenErrors {
    tenant_id: String,
    client_id: String,
    cloud: IntuneCloud,
    scope: String,
}

impl EntraTokenErrors {
    pub(crate) fn new(config: &IntuneConfig) -> Self {
        EntraTokenErrors {
            tenant_id: config.tenant_id.clone(),
            client_id: config.client_id.clone(),
            cloud: config.cloud,
            scope: graph_scope(config),
        }
    }

    fn advice(&self, code: Option<u64>, error: &str) -> (ErrorKind, String) {
        let tenant = &self.tenant_id;
        let client = &self.client_id;
        match code {
            Some(90002) => (
                ErrorKind::Unauthorized,
                format!(
                    "the Tenant ID {tenant:?} was not found (AADSTS90002): check the Tenant ID (the directory's GUID or a verified domain such as contoso.onmicrosoft.com) and that the tenant is in the {} cloud",
                    cloud_name(self.cloud)
                ),
            ),
            Some(900023) => (
                ErrorKind::Unauthorized,
                format!(
                    "the Tenant ID {tenant:?} is not a valid tenant (AADSTS900023): enter the directory (tenant) ID as a GUID or a verified domain"
                ),
            ),
            Some(700016) => (
                ErrorKind::Unauthorized,
                format!(
                    "the Client ID {client:?} names no application in tenant {tenant:?} (AADSTS700016): check the Client ID (the app registration's Application (client) ID, not its Object ID) and that the app belongs to this tenant"
                ),
            ),
            Some(7000215) => (
                ErrorKind::Unauthorized,
                "the Client Secret is invalid (AADSTS7000215): enter the secret's Value, not its Secret ID (the Value is shown only once, when the secret is created)".to_owned(),
            ),
            Some(7000222) => (
                ErrorKind::Unauthorized,
                "the Client Secret has expired (AADSTS7000222): create a new client secret in the app registration and enter its Value as the Client Secret".to_owned(),
            ),
            Some(code @ (70011 | 1002012)) => (
                ErrorKind::Forbidden,
                format!(
                    "Entra ID refused the scope {} (AADSTS{code}): check that the national cloud setting matches the tenant",
                    self.scope
                ),
            ),
            _ if error == "invalid_scope" => (
                ErrorKind::Forbidden,
                format!("Entra ID refused the scope {}", self.scope),
            ),
            _ => (
                ErrorKind::Unauthorized,
                "Entra ID refused the token request: check the Tenant ID, Client ID and Client Secret"
                    .to_owned(),
            ),
        }
    }
}

impl TokenErrorMapper for EntraTokenErrors {
    fn map(&self, _status: StatusCode, body: &TokenErrorBody) -> Error {
        let (kind, advice) = self.advice(body.aadsts_code(), &body.error);
        Error::new(
            kind,
            format!("{advice} (Entra ID said {})", entra_said(body)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(cloud: IntuneCloud) -> IntuneConfig {
        let mut c = IntuneConfig::new("contoso.onmicrosoft.com", "app-id", "s3cr3t").unwrap();
        c.cloud = cloud;
        c
    }

    #[test]
    fn each_cloud_has_its_login_host_and_graph_scope() {
        let cases = [
            (
                IntuneCloud::Global,
                "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
                "https://graph.microsoft.com/.default",
            ),
            (
                IntuneCloud::UsGovL4,
                "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token",
                "https://graph.microsoft.us/.default",
            ),
            (
                IntuneCloud::UsGovL5Dod,
                "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token",
                "https://dod-graph.microsoft.us/.default",
            ),
            (
                IntuneCloud::China,
                "https://login.chinacloudapi.cn/contoso.onmicrosoft.com/oauth2/v2.0/token",
                "https://microsoftgraph.chinacloudapi.cn/.default",
            ),
        ];
        for (cloud, token, scope) in cases {
            let c = config(cloud);
            assert_eq!(token_endpoint(&c).unwrap().as_str(), token, "{cloud:?}");
            assert_eq!(graph_scope(&c), scope, "{cloud:?}");
        }
    }

    #[test]
    fn overrides_move_both_endpoints_and_the_tenant_is_escaped() {
        let mut c = config(IntuneCloud::Global);
        c.tenant_id = "a/b?c".into();
        c.login_url = Some(Url::parse("http://127.0.0.1:9/login/").unwrap());
        c.graph_url = Some(Url::parse("http://127.0.0.1:8/graph/").unwrap());
        assert_eq!(
            token_endpoint(&c).unwrap().as_str(),
            "http://127.0.0.1:9/login/a%2Fb%3Fc/oauth2/v2.0/token"
        );
        assert_eq!(graph_scope(&c), "http://127.0.0.1:8/.default");
    }

    fn mapped(cloud: IntuneCloud, json: &str) -> Error {
        let body: TokenErrorBody = serde_json::from_str(json).unwrap();
        EntraTokenErrors::new(&config(cloud)).map(StatusCode::BAD_REQUEST, &body)
    }

    #[test]
    fn each_aadsts_code_names_its_field() {
        let cases = [
            (
                90002,
                "invalid_request",
                ErrorKind::Unauthorized,
                "Tenant ID",
            ),
            (
                900023,
                "invalid_request",
                ErrorKind::Unauthorized,
                "Tenant ID",
            ),
            (
                700016,
                "unauthorized_client",
                ErrorKind::Unauthorized,
                "Client ID",
            ),
            (
                7000215,
                "invalid_client",
                ErrorKind::Unauthorized,
                "Client Secret",
            ),
            (
                7000222,
                "invalid_client",
                ErrorKind::Unauthorized,
                "Client Secret",
            ),
            (70011, "invalid_scope", ErrorKind::Forbidden, "scope"),
            (1002012, "invalid_scope", ErrorKind::Forbidden, "scope"),
        ];
        for (code, error, kind, field) in cases {
            let json = format!(
                r#"{{"error":"{error}","error_description":"AADSTS{code}: text.\r\nTrace ID: t\r\nCorrelation ID: c","error_codes":[{code}]}}"#
            );
            let err = mapped(IntuneCloud::Global, &json);
            assert_eq!(err.kind(), kind, "{code}");
            let m = err.message();
            assert!(m.contains(field), "{code}: {m}");
            assert!(m.contains(&format!("AADSTS{code}")), "{code}: {m}");
            assert!(
                m.ends_with(&format!("(Entra ID said {error}: AADSTS{code}: text.)")),
                "{code}: {m}"
            );
            assert!(!m.contains("Trace ID"), "{m}");
        }
    }

    #[test]
    fn the_code_is_read_from_the_description_when_error_codes_is_absent() {
        let err = mapped(
            IntuneCloud::China,
            r#"{"error":"invalid_request","error_description":"AADSTS90002: Tenant 'x' not found."}"#,
        );
        assert_eq!(err.kind(), ErrorKind::Unauthorized);
        assert!(err.message().contains("China (21Vianet) cloud"), "{err}");
    }

    #[test]
    fn unknown_codes_fall_back_on_the_oauth_error() {
        let err = mapped(
            IntuneCloud::Global,
            r#"{"error":"invalid_client","error_description":"AADSTS7000218: body must contain client_secret"}"#,
        );
        assert_eq!(err.kind(), ErrorKind::Unauthorized);
        assert!(err.message().contains("AADSTS7000218"), "{err}");
        let err = mapped(IntuneCloud::Global, r#"{"error":"invalid_scope"}"#);
        assert_eq!(err.kind(), ErrorKind::Forbidden);
        assert!(err
            .message()
            .contains("https://graph.microsoft.com/.default"));
    }
}
