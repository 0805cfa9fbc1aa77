//! The mdmkit quickstart: six MDM providers, offline.
//!
//! Starts the sandbox MDM in-process (it speaks the Jamf, Iru, SimpleMDM, Fleet, JumpCloud and Microsoft
//! Graph APIs over one seeded fleet), then for each provider:
//! 1. tries to connect a workspace with wrong credentials and shows the error category a person would see;
//! 2. connects with the right ones: the test call passes, the credentials are encrypted and saved, device
//!    metadata is fetched and groups are synced;
//! 3. prints each device's serial number, MDM display name and "View on …" link, and the synced groups.
//!
//! It ends with a search by display name. Run it with `cargo run --example quickstart`.

use std::sync::Arc;

use mdmkit::{MdmProvider, ProviderConfig, ProviderKind, SerialNumber};
use mdmkit_sandbox::{Access, Sandbox, SandboxConfig};
use mdmkit_sync::{GroupSyncOutcome, MdmSync, Plan, Stores, SystemClock, Vault, WorkspaceId};

const DEVICES: usize = 8;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = Sandbox::start(SandboxConfig {
        devices: DEVICES,
        ..SandboxConfig::default()
    })
    .await?;
    println!("mdmkit quickstart: a sandbox MDM with {DEVICES} devices is listening on");
    for (kind, url) in sandbox.urls() {
        println!("  {:<24} {url}", kind.display_name());
    }

    // The factory that turns a saved configuration into a live provider. The sandbox runs on loopback,
    // which the default host policy refuses, so its client options allow it.
    let options = sandbox.client_options();
    let factory = move |config: &ProviderConfig| -> mdmkit::Result<Arc<dyn MdmProvider>> {
        mdmkit::connect(config.clone(), &options)
    };
    let vault = Vault::new("quickstart-key", &*Vault::generate_key()?)?;
    let sync = MdmSync::new(
        Arc::new(factory),
        vault,
        Stores::memory(),
        Arc::new(SystemClock),
    );

    // Every workspace owns the same laptops (by serial), plus one the MDM has never seen.
    let fleet = sandbox.fleet();
    let mut serials: Vec<SerialNumber> = fleet
        .devices
        .values()
        .map(|d| SerialNumber::parse(&d.serial))
        .collect::<Result<_, _>>()?;
    serials.push(SerialNumber::parse("NOTINTHEMDM1")?);

    for kind in ProviderKind::ALL {
        let workspace = WorkspaceId::new(format!("acme-{}", kind.id()));
        sync.set_plan(&workspace, Plan::Pro).await?;
        for serial in &serials {
            sync.add_device(&workspace, serial).await?;
        }
        let name = kind.display_name();
        println!("\n━━ {name} ━━");

        // 1. Wrong credentials: the test call fails, nothing is saved, and the person sees a category.
        match sync
            .connect(&workspace, sandbox.config(kind, Access::WrongSecret))
            .await
        {
            Ok(_) => println!("  unexpected: wrong credentials were accepted"),
            Err(e) => {
                let category = e.category().map(|c| c.to_string());
                println!(
                    "  ✗ wrong credentials refused → {}",
                    category.unwrap_or_else(|| e.to_string())
                );
            }
        }

        // 2. The right credentials: validated, encrypted, saved; metadata fetched; groups synced.
        let report = sync
            .connect(&workspace, sandbox.config(kind, Access::Full))
            .await?;
        print!("  ✓ connected");
        if let Some(Ok(refresh)) = &report.refresh {
            print!(
                ": {} of {} devices matched ({} not in the MDM) with {} request{}",
                refresh.matched,
                refresh.due,
                refresh.not_found,
                refresh.requests,
                if refresh.requests == 1 { "" } else { "s" }
            );
        }
        println!();

        // 3. What a person sees on the Devices page.
        println!("  {:<14} {:<28} LINK", "SERIAL", "MDM DISPLAY NAME");
        for device in sync.devices(&workspace).await? {
            let display = device.display_name().unwrap_or("—");
            let link = device
                .link
                .as_ref()
                .map(|l| format!("{}: {}", l.label, l.url))
                .unwrap_or_else(|| "not in the MDM".to_owned());
            println!("  {:<14} {:<28} {}", device.serial.as_str(), display, link);
        }

        if let GroupSyncOutcome::Completed(groups) = &report.group_sync {
            println!(
                "  groups: {} {} synced ({} created), {} members matched",
                groups.mdm_groups,
                kind.group_noun(),
                groups.created,
                groups.members_matched
            );
        }
        for group in sync.groups(&workspace).await? {
            println!(
                "    {:<22} {:>2} devices  {}",
                group.name,
                group.members.len(),
                group.managed_by().unwrap_or_default()
            );
        }
    }

    // Search by MDM display name or serial (R6).
    let user = fleet
        .devices
        .values()
        .find_map(|d| fleet.user_of(d))
        .map(|u| u.full_name.split(' ').next().unwrap_or("a").to_owned())
        .unwrap_or_else(|| "Mac".to_owned());
    let workspace = WorkspaceId::new("acme-jamf");
    println!("\n━━ Search \"{user}\" in the Jamf workspace ━━");
    for device in sync.search(&workspace, &user).await? {
        println!(
            "  {:<14} {}",
            device.serial.as_str(),
            device.display_name().unwrap_or("—")
        );
    }
    Ok(())
}
