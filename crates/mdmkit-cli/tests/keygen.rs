//! `mdmkit keygen [ID]`: a ready `MDMKIT_KEYS` entry that the vault reads.

use std::process::Command;

use mdmkit_sync::Vault;

const BIN: &str = env!("CARGO_BIN_EXE_mdmkit");

fn keygen(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("keygen")
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn keygen_prints_one_entry_the_vault_reads() {
    let (code, first, stderr) = keygen(&["2026-01"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(first.lines().count(), 1, "{first}");
    let first = first.trim();
    assert!(first.starts_with("2026-01:"), "{first}");
    assert!(stderr.contains("MDMKIT_KEYS"), "{stderr}");
    assert!(
        !stderr.contains(&first[8..]),
        "the key is printed once, on stdout"
    );

    let (_, second, _) = keygen(&["2026-07"]);
    let second = second.trim();
    assert_ne!(first[8..], second[8..], "a fresh key each time");
    let vault = Vault::from_key_list(&format!("{first},{second}")).unwrap();
    assert_eq!(vault.active_key_id(), "2026-07");
    assert_eq!(vault.key_ids().collect::<Vec<_>>(), ["2026-01", "2026-07"]);
}

#[test]
fn keygen_without_an_id_uses_todays_date() {
    let (code, out, stderr) = keygen(&[]);
    assert_eq!(code, 0, "{stderr}");
    let (id, _) = out.trim().split_once(':').unwrap();
    let today = chrono::Utc::now().date_naive();
    let yesterday = today.pred_opt().unwrap();
    assert!(
        [today, yesterday]
            .iter()
            .any(|d| d.format("%Y-%m-%d").to_string() == id),
        "{id}"
    );
    assert_eq!(
        Vault::from_key_list(out.trim()).unwrap().active_key_id(),
        id
    );
}

#[test]
fn keygen_refuses_an_invalid_id_as_a_usage_error() {
    let (code, out, stderr) = keygen(&["not/valid"]);
    assert_eq!(code, 64, "{stderr}");
    assert!(out.is_empty(), "{out}");
    assert!(
        stderr.contains("a key id is 1 to 64 characters"),
        "{stderr}"
    );
}
