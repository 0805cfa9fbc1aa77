//! Deep links to a device's record in each provider's console (R7). Pure functions: no I/O.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::http::{is_dot_segment, path_segment};
use crate::kind::{IntuneCloud, ProviderKind};

/// A device's console link as a person sees it (R7): `View on <provider>` and the URL of the device's
/// record. The one link type of every layer: [`crate::MdmProviderExt::device_link`] returns it, and so do
/// `mdmkit-sync`'s device views.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DeviceLink {
    /// `View on <provider>` ([`ProviderKind::link_label`]).
    pub label: String,
    /// The device's record in the provider's console.
    pub url: Url,
}

impl DeviceLink {
    /// The link to `url` labelled for `kind`'s console.
    pub fn new(kind: ProviderKind, url: Url) -> DeviceLink {
        DeviceLink {
            label: kind.link_label(),
            url,
        }
    }
}

/// The id, trimmed and percent-encoded by the one path encoder ([`path_segment`]), with a space written
/// `+` as these links have always carried it (a literal `+` is `%2B`, so the two never mix); `None` for
/// an id that names no record (blank, or a dot segment that URL resolution would read as "here" or
/// "up").
fn encoded(id: &str) -> Option<String> {
    let id = id.trim();
    (!id.is_empty() && !is_dot_segment(id)).then(|| path_segment(id).replace("%20", "+"))
}

/// Jamf Pro computer record: `https://HOST/computers.html?id=ID&o=r`.
pub fn jamf_computer(base: &Url, device_id: &str) -> Option<Url> {
    let id = encoded(device_id)?;
    base.join(&format!("computers.html?id={id}&o=r")).ok()
}

/// Maps an Iru API host to its console host: `T.api.kandji.io` → `T.kandji.io`,
/// `T.api.eu.kandji.io` → `T.eu.kandji.io`, `T.api.iru.com` and `T.api.eu.iru.com` → `T.iru.com`
/// (migrated tenants have one region-free console). `None` if the host is none of those forms.
pub fn iru_console_host(api_host: &str) -> Option<String> {
    let host = api_host.to_ascii_lowercase();
    let (tenant, rest) = host.split_once('.')?;
    let valid_tenant = !tenant.is_empty()
        && tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !valid_tenant {
        return None;
    }
    match rest {
        "api.kandji.io" => Some(format!("{tenant}.kandji.io")),
        "api.eu.kandji.io" => Some(format!("{tenant}.eu.kandji.io")),
        "api.iru.com" | "api.eu.iru.com" => Some(format!("{tenant}.iru.com")),
        _ => None,
    }
}

/// Iru device record: `https://<console host>/devices/ID`. For a base that is not an Iru API host (a
/// sandbox), the link is built on that base.
pub fn iru_device(api_base: &Url, device_id: &str) -> Option<Url> {
    let path = format!("devices/{}", encoded(device_id)?);
    match api_base.host_str().and_then(iru_console_host) {
        Some(console) => Url::parse(&format!("https://{console}/{path}")).ok(),
        None => api_base.join(&path).ok(),
    }
}

/// SimpleMDM device record: `https://a.simplemdm.com/admin/devices/ID`.
pub fn simplemdm_device(api_base: &Url, device_id: &str) -> Option<Url> {
    let id = encoded(device_id)?;
    api_base.join(&format!("admin/devices/{id}")).ok()
}

/// Fleet host record: `https://HOST/hosts/ID`.
pub fn fleet_host(base: &Url, device_id: &str) -> Option<Url> {
    let id = encoded(device_id)?;
    base.join(&format!("hosts/{id}")).ok()
}

/// JumpCloud device record: `https://<console host>/#/devices/ID/details`.
pub fn jumpcloud_device(console_base: &Url, device_id: &str) -> Option<Url> {
    let id = encoded(device_id)?;
    let mut url = console_base.clone();
    url.set_fragment(Some(&format!("/devices/{id}/details")));
    Some(url)
}

/// Intune managed-device record in the Intune admin centre.
pub fn intune_device(cloud: IntuneCloud, managed_device_id: &str) -> Option<Url> {
    let id = encoded(managed_device_id)?;
    Url::parse(&format!(
        "{}/#view/Microsoft_Intune_Devices/DeviceSettingsMenuBlade/~/overview/mdmDeviceId/{id}",
        cloud.portal_host(),
    ))
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_base_url;

    fn base(s: &str) -> Url {
        parse_base_url(s, &["/api/v1", "/api"]).unwrap()
    }

    #[test]
    fn jamf_links_for_cloud_and_on_prem() {
        assert_eq!(
            jamf_computer(&base("acme.jamfcloud.com"), "42")
                .unwrap()
                .as_str(),
            "https://acme.jamfcloud.com/computers.html?id=42&o=r"
        );
        assert_eq!(
            jamf_computer(&base("https://jss.corp.example:8443/"), "7")
                .unwrap()
                .as_str(),
            "https://jss.corp.example:8443/computers.html?id=7&o=r"
        );
        assert_eq!(jamf_computer(&base("acme.jamfcloud.com"), " "), None);
    }

    #[test]
    fn iru_links_per_host_form() {
        let cases = [
            ("acme.api.kandji.io", "https://acme.kandji.io/devices/abc-1"),
            (
                "acme.api.eu.kandji.io",
                "https://acme.eu.kandji.io/devices/abc-1",
            ),
            ("acme.api.iru.com", "https://acme.iru.com/devices/abc-1"),
            ("acme.api.eu.iru.com", "https://acme.iru.com/devices/abc-1"),
            (
                "http://127.0.0.1:8080",
                "http://127.0.0.1:8080/devices/abc-1",
            ),
        ];
        for (host, want) in cases {
            assert_eq!(iru_device(&base(host), "abc-1").unwrap().as_str(), want);
        }
        assert_eq!(iru_console_host("api.kandji.io"), None);
        assert_eq!(iru_console_host("a.b.api.kandji.io"), None);
    }

    #[test]
    fn fixed_endpoint_links() {
        assert_eq!(
            simplemdm_device(&base("https://a.simplemdm.com"), "121")
                .unwrap()
                .as_str(),
            "https://a.simplemdm.com/admin/devices/121"
        );
        assert_eq!(
            fleet_host(&base("fleet.example.com"), "9")
                .unwrap()
                .as_str(),
            "https://fleet.example.com/hosts/9"
        );
        assert_eq!(
            jumpcloud_device(&base("https://console.eu.jumpcloud.com"), "5f0c")
                .unwrap()
                .as_str(),
            "https://console.eu.jumpcloud.com/#/devices/5f0c/details"
        );
        assert_eq!(
            intune_device(IntuneCloud::Global, "0a1b").unwrap().as_str(),
            "https://intune.microsoft.com/#view/Microsoft_Intune_Devices/DeviceSettingsMenuBlade/~/overview/mdmDeviceId/0a1b"
        );
    }

    #[test]
    fn ids_are_escaped() {
        assert_eq!(
            fleet_host(&base("fleet.example.com"), "a/b?c")
                .unwrap()
                .as_str(),
            "https://fleet.example.com/hosts/a%2Fb%3Fc"
        );
        // A space is `+`, a plus sign `%2B`.
        assert_eq!(
            simplemdm_device(&base("https://a.simplemdm.com"), " a b+c ")
                .unwrap()
                .as_str(),
            "https://a.simplemdm.com/admin/devices/a+b%2Bc"
        );
    }

    #[test]
    fn ids_that_name_no_record_give_no_link() {
        let fleet = base("fleet.example.com");
        for id in ["", "  ", ".", ".."] {
            assert_eq!(fleet_host(&fleet, id), None, "{id:?}");
            assert_eq!(iru_device(&fleet, id), None, "{id:?}");
            assert_eq!(intune_device(IntuneCloud::Global, id), None, "{id:?}");
        }
        assert_eq!(
            fleet_host(&fleet, "...").unwrap().as_str(),
            "https://fleet.example.com/hosts/..."
        );
    }
}
