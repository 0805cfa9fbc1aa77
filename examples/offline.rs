//! A tour of mdmkit that needs no network and no MDM account: the providers and their credentials (R1),
//! fixed endpoints (R2), serial normalisation, the display-name rule (R4), console links (R7) and the
//! error categories shown when saving credentials fails (R8).
//!
//! Run it with `cargo run --example offline`.

use mdmkit::{
    display_name, Category, IruConfig, JamfConfig, ProviderConfig, ProviderKind, SerialNumber,
};

fn main() {
    println!("Providers and the credentials each takes:");
    for kind in ProviderKind::ALL {
        let fields: Vec<String> = kind
            .credential_fields()
            .iter()
            .map(|f| {
                if f.secret {
                    format!("{} (secret)", f.label)
                } else {
                    f.label.to_owned()
                }
            })
            .collect();
        let endpoint = kind
            .fixed_endpoint()
            .map(|e| format!("  fixed endpoint {e}"))
            .unwrap_or_default();
        println!(
            "  {:<24} {}{}",
            kind.display_name(),
            fields.join(", "),
            endpoint
        );
    }

    println!("\nSerial numbers as MDMs and firmware report them:");
    for raw in [
        "  c02zc2qylvdl ",
        "VMware-56 4d 9b 1a",
        "To Be Filled By O.E.M.",
        "0",
    ] {
        match SerialNumber::parse(raw) {
            Ok(serial) => println!("  {raw:<26} -> {serial}"),
            Err(e) => println!("  {raw:<26} -> rejected: {}", e.message()),
        }
    }

    println!("\nMDM display name: the assigned user's name, else the device name:");
    for (user, device) in [
        (Some("Ada Lovelace"), Some("Ada's MacBook Pro")),
        (None, Some("Büro-Mac 7")),
    ] {
        println!(
            "  user {:<14} device {:<20} -> {}",
            format!("{user:?}"),
            format!("{device:?}"),
            display_name(user, device).unwrap_or_default()
        );
    }

    println!("\nLinks to the device's record, from what people paste as the host:");
    let configs = [
        ProviderConfig::Jamf(
            JamfConfig::new("https://acme.jamfcloud.com/api/", "client-id", "secret")
                .expect("a valid host"),
        ),
        ProviderConfig::Iru(
            IruConfig::new("acme.api.eu.kandji.io", "token").expect("a valid host"),
        ),
    ];
    for config in &configs {
        let url = config.device_url("42").expect("a link");
        println!("  {:<32} {url}", config.kind().link_label());
        // Debug output never shows a secret.
        println!("    {config:?}");
    }
    match IruConfig::new("acme.kandji.io", "token") {
        Ok(_) => unreachable!("not an API host"),
        Err(e) => println!("  rejected host: {}", e.message()),
    }

    println!("\nWhat a failed connection test tells the person saving credentials:");
    for category in Category::ALL {
        println!("  {category}");
    }
}
