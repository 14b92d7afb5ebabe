//! Secrets at rest: webhook signing secrets, connector credentials and OAuth grants, sealed with
//! XChaCha20-Poly1305 under the service's master keyring.
//!
//! Why encryption and not a hash: an API key is only ever *compared*, so a hash suffices, but a
//! signing secret must be *used* — the inbound receiver recomputes HMAC-SHA256(secret, body) and
//! the delivery worker signs with it — so the plaintext must be recoverable by the service. Sealing
//! keeps a stolen table dump (a backup, an export, a misconfigured IAM read) useless without the
//! keyring, which lives outside the table (a Secrets Manager secret on AWS, a 0600 file or an
//! environment variable for `causeloop serve`).
//!
//! The keyring is an ordered list of keys: the first seals, every one opens. Each sealed value
//! names the key that sealed it (`v2.<key id>.<base64>`), so a rotation adds a key in front,
//! re-seals what the old key sealed ([`SecretBox::reseal`]), then drops the old key; a value
//! whose key was dropped fails with [`SealError::UnknownKey`], naming it, instead of looking
//! tampered. Values of the first format (`v1.`, no key id) open with whichever key of the ring
//! sealed them.
//!
//! The record's storage address is bound in as associated data, so a sealed value copied onto
//! another record (another workspace's connector, say) fails to open instead of being trusted.
//! XChaCha's 192-bit nonce makes random nonces safe for any number of seals under one key.
//!
//! Pure: the caller passes the nonce's random bytes in.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use std::fmt;

/// The format with a key id, which every seal writes.
const FORMAT_PREFIX: &str = "v2.";
/// The first format: no key id.
const LEGACY_PREFIX: &str = "v1.";
pub const KEY_BYTES: usize = 32;
pub const NONCE_BYTES: usize = 24;
/// A passphrase entry must carry at least this many characters; Secrets Manager's generated
/// 64-character alphanumeric strings (about 380 bits) pass, a human password does not.
pub const MIN_PASSPHRASE_CHARS: usize = 40;
/// Keys in one ring: a rotation needs two; a few more cover a rotation that is left half done.
pub const MAX_KEYS: usize = 8;
/// Hex characters of a key id: 32 bits of SHA-256 of the key, enough to tell a ring's keys apart.
const KEY_ID_HEX: usize = 8;

struct SealingKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

/// The master keyring. Its `Debug` shows key ids, never keys.
#[derive(Clone)]
pub struct SecretBox {
    /// Never empty; the first key seals.
    keys: std::sync::Arc<Vec<SealingKey>>,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBox(keys: {:?})", self.key_ids())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error(
        "the master keyring must list one to {MAX_KEYS} distinct keys, separated by whitespace or commas, each the \
         standard base64 of {KEY_BYTES} bytes or a random passphrase of at least {MIN_PASSPHRASE_CHARS} characters"
    )]
    BadKey,
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the sealed value was sealed under key {0}, which the master keyring does not hold")]
    UnknownKey(String),
    #[error("the sealed value does not open with this key and record (wrong key, tampered, or moved)")]
    WrongKeyOrTampered,
}

impl SecretBox {
    /// A ring of one key.
    pub fn new(key: [u8; KEY_BYTES]) -> Self {
        Self { keys: std::sync::Arc::new(vec![sealing_key(key)]) }
    }

    /// A ring of `keys`, the first sealing. Refuses an empty ring, more than [`MAX_KEYS`] and
    /// repeated keys.
    pub fn from_keys(keys: &[[u8; KEY_BYTES]]) -> Result<Self, SealError> {
        if keys.is_empty() || keys.len() > MAX_KEYS {
            return Err(SealError::BadKey);
        }
        let ring: Vec<SealingKey> = keys.iter().map(|key| sealing_key(*key)).collect();
        let mut ids: Vec<&str> = ring.iter().map(|key| key.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() != ring.len() {
            return Err(SealError::BadKey);
        }
        Ok(Self { keys: std::sync::Arc::new(ring) })
    }

    /// Reads a keyring as configured (`CAUSELOOP_SECRET_KEY`, `<data-dir>/secret.key`, or the
    /// Secrets Manager secret): entries separated by whitespace or commas, the first sealing.
    /// An entry that is the standard base64 of 32 bytes is the key itself; any other entry of at
    /// least [`MIN_PASSPHRASE_CHARS`] characters is a passphrase (what CloudFormation's
    /// `GenerateSecretString` makes) and the key is its SHA-256 under a fixed label.
    pub fn from_keyring_text(text: &str) -> Result<Self, SealError> {
        let keys = text
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|entry| !entry.is_empty())
            .map(key_from_entry)
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_keys(&keys)
    }

    /// The id of the key that seals.
    pub fn current_key_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Every key's id, the sealing one first.
    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|key| key.id.as_str()).collect()
    }

    /// Encrypts `plaintext` under the current key for the record named by `context`
    /// (e.g. `"webhook-secret/<ws>/<whk>"`).
    pub fn seal(&self, context: &str, plaintext: &[u8], nonce: [u8; NONCE_BYTES]) -> String {
        let key = &self.keys[0];
        let sealed = key
            .cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad: context.as_bytes() })
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory inputs");
        let mut out = Vec::with_capacity(NONCE_BYTES + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        format!("{FORMAT_PREFIX}{}.{}", key.id, STANDARD.encode(out))
    }

    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, SealError> {
        match parse(sealed)? {
            Parsed::Keyed { key_id, bytes } => {
                let key = self
                    .keys
                    .iter()
                    .find(|key| key.id == key_id)
                    .ok_or_else(|| SealError::UnknownKey(key_id.to_string()))?;
                decrypt(&key.cipher, context, &bytes)
            }
            Parsed::Legacy { bytes } => self
                .keys
                .iter()
                .find_map(|key| decrypt(&key.cipher, context, &bytes).ok())
                .ok_or(SealError::WrongKeyOrTampered),
        }
    }

    /// Whether `sealed` is already under the current key (so [`SecretBox::reseal`] leaves it).
    pub fn is_current(&self, sealed: &str) -> bool {
        matches!(parse(sealed), Ok(Parsed::Keyed { key_id, .. }) if key_id == self.current_key_id())
    }

    /// `sealed` opened and sealed again under the current key for the same record, or `None`
    /// when it already is under the current key.
    pub fn reseal(&self, context: &str, sealed: &str, nonce: [u8; NONCE_BYTES]) -> Result<Option<String>, SealError> {
        if self.is_current(sealed) {
            return Ok(None);
        }
        let plaintext = self.open(context, sealed)?;
        Ok(Some(self.seal(context, &plaintext, nonce)))
    }
}

enum Parsed<'a> {
    Keyed { key_id: &'a str, bytes: Vec<u8> },
    Legacy { bytes: Vec<u8> },
}

fn parse(sealed: &str) -> Result<Parsed<'_>, SealError> {
    let decode = |encoded: &str| {
        let bytes = STANDARD.decode(encoded).map_err(|_| SealError::Malformed)?;
        if bytes.len() < NONCE_BYTES + 16 {
            return Err(SealError::Malformed);
        }
        Ok(bytes)
    };
    if let Some(rest) = sealed.strip_prefix(FORMAT_PREFIX) {
        let (key_id, encoded) = rest.split_once('.').ok_or(SealError::Malformed)?;
        if key_id.len() != KEY_ID_HEX || !key_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SealError::Malformed);
        }
        return Ok(Parsed::Keyed { key_id, bytes: decode(encoded)? });
    }
    let encoded = sealed.strip_prefix(LEGACY_PREFIX).ok_or(SealError::Malformed)?;
    Ok(Parsed::Legacy { bytes: decode(encoded)? })
}

fn decrypt(cipher: &XChaCha20Poly1305, context: &str, bytes: &[u8]) -> Result<Vec<u8>, SealError> {
    let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
    cipher
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: context.as_bytes() })
        .map_err(|_| SealError::WrongKeyOrTampered)
}

fn sealing_key(key: [u8; KEY_BYTES]) -> SealingKey {
    let digest = Sha256::new().chain_update(b"causeloop master key id\0").chain_update(key).finalize();
    let id = hex::encode(&digest[..KEY_ID_HEX / 2]);
    SealingKey { id, cipher: XChaCha20Poly1305::new(&key.into()) }
}

fn key_from_entry(entry: &str) -> Result<[u8; KEY_BYTES], SealError> {
    if let Ok(bytes) = STANDARD.decode(entry) {
        if let Ok(key) = bytes.try_into() {
            return Ok(key);
        }
    }
    if entry.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(SealError::BadKey);
    }
    Ok(Sha256::new().chain_update(b"causeloop master key\0").chain_update(entry.as_bytes()).finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_hides_the_plaintext() {
        let sealer = SecretBox::new([7; 32]);
        let sealed = sealer.seal("webhook/ws_1/whk_1", b"whsec_abc", [1; 24]);
        assert!(!sealed.contains("whsec_abc"));
        assert!(sealed.starts_with(&format!("v2.{}.", sealer.current_key_id())), "{sealed}");
        assert_eq!(sealer.open("webhook/ws_1/whk_1", &sealed).unwrap(), b"whsec_abc");
    }

    #[test]
    fn refuses_another_key_another_record_and_tampering() {
        let sealer = SecretBox::new([7; 32]);
        let sealed = sealer.seal("webhook/ws_1/whk_1", b"whsec_abc", [1; 24]);
        let other = SecretBox::new([8; 32]);
        assert_eq!(
            other.open("webhook/ws_1/whk_1", &sealed),
            Err(SealError::UnknownKey(sealer.current_key_id().to_string()))
        );
        assert_eq!(sealer.open("webhook/ws_2/whk_1", &sealed), Err(SealError::WrongKeyOrTampered));
        let (head, encoded) = sealed.rsplit_once('.').unwrap();
        let mut bytes = STANDARD.decode(encoded).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = format!("{head}.{}", STANDARD.encode(bytes));
        assert_eq!(sealer.open("webhook/ws_1/whk_1", &tampered), Err(SealError::WrongKeyOrTampered));
        let relabelled = sealed.replacen(sealer.current_key_id(), other.current_key_id(), 1);
        assert_eq!(
            SecretBox::from_keys(&[[8; 32], [7; 32]]).unwrap().open("webhook/ws_1/whk_1", &relabelled),
            Err(SealError::WrongKeyOrTampered)
        );
        for malformed in ["v2.!!", "v2.zzzzzzzz.AAAA", "v1.!!", "plain", "v2.0011.AAAA"] {
            assert_eq!(sealer.open("webhook/ws_1/whk_1", malformed), Err(SealError::Malformed), "{malformed}");
        }
    }

    #[test]
    fn a_ring_seals_with_its_first_key_and_opens_with_any() {
        let old = SecretBox::new([1; 32]);
        let sealed_old = old.seal("c", b"secret", [3; 24]);
        let ring = SecretBox::from_keys(&[[2; 32], [1; 32]]).unwrap();
        assert_eq!(ring.key_ids(), vec![SecretBox::new([2; 32]).current_key_id(), old.current_key_id()]);
        assert_eq!(ring.open("c", &sealed_old).unwrap(), b"secret");
        assert!(!ring.is_current(&sealed_old));

        let resealed = ring.reseal("c", &sealed_old, [4; 24]).unwrap().expect("an old value is sealed again");
        assert!(ring.is_current(&resealed));
        assert_eq!(ring.reseal("c", &resealed, [5; 24]).unwrap(), None, "a current value is left alone");
        let new_only = SecretBox::new([2; 32]);
        assert_eq!(new_only.open("c", &resealed).unwrap(), b"secret");
        assert_eq!(new_only.open("c", &sealed_old), Err(SealError::UnknownKey(old.current_key_id().to_string())));
    }

    #[test]
    fn first_format_values_open_with_whichever_key_sealed_them() {
        // The first format: "v1." and base64(nonce ‖ ciphertext), no key id.
        let key = [1u8; 32];
        let cipher = XChaCha20Poly1305::new(&key.into());
        let nonce = [9u8; 24];
        let ciphertext = cipher.encrypt(XNonce::from_slice(&nonce), Payload { msg: b"old secret", aad: b"c" }).unwrap();
        let legacy = format!("v1.{}", STANDARD.encode([nonce.as_slice(), &ciphertext].concat()));

        let ring = SecretBox::from_keys(&[[2; 32], key]).unwrap();
        assert_eq!(ring.open("c", &legacy).unwrap(), b"old secret");
        let resealed = ring.reseal("c", &legacy, [4; 24]).unwrap().unwrap();
        assert!(resealed.starts_with("v2."));
        assert_eq!(SecretBox::new([2; 32]).open("c", &legacy), Err(SealError::WrongKeyOrTampered));
    }

    #[test]
    fn keyrings_are_base64_keys_or_long_passphrases() {
        let raw = STANDARD.encode([0u8; 32]);
        assert_eq!(SecretBox::from_keyring_text(&format!(" {raw}\n")).unwrap().key_ids().len(), 1);
        let passphrase = "Xk2s9QmZr4VtLp8WcYd3Hn6JfBg1RaUe7TqNo5MiKv0z";
        let ring = SecretBox::from_keyring_text(&format!("{passphrase}, {raw}")).unwrap();
        assert_eq!(ring.key_ids().len(), 2);
        assert_eq!(ring.key_ids()[1], SecretBox::new([0; 32]).current_key_id());
        let again = SecretBox::from_keyring_text(passphrase).unwrap();
        assert_eq!(again.current_key_id(), ring.current_key_id(), "a passphrase always derives the same key");

        for bad in ["", " , ", "not base64!", &STANDARD.encode([0u8; 16]), &format!("{raw} {raw}")] {
            assert_eq!(SecretBox::from_keyring_text(bad).unwrap_err(), SealError::BadKey, "{bad:?}");
        }
        let nine = (0..9).map(|_| passphrase).enumerate().map(|(i, p)| format!("{p}{i}")).collect::<Vec<_>>();
        assert_eq!(SecretBox::from_keyring_text(&nine.join(" ")).unwrap_err(), SealError::BadKey);
        let shown = format!("{ring:?}");
        assert!(shown.contains(ring.current_key_id()) && !shown.contains(&raw), "{shown}");
    }
}
