//! API keys and their companion webhook secrets.
//!
//! A key is 32 random bytes, shown once and stored only as its SHA-256 (a fast hash is right for
//! 256-bit random secrets: there is nothing to brute-force). The webhook secret must be usable to
//! verify HMACs, so it cannot be hashed; instead it is stored *wrapped* — XORed with a pad derived
//! from the API key by HMAC — and the key that a provider webhook presents unwraps it. Neither the
//! key nor the secret can be recovered from what is stored.

use crate::signature::{constant_time_eq, hmac_sha256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

pub const KEY_PREFIX: &str = "clk_";
pub const WEBHOOK_SECRET_PREFIX: &str = "whsec_";
const WRAP_LABEL: &[u8] = b"causeloop/webhook-secret-wrap/v1";

/// What creating a key yields. `key` and `webhook_secret` are shown once and then forgotten.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    pub key: String,
    pub key_hash: String,
    pub webhook_secret: String,
    pub wrapped_webhook_secret: String,
    /// The first characters of the key, safe to show in listings to tell keys apart.
    pub hint: String,
}

pub fn issue_key(key_random: [u8; 32], secret_random: [u8; 32]) -> IssuedKey {
    let key = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(key_random));
    let webhook_secret = format!("{WEBHOOK_SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(secret_random));
    let wrapped = xor_pad(&key, secret_random);
    IssuedKey {
        key_hash: hash_key(&key),
        hint: key[..KEY_PREFIX.len() + 6].to_string(),
        key,
        webhook_secret,
        wrapped_webhook_secret: hex::encode(wrapped),
    }
}

/// The lookup hash of a presented key (lowercase hex SHA-256).
pub fn hash_key(presented: &str) -> String {
    hex::encode(Sha256::digest(presented.as_bytes()))
}

/// True when `presented` hashes to `stored_hash`, compared in constant time.
pub fn key_matches(presented: &str, stored_hash: &str) -> bool {
    constant_time_eq(hash_key(presented).as_bytes(), stored_hash.as_bytes())
}

/// Recovers the webhook secret with the key that was presented; `None` if the stored value is corrupt.
pub fn unwrap_webhook_secret(presented_key: &str, wrapped_hex: &str) -> Option<String> {
    let wrapped: [u8; 32] = hex::decode(wrapped_hex).ok()?.try_into().ok()?;
    let secret = xor_pad(presented_key, wrapped);
    Some(format!("{WEBHOOK_SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(secret)))
}

/// Cheap shape check so obviously malformed headers never cost a storage read.
pub fn looks_like_key(presented: &str) -> bool {
    presented.len() == KEY_PREFIX.len() + 43
        && presented.starts_with(KEY_PREFIX)
        && presented[KEY_PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn xor_pad(key: &str, data: [u8; 32]) -> [u8; 32] {
    let pad = hmac_sha256(key.as_bytes(), &[WRAP_LABEL]);
    let mut out = data;
    for (byte, pad_byte) in out.iter_mut().zip(pad) {
        *byte ^= pad_byte;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_key_round_trips_its_secret_and_stores_neither() {
        let issued = issue_key([3; 32], [9; 32]);
        assert!(looks_like_key(&issued.key));
        assert!(issued.webhook_secret.starts_with("whsec_"));
        assert!(key_matches(&issued.key, &issued.key_hash));
        assert_eq!(unwrap_webhook_secret(&issued.key, &issued.wrapped_webhook_secret).unwrap(), issued.webhook_secret);
        let secret_body = issued.webhook_secret.trim_start_matches(WEBHOOK_SECRET_PREFIX);
        assert!(!issued.wrapped_webhook_secret.contains(secret_body));
        assert!(!issued.key_hash.contains(&issued.key[KEY_PREFIX.len()..]));
    }

    #[test]
    fn a_different_key_unwraps_garbage() {
        let issued = issue_key([3; 32], [9; 32]);
        let other = issue_key([4; 32], [9; 32]);
        assert_ne!(unwrap_webhook_secret(&other.key, &issued.wrapped_webhook_secret).unwrap(), issued.webhook_secret);
        assert!(!key_matches(&other.key, &issued.key_hash));
    }

    #[test]
    fn shape_check_rejects_near_misses() {
        let issued = issue_key([0; 32], [0; 32]);
        assert!(!looks_like_key(&issued.key[1..]));
        assert!(!looks_like_key(&format!("{}=", &issued.key[..issued.key.len() - 1])));
        assert!(!looks_like_key("Bearer"));
    }
}
