//! The credential vault (R3): XChaCha20-Poly1305 with key rotation and workspace binding.
//!
//! - **Cipher.** XChaCha20-Poly1305 (RustCrypto `chacha20poly1305`). Its 192-bit nonce is drawn fresh from
//!   the operating system for every write, so random nonces never realistically repeat under one key.
//! - **Rotation.** Every record stores the id of the key that sealed it. The vault holds one *active* key
//!   (new writes) and any number of *old* keys (opening only). Rotate by adding a new active key and keeping
//!   the old one until every record has been re-saved; [`Vault::needs_reseal`] tells which records still
//!   use an old key. [`Vault::generate_key_entry`] makes a ready `id:base64key` entry for
//!   [`Vault::from_key_list`] (`mdmkit keygen` prints one); key ids follow [`Vault::check_key_id`].
//! - **Binding.** The associated data is the workspace id, the provider id and the key id, each
//!   length-prefixed. A record copied to another workspace, relabelled with another provider or pointed at
//!   another key fails authentication.
//! - **Hygiene.** Keys live in [`Zeroizing`] buffers and the cipher state zeroises itself on drop;
//!   decrypted plaintext is returned as `Zeroizing<Vec<u8>>` and parsed straight into `SecretString`s.
//!   `Debug` shows key ids only; errors name valid key ids, pair positions and lengths only (never the
//!   text of a malformed pair, which may be a key).

use std::fmt;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{Key, KeyInit, XChaCha20Poly1305, XNonce};
use chrono::{DateTime, Utc};
use mdmkit_core::{ProviderConfig, ProviderKind};
use zeroize::Zeroizing;

use crate::error::VaultError;
use crate::model::{SealedCredentials, WorkspaceId};

/// Bytes in a vault key.
pub const KEY_LEN: usize = 32;
/// The key-id rule as error messages state it; [`Vault::check_key_id`] has the reasons.
const KEY_ID_RULE: &str = "a key id is 1 to 64 characters of A-Z, a-z, 0-9, '-', '_' or '.'";
const NONCE_LEN: usize = 24;
const AAD_DOMAIN: &[u8] = b"mdmkit-sync/credentials/v1";
/// Room reserved up front for a serialised configuration, so that serialising never reallocates and leaves
/// an unzeroised copy of a secret behind in freed memory.
const PLAINTEXT_CAPACITY: usize = 16 * 1024;

/// Fills `buf` from the operating system's random source (`getrandom` 0.3, the version the rest of the
/// dependency tree already carries, rather than the cipher crate's own `getrandom` feature and version).
pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<(), ()> {
    getrandom::fill(buf).map_err(|_| ())
}

struct VaultKey {
    id: String,
    key: Zeroizing<[u8; KEY_LEN]>,
}

/// Encrypts and decrypts credential records. Cheap to share behind an `Arc`; holds keys, so never log it
/// with anything but its `Debug` (key ids only).
pub struct Vault {
    /// Oldest first; the last one is active.
    keys: Vec<VaultKey>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("active_key", &self.active_key_id())
            .field("key_ids", &self.key_ids().collect::<Vec<_>>())
            .finish()
    }
}

fn key_bytes(id: &str, bytes: &[u8]) -> Result<Zeroizing<[u8; KEY_LEN]>, VaultError> {
    if bytes.len() != KEY_LEN {
        return Err(VaultError::InvalidKey {
            key_id: id.to_owned(),
            reason: format!("expected {KEY_LEN} bytes, got {}", bytes.len()),
        });
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    key.copy_from_slice(bytes);
    Ok(key)
}

/// Decodes a key written as standard base64 (with padding).
fn decode_key(encoded: &str) -> Option<Zeroizing<Vec<u8>>> {
    base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .map(Zeroizing::new)
}

/// What the `n`th of `total` pairs of a key list is called in errors: its position, never its text.
fn pair_name(n: usize, total: usize) -> String {
    format!("pair {n} of {total}")
}

impl Vault {
    /// Checks a key id. The rules:
    ///
    /// - 1 to 64 characters;
    /// - only ASCII letters and digits, `-`, `_` and `.` (so an id never contains `:` or `,`, which separate
    ///   ids, keys and pairs in [`Vault::from_key_list`], and a base64 key, which always ends in `=`, is
    ///   never taken for an id);
    /// - unique within a vault.
    ///
    /// A date (`2026-05`, `2026-05-01`) is a good id: it tells which key is newer and when it was made.
    /// The id is stored in clear with every record it seals and bound into the record's authentication, so
    /// it must never change for a key. An invalid id is not repeated in the error, in case a key was passed
    /// where the id belongs.
    ///
    /// ```
    /// use mdmkit_sync::Vault;
    ///
    /// assert!(Vault::check_key_id("2026-05").is_ok());
    /// assert!(Vault::check_key_id("prod_key.v2").is_ok());
    /// for bad in ["", "has space", "a:b", "a,b", "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80="] {
    ///     assert!(Vault::check_key_id(bad).is_err(), "{bad}");
    /// }
    /// ```
    pub fn check_key_id(id: &str) -> Result<(), VaultError> {
        let ok = !id.is_empty()
            && id.len() <= 64
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if ok {
            Ok(())
        } else {
            Err(VaultError::Keys(format!(
                "a key id ({} characters, not shown) is invalid: {KEY_ID_RULE}",
                id.chars().count()
            )))
        }
    }

    /// A vault with one key, which seals new records.
    pub fn new(key_id: &str, key: &[u8]) -> Result<Vault, VaultError> {
        Vault::check_key_id(key_id)?;
        Ok(Vault {
            keys: vec![VaultKey {
                id: key_id.to_owned(),
                key: key_bytes(key_id, key)?,
            }],
        })
    }

    /// Adds an older key that still opens records but seals nothing.
    pub fn with_old_key(mut self, key_id: &str, key: &[u8]) -> Result<Vault, VaultError> {
        Vault::check_key_id(key_id)?;
        if self.keys.iter().any(|k| k.id == key_id) {
            return Err(VaultError::Keys(format!("key id {key_id:?} appears twice")));
        }
        self.keys.insert(
            0,
            VaultKey {
                id: key_id.to_owned(),
                key: key_bytes(key_id, key)?,
            },
        );
        Ok(self)
    }

    /// Reads keys from `id:base64key` pairs separated by commas or whitespace, oldest first: the **last**
    /// pair is the active key, so rotating means appending a pair ([`Vault::generate_key_entry`] makes
    /// one). Keys are standard base64 of 32 bytes; ids follow [`Vault::check_key_id`].
    ///
    /// Errors name a pair by its position and, once its id is known to be valid, by its id; they never
    /// repeat the text of a pair (a pair written `key:id` would otherwise print the key).
    pub fn from_key_list(list: &str) -> Result<Vault, VaultError> {
        let pairs: Vec<&str> = list
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|p| !p.is_empty())
            .collect();
        let total = pairs.len();
        let mut vault: Option<Vault> = None;
        for (i, pair) in pairs.iter().enumerate().rev() {
            let name = pair_name(i + 1, total);
            let Some((id, encoded)) = pair.split_once(':') else {
                return Err(VaultError::Keys(format!(
                    "{name} has no ':'; expected id:base64key pairs separated by commas"
                )));
            };
            if Vault::check_key_id(id).is_err() {
                let swapped = decode_key(id).is_some_and(|k| k.len() == KEY_LEN)
                    && Vault::check_key_id(encoded).is_ok();
                return Err(VaultError::Keys(if swapped {
                    format!("{name} looks like base64key:id; write it as id:base64key")
                } else {
                    format!("{name} has an invalid key id: {KEY_ID_RULE}")
                }));
            }
            let decoded = decode_key(encoded).ok_or_else(|| VaultError::InvalidKey {
                key_id: id.to_owned(),
                reason: "not standard base64".into(),
            })?;
            vault = Some(match vault {
                None => Vault::new(id, &decoded)?,
                Some(v) => v.with_old_key(id, &decoded)?,
            });
        }
        vault.ok_or_else(|| VaultError::Keys("no key given".into()))
    }

    /// Reads keys from the environment variable `var` in the form of [`Vault::from_key_list`].
    pub fn from_env(var: &str) -> Result<Vault, VaultError> {
        let value = Zeroizing::new(std::env::var(var).map_err(|e| {
            VaultError::Keys(match e {
                std::env::VarError::NotPresent => {
                    format!("the environment variable {var} is not set")
                }
                std::env::VarError::NotUnicode(_) => {
                    format!("the environment variable {var} is not valid UTF-8")
                }
            })
        })?);
        Vault::from_key_list(&value)
    }

    /// A new random key, for tests, examples and first-time setup (store it somewhere safe).
    pub fn generate_key() -> Result<Zeroizing<[u8; KEY_LEN]>, VaultError> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        random_bytes(&mut key[..]).map_err(|_| VaultError::Keys("no OS randomness".into()))?;
        Ok(key)
    }

    /// A new random key as a ready `id:base64key` entry of the key list ([`Vault::from_key_list`], the
    /// `MDMKIT_KEYS` variable of the README): set it as the whole list for a first key, or append it
    /// (after a comma) to rotate. `mdmkit keygen [ID]` prints one. The id must pass
    /// [`Vault::check_key_id`]. The entry is a secret: store it where the backend's other secrets live.
    ///
    /// ```
    /// use mdmkit_sync::Vault;
    ///
    /// # fn main() -> Result<(), mdmkit_sync::VaultError> {
    /// let first = Vault::generate_key_entry("2026-01")?;
    /// assert!(first.starts_with("2026-01:"));
    /// let vault = Vault::from_key_list(&first)?;
    /// assert_eq!(vault.active_key_id(), "2026-01");
    ///
    /// // Rotation: append a new entry; it seals from now on, the old one still opens.
    /// let rotated = format!("{},{}", *first, *Vault::generate_key_entry("2026-07")?);
    /// let vault = Vault::from_key_list(&rotated)?;
    /// assert_eq!(vault.active_key_id(), "2026-07");
    /// assert_eq!(vault.key_ids().collect::<Vec<_>>(), ["2026-01", "2026-07"]);
    /// # Ok(()) }
    /// ```
    pub fn generate_key_entry(key_id: &str) -> Result<Zeroizing<String>, VaultError> {
        Vault::check_key_id(key_id)?;
        let key = Vault::generate_key()?;
        let mut entry = Zeroizing::new(String::with_capacity(key_id.len() + 1 + 44));
        entry.push_str(key_id);
        entry.push(':');
        base64::engine::general_purpose::STANDARD.encode_string(&key[..], &mut entry);
        Ok(entry)
    }

    /// The id of the key that seals new records.
    pub fn active_key_id(&self) -> &str {
        &self.keys.last().expect("a vault always has a key").id
    }

    /// Every key id held, oldest first.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.id.as_str())
    }

    /// Whether a record was sealed with an old key and should be re-saved under the active one.
    pub fn needs_reseal(&self, record: &SealedCredentials) -> bool {
        record.key_id != self.active_key_id()
    }

    fn cipher(&self, key_id: &str) -> Result<XChaCha20Poly1305, VaultError> {
        let key =
            self.keys
                .iter()
                .find(|k| k.id == key_id)
                .ok_or_else(|| VaultError::UnknownKey {
                    key_id: key_id.to_owned(),
                })?;
        let key_ref: &Key = key.key.as_slice().try_into().expect("32-byte key");
        Ok(XChaCha20Poly1305::new(key_ref))
    }

    fn aad(workspace: &WorkspaceId, provider: ProviderKind, key_id: &str) -> Vec<u8> {
        let mut aad = Vec::new();
        for part in [
            AAD_DOMAIN,
            workspace.as_str().as_bytes(),
            provider.id().as_bytes(),
            key_id.as_bytes(),
        ] {
            aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
            aad.extend_from_slice(part);
        }
        aad
    }

    /// Encrypts `plaintext` for `workspace` and `provider` under the active key with a fresh nonce.
    pub fn seal(
        &self,
        workspace: &WorkspaceId,
        provider: ProviderKind,
        plaintext: &[u8],
        now: DateTime<Utc>,
    ) -> Result<SealedCredentials, VaultError> {
        let key_id = self.active_key_id().to_owned();
        let mut nonce = XNonce::default();
        random_bytes(nonce.as_mut_slice()).map_err(|_| VaultError::Encrypt)?;
        let aad = Vault::aad(workspace, provider, &key_id);
        let ciphertext = self
            .cipher(&key_id)?
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| VaultError::Encrypt)?;
        Ok(SealedCredentials {
            provider,
            key_id,
            nonce: nonce.to_vec(),
            ciphertext,
            sealed_at: now,
        })
    }

    /// Decrypts a record for `workspace`. Fails unless it was sealed for this workspace and provider by a
    /// key this vault holds, and is unaltered.
    pub fn open(
        &self,
        workspace: &WorkspaceId,
        record: &SealedCredentials,
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let cipher = self.cipher(&record.key_id)?;
        let nonce: &XNonce =
            record
                .nonce
                .as_slice()
                .try_into()
                .map_err(|_| VaultError::Decrypt {
                    workspace: workspace.clone(),
                })?;
        debug_assert_eq!(nonce.len(), NONCE_LEN);
        let aad = Vault::aad(workspace, record.provider, &record.key_id);
        cipher
            .decrypt(
                nonce,
                Payload {
                    msg: &record.ciphertext,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| VaultError::Decrypt {
                workspace: workspace.clone(),
            })
    }

    /// Serialises and seals a provider configuration (credentials and endpoint).
    ///
    /// The plaintext is the configuration's explicit-secrets form
    /// ([`ProviderConfig::expose_secrets`]; its default `Serialize` redacts them): the same JSON earlier
    /// releases sealed, so records sealed before keep opening.
    pub fn seal_config(
        &self,
        workspace: &WorkspaceId,
        config: &ProviderConfig,
        now: DateTime<Utc>,
    ) -> Result<SealedCredentials, VaultError> {
        let mut plaintext = Zeroizing::new(Vec::with_capacity(PLAINTEXT_CAPACITY));
        serde_json::to_writer(&mut *plaintext, &config.expose_secrets())
            .map_err(|_| VaultError::Format("serialised".into()))?;
        self.seal(workspace, config.kind(), &plaintext, now)
    }

    /// Opens and parses a sealed provider configuration. Parsing runs the configuration's checks (the
    /// same as its constructors), so a record that no longer passes them is an error, not a provider
    /// built from it.
    pub fn open_config(
        &self,
        workspace: &WorkspaceId,
        record: &SealedCredentials,
    ) -> Result<ProviderConfig, VaultError> {
        let plaintext = self.open(workspace, record)?;
        // serde_json's messages may quote the input, which is secret here: keep only the position.
        let config: ProviderConfig = serde_json::from_slice(&plaintext).map_err(|e| {
            VaultError::Format(format!(
                "read back as a provider configuration (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        if config.kind() != record.provider {
            return Err(VaultError::Format(
                "read back: the configuration is for another provider".into(),
            ));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mdmkit_core::{FleetConfig, JamfConfig};

    const SECRET: &str = "jamf-client-secret-DO-NOT-LEAK";

    fn ws(id: &str) -> WorkspaceId {
        WorkspaceId::new(id)
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn jamf() -> ProviderConfig {
        ProviderConfig::Jamf(JamfConfig::new("acme.jamfcloud.com", "client", SECRET).unwrap())
    }

    fn vault(id: &str, byte: u8) -> Vault {
        Vault::new(id, &[byte; KEY_LEN]).unwrap()
    }

    #[test]
    fn round_trip_with_fresh_nonce_and_no_plaintext_at_rest() {
        let v = vault("k1", 7);
        let a = v.seal_config(&ws("w1"), &jamf(), now()).unwrap();
        let b = v.seal_config(&ws("w1"), &jamf(), now()).unwrap();
        assert_eq!(a.key_id, "k1");
        assert_eq!(a.nonce.len(), NONCE_LEN);
        assert_ne!(a.nonce, b.nonce, "a fresh nonce per write");
        assert_ne!(a.ciphertext, b.ciphertext);
        let stored = serde_json::to_string(&a).unwrap();
        assert!(!stored.contains(SECRET));
        assert!(!String::from_utf8_lossy(&a.ciphertext).contains(SECRET));
        let back = v.open_config(&ws("w1"), &a).unwrap();
        assert!(back.same_connection(&jamf()));
    }

    #[test]
    fn sealed_plaintext_holds_the_secret_and_records_sealed_before_still_open() {
        let v = vault("k1", 7);
        let sealed = v.seal_config(&ws("w1"), &jamf(), now()).unwrap();
        let plaintext = v.open(&ws("w1"), &sealed).unwrap();
        let text = String::from_utf8(plaintext.to_vec()).unwrap();
        assert!(
            text.contains(SECRET),
            "the vault seals the secret, not [redacted]"
        );
        assert!(!text.contains("[redacted]"));

        // Plaintext as the derived `Serialize` of earlier releases wrote it.
        let before = format!(
            r#"{{"provider":"jamf","base_url":"https://acme.jamfcloud.com/","client_id":"client","client_secret":"{SECRET}"}}"#
        );
        let old = v
            .seal(&ws("w1"), ProviderKind::Jamf, before.as_bytes(), now())
            .unwrap();
        let opened = v.open_config(&ws("w1"), &old).unwrap();
        assert!(opened.same_connection(&jamf()));
        // Re-sealing writes the same plaintext.
        let resealed = v.seal_config(&ws("w1"), &opened, now()).unwrap();
        assert_eq!(*v.open(&ws("w1"), &resealed).unwrap(), before.as_bytes());
    }

    #[test]
    fn a_record_moved_to_another_workspace_or_provider_fails_to_open() {
        let v = vault("k1", 7);
        let sealed = v.seal_config(&ws("w1"), &jamf(), now()).unwrap();
        let err = v.open_config(&ws("w2"), &sealed).unwrap_err();
        assert_eq!(
            err,
            VaultError::Decrypt {
                workspace: ws("w2")
            }
        );
        let mut relabelled = sealed.clone();
        relabelled.provider = ProviderKind::Fleet;
        assert!(matches!(
            v.open(&ws("w1"), &relabelled),
            Err(VaultError::Decrypt { .. })
        ));
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 1;
        assert!(v.open(&ws("w1"), &tampered).is_err());
        // A different key under the same id does not open it either.
        assert!(vault("k1", 8).open(&ws("w1"), &sealed).is_err());
    }

    #[test]
    fn rotation_opens_old_records_and_seals_with_the_newest_key() {
        let old = vault("2025", 1);
        let sealed_old = old.seal_config(&ws("w"), &jamf(), now()).unwrap();
        let rotated = Vault::new("2026", &[2; KEY_LEN])
            .unwrap()
            .with_old_key("2025", &[1; KEY_LEN])
            .unwrap();
        assert_eq!(rotated.active_key_id(), "2026");
        assert!(rotated.needs_reseal(&sealed_old));
        assert!(rotated.open_config(&ws("w"), &sealed_old).is_ok());
        let sealed_new = rotated.seal_config(&ws("w"), &jamf(), now()).unwrap();
        assert_eq!(sealed_new.key_id, "2026");
        assert!(!rotated.needs_reseal(&sealed_new));
        // Retiring the old key too early is a clear error, not garbage.
        let err = vault("2026", 2).open(&ws("w"), &sealed_old).unwrap_err();
        assert_eq!(
            err,
            VaultError::UnknownKey {
                key_id: "2025".into()
            }
        );
        // Relabelling an old record with the new key id fails authentication.
        let mut relabelled = sealed_old.clone();
        relabelled.key_id = "2026".into();
        assert!(rotated.open(&ws("w"), &relabelled).is_err());
    }

    #[test]
    fn key_lists_put_the_active_key_last() {
        let b64 = |b: u8| base64::engine::general_purpose::STANDARD.encode([b; KEY_LEN]);
        let v = Vault::from_key_list(&format!("old:{} , new:{}\n", b64(1), b64(2))).unwrap();
        assert_eq!(v.active_key_id(), "new");
        assert_eq!(v.key_ids().collect::<Vec<_>>(), ["old", "new"]);
        for (bad, needle) in [
            ("", "no key"),
            ("k1", "id:base64key"),
            ("k1:%%%", "base64"),
            ("k1:AAAA", "expected 32 bytes, got 3"),
            (&format!("k 1:{}", b64(1)), "expected id:base64key"),
            (&format!("a/b:{}", b64(1)), "a key id is"),
            (&format!("k:{},k:{}", b64(1), b64(2)), "twice"),
        ] {
            let err = Vault::from_key_list(bad).unwrap_err().to_string();
            assert!(err.contains(needle), "{bad:?}: {err}");
            assert!(!err.contains(&b64(1)) && !err.contains(&b64(2)), "{err}");
        }
    }

    #[test]
    fn malformed_pairs_never_echo_key_material() {
        let b64 = |b: u8| base64::engine::general_purpose::STANDARD.encode([b; KEY_LEN]);
        let key = b64(0xA7);
        let unpadded = key.trim_end_matches('=').to_owned();
        for (bad, needle) in [
            // The pair given the wrong way round.
            (format!("{key}:k1"), "looks like base64key:id"),
            (
                format!("old:{},{key}:new", b64(1)),
                "pair 2 of 2 looks like",
            ),
            // Key material where the id belongs, in other shapes.
            (format!("{key}:{key}"), "invalid key id"),
            (format!("{unpadded}=x:{}", b64(1)), "invalid key id"),
            (key.clone(), "has no ':'"),
            (format!("k1:{key}:"), "base64"),
        ] {
            let err = Vault::from_key_list(&bad).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(shown.contains(needle), "{bad}: {shown}");
            for fragment in [&key[..12], &key[20..32], &unpadded[30..]] {
                assert!(
                    !shown.contains(fragment),
                    "{fragment} of the key in {shown}"
                );
            }
        }
        // Called directly with key material as the id.
        let err = Vault::new(&key, &[1; KEY_LEN]).unwrap_err();
        assert!(!format!("{err} {err:?}").contains(&key[..12]), "{err:?}");
        let err = Vault::generate_key_entry(&key).unwrap_err();
        assert!(!format!("{err} {err:?}").contains(&key[..12]), "{err:?}");
    }

    #[test]
    fn key_ids_are_one_to_sixty_four_characters_of_the_stated_set() {
        let key = [7; KEY_LEN];
        for ok in ["x".to_owned(), "a".repeat(64), "Az09-_.".to_owned()] {
            assert!(Vault::check_key_id(&ok).is_ok(), "{ok}");
            assert!(Vault::new(&ok, &key).is_ok(), "{ok}");
        }
        // Too long, outside ASCII, or base64's own characters (which a key would bring).
        for bad in [
            "a".repeat(65),
            "é".to_owned(),
            "a+b".to_owned(),
            "a/b".to_owned(),
            "a=".to_owned(),
        ] {
            assert!(Vault::check_key_id(&bad).is_err(), "{bad}");
            assert!(Vault::new(&bad, &key).is_err(), "{bad}");
        }
    }

    #[test]
    fn generated_entries_are_ready_key_list_entries() {
        let a = Vault::generate_key_entry("2026-01").unwrap();
        let b = Vault::generate_key_entry("2026-07").unwrap();
        let (id, key) = a.split_once(':').unwrap();
        assert_eq!(id, "2026-01");
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(key)
                .unwrap()
                .len(),
            KEY_LEN
        );
        assert_ne!(a[8..], b[8..], "a fresh key each time");
        let vault = Vault::from_key_list(&format!("{},{}", *a, *b)).unwrap();
        assert_eq!(vault.active_key_id(), "2026-07");
        let sealed_old = Vault::from_key_list(&a)
            .unwrap()
            .seal_config(&ws("w"), &jamf(), now())
            .unwrap();
        assert!(vault.open_config(&ws("w"), &sealed_old).is_ok());
        assert!(Vault::generate_key_entry("bad id").is_err());
    }

    #[test]
    fn from_env_reads_the_variable() {
        let var = "MDMKIT_SYNC_TEST_VAULT_KEYS_FROM_ENV";
        let key = base64::engine::general_purpose::STANDARD.encode([9u8; KEY_LEN]);
        std::env::set_var(var, format!("env1:{key}"));
        let v = Vault::from_env(var).unwrap();
        assert_eq!(v.active_key_id(), "env1");
        std::env::remove_var(var);
        let err = Vault::from_env(var).unwrap_err().to_string();
        assert!(err.contains("is not set"), "{err}");
    }

    #[test]
    fn debug_shows_key_ids_only() {
        let v = Vault::new("k2", &[0xAB; KEY_LEN])
            .unwrap()
            .with_old_key("k1", &[0xCD; KEY_LEN])
            .unwrap();
        let shown = format!("{v:?} {v:#?}");
        assert!(shown.contains("k1") && shown.contains("k2"), "{shown}");
        for byte in ["171", "205", "ab, ", "AB", "0xab", "q6ur", "q6urq6"] {
            assert!(!shown.contains(byte), "{byte} in {shown}");
        }
        let sealed = v
            .seal_config(
                &ws("w"),
                &ProviderConfig::Fleet(FleetConfig::new("f.example.com", SECRET).unwrap()),
                now(),
            )
            .unwrap();
        let shown = format!("{sealed:?}");
        assert!(shown.contains("ciphertext_len") && !shown.contains(SECRET));
    }

    #[test]
    fn generated_keys_differ() {
        let a = Vault::generate_key().unwrap();
        let b = Vault::generate_key().unwrap();
        assert_ne!(*a, *b);
    }
}
