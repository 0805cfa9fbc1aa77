//! The README's "Vault keys and rotation" steps, run as written: a first key from
//! `Vault::generate_key_entry`, then append a key, reseal every workspace, drop the old key.

mod sandbox_support;

use mdmkit::ProviderKind;
use mdmkit_sync::{Plan, Vault, VaultError};
use sandbox_support::Env;

#[tokio::test(flavor = "current_thread")]
async fn append_a_key_reseal_then_drop_the_old_one() {
    let env = Env::start(5).await;
    let options = env.sandbox.client_options();

    // First key: MDMKIT_KEYS holds one entry.
    let first = Vault::generate_key_entry("2026-01").unwrap();
    let engine = env.engine(options.clone(), Vault::from_key_list(&first).unwrap());
    let workspaces = [
        env.workspace("a", Plan::Free, &[]).await,
        env.workspace("b", Plan::Free, &[]).await,
    ];
    for ws in &workspaces {
        engine
            .connect(ws, env.config(ProviderKind::Fleet))
            .await
            .unwrap();
    }

    // 1. Append a key: the new entry goes last and seals from now on; the old one still opens.
    let second = Vault::generate_key_entry("2026-07").unwrap();
    let both = format!("{},{}", *first, *second);
    let engine = env.engine(options.clone(), Vault::from_key_list(&both).unwrap());
    // 2. Reseal every workspace; `connection_info` tells which key sealed each one.
    for ws in &workspaces {
        assert_eq!(
            engine.connection_info(ws).await.unwrap().unwrap().key_id,
            "2026-01"
        );
        assert!(engine.reseal_credentials(ws).await.unwrap());
        assert_eq!(
            engine.connection_info(ws).await.unwrap().unwrap().key_id,
            "2026-07"
        );
    }

    // 3. Drop the old entry: everything still opens with the new key alone.
    let engine = env.engine(options.clone(), Vault::from_key_list(&second).unwrap());
    for ws in &workspaces {
        let report = engine.refresh_due(ws).await.unwrap();
        assert_eq!(report.errors, 0, "{report:?}");
    }

    // Dropping the old key before resealing would have left a workspace unreadable, with a clear error.
    let third = env.workspace("c", Plan::Free, &[]).await;
    let old_only = env.engine(options.clone(), Vault::from_key_list(&first).unwrap());
    old_only
        .connect(&third, env.config(ProviderKind::Fleet))
        .await
        .unwrap();
    let err = engine.refresh_due(&third).await.unwrap_err();
    assert!(
        matches!(
            &err,
            mdmkit_sync::Error::Vault(VaultError::UnknownKey { key_id }) if key_id == "2026-01"
        ),
        "{err:?}"
    );
    // Nothing is lost: the record stays as sealed, and with the key put back it opens and reseals.
    assert_eq!(
        engine
            .connection_info(&third)
            .await
            .unwrap()
            .unwrap()
            .key_id,
        "2026-01"
    );
    let restored = env.engine(options.clone(), Vault::from_key_list(&both).unwrap());
    let report = restored.refresh_due(&third).await.unwrap();
    assert_eq!(report.errors, 0, "{report:?}");
    assert!(restored.reseal_credentials(&third).await.unwrap());
    assert!(
        engine.refresh_due(&third).await.is_ok(),
        "the new key alone opens it now"
    );
}
