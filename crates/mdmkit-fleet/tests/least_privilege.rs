//! Fleet against the sandbox with a token that may not read SCIM users (a global observer), and without
//! Fleet Premium: listings still list every host, mark the IdP users they cannot name, and the names come
//! back through `resolve_user_names`, one host record per user rather than per assigned host.

use std::sync::Arc;

use mdmkit_core::{MdmProvider, ProviderConfig, ProviderKind, Resolution, Unresolved};
use mdmkit_fleet::FleetProvider;
use mdmkit_testkit::{list_and_resolve, Access, Sandbox, SandboxConfig};

fn provider(sandbox: &Sandbox, access: Access) -> Arc<dyn MdmProvider> {
    match sandbox.config(ProviderKind::Fleet, access) {
        ProviderConfig::Fleet(c) => {
            Arc::new(FleetProvider::new(c, &sandbox.client_options()).unwrap())
        }
        other => panic!("{other:?}"),
    }
}

async fn check(sandbox: &Sandbox, access: Access) {
    let fleet = provider(sandbox, access);
    let expected = sandbox.expected_devices(ProviderKind::Fleet);
    let before = sandbox.request_count(ProviderKind::Fleet);
    let listed = list_and_resolve(fleet.as_ref(), Resolution::Inline)
        .await
        .unwrap();
    let used = sandbox.request_count(ProviderKind::Fleet) - before;
    let assigned = expected.iter().filter(|e| e.user_id.is_some()).count();
    assert_eq!(listed.len(), expected.len());
    // One page, the refused SCIM read, and one host record per user to name.
    assert!(used as usize <= 2 + assigned, "{used} requests");
    let mut named = 0;
    for want in &expected {
        let got = listed
            .iter()
            .find(|d| d.device_id == want.device_id)
            .unwrap();
        match (&want.user_id, &got.user_id) {
            (None, None) => assert_eq!(
                got.display_name.as_deref(),
                Some(want.display_name.as_str())
            ),
            (Some(w), Some(g)) if w.eq_ignore_ascii_case(g) => {
                // The IdP e-mail (the case may differ from SCIM's userName); the name once resolved.
                assert_eq!(
                    got.display_name.as_deref(),
                    Some(want.display_name.as_str()),
                    "{g}"
                );
                assert_eq!(got.unresolved, None);
                named += usize::from(got.user_name.is_some());
            }
            (Some(_), Some(g)) => {
                // Fleet links this host to a SCIM user whose userName is not the e-mail: without SCIM
                // that userName cannot be known, so the name stays unresolved and R4 falls back.
                assert_eq!(got.unresolved, Some(Unresolved::UserName), "{g}");
                assert_eq!(
                    got.display_name.as_deref(),
                    Some(sandbox.fleet().devices[&want.index].name.as_str())
                );
            }
            other => panic!("{}: {other:?}", want.device_id),
        }
    }
    assert!(named > assigned / 2, "{named} of {assigned} named");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_token_names_users_through_their_hosts() {
    let sandbox = Sandbox::start(SandboxConfig {
        devices: 60,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    check(&sandbox, Access::LeastPrivilege).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_free_has_no_scim_and_does_the_same() {
    let sandbox = Sandbox::start(SandboxConfig {
        devices: 60,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    sandbox.set_fleet_premium(false);
    check(&sandbox, Access::Full).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_scim_a_listing_costs_its_pages_and_the_scim_pages() {
    let sandbox = Sandbox::start(SandboxConfig {
        devices: 250,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let fleet = provider(&sandbox, Access::Full);
    let listed = list_and_resolve(fleet.as_ref(), Resolution::Inline)
        .await
        .unwrap();
    assert_eq!(listed.len(), 250);
    assert!(listed.iter().all(|d| d.unresolved.is_none()));
    // 3 host pages (100 each) and the SCIM users (under 250, so at most 3 pages).
    assert_eq!(
        fleet.request_count(),
        3 + sandbox.listing_directory_requests(ProviderKind::Fleet) as u64
    );
}
