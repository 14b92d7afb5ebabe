//! Secrets at rest: webhook signing secrets and connector credentials, sealed with
//! XChaCha20-Poly1305 under the service's 32-byte master key.
//!
//! Why encryption and not a hash: an API key is only ever *compared*, so a hash suffices, but a
//! signing secret must be *used* — the inbound receiver recomputes HMAC-SHA256(secret, body) and
//! the delivery worker signs with it — so the plaintext must be recoverable by the service. Sealing
//! keeps a stolen table dump (a backup, an export, a misconfigured IAM read) useless without the
//! key, which lives outside the table (an environment variable fed by a NoEcho parameter, or a
//! 0600 file for `causeloop serve`).
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
use std::fmt;

/// Version tag of the sealed format, so the scheme can change without guessing.
const FORMAT_PREFIX: &str = "v1.";
pub const KEY_BYTES: usize = 32;
pub const NONCE_BYTES: usize = 24;

/// The master key. Its `Debug` never prints the key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBox(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the master key must be {KEY_BYTES} bytes, base64 encoded")]
    BadKey,
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the sealed value does not open with this key and record (wrong key, tampered, or moved)")]
    WrongKeyOrTampered,
}

impl SecretBox {
    pub fn new(key: [u8; KEY_BYTES]) -> Self {
        Self { cipher: XChaCha20Poly1305::new(&key.into()) }
    }

    /// Reads the key as configured (`CAUSELOOP_SECRET_KEY`): standard base64 of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, SealError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| SealError::BadKey)?;
        let key: [u8; KEY_BYTES] = bytes.try_into().map_err(|_| SealError::BadKey)?;
        Ok(Self::new(key))
    }

    /// Encrypts `plaintext` for the record named by `context` (e.g. `"webhook/<ws>/<whk>"`).
    pub fn seal(&self, context: &str, plaintext: &[u8], nonce: [u8; NONCE_BYTES]) -> String {
        let sealed = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad: context.as_bytes() })
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory inputs");
        let mut out = Vec::with_capacity(NONCE_BYTES + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        format!("{FORMAT_PREFIX}{}", STANDARD.encode(out))
    }

    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, SealError> {
        let encoded = sealed.strip_prefix(FORMAT_PREFIX).ok_or(SealError::Malformed)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| SealError::Malformed)?;
        if bytes.len() < NONCE_BYTES + 16 {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        self.cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: context.as_bytes() })
            .map_err(|_| SealError::WrongKeyOrTampered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_hides_the_plaintext() {
        let sealer = SecretBox::new([7; 32]);
        let sealed = sealer.seal("webhook/ws_1/whk_1", b"whsec_abc", [1; 24]);
        assert!(!sealed.contains("whsec_abc"));
        assert_eq!(sealer.open("webhook/ws_1/whk_1", &sealed).unwrap(), b"whsec_abc");
    }

    #[test]
    fn refuses_another_key_another_record_and_tampering() {
        let sealer = SecretBox::new([7; 32]);
        let sealed = sealer.seal("webhook/ws_1/whk_1", b"whsec_abc", [1; 24]);
        assert_eq!(SecretBox::new([8; 32]).open("webhook/ws_1/whk_1", &sealed), Err(SealError::WrongKeyOrTampered));
        assert_eq!(sealer.open("webhook/ws_2/whk_1", &sealed), Err(SealError::WrongKeyOrTampered));
        let mut bytes = STANDARD.decode(&sealed[3..]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = format!("v1.{}", STANDARD.encode(bytes));
        assert_eq!(sealer.open("webhook/ws_1/whk_1", &tampered), Err(SealError::WrongKeyOrTampered));
        assert_eq!(sealer.open("webhook/ws_1/whk_1", "v1.!!"), Err(SealError::Malformed));
        assert_eq!(sealer.open("webhook/ws_1/whk_1", "plain"), Err(SealError::Malformed));
    }

    #[test]
    fn keys_are_32_bytes_of_base64() {
        assert!(SecretBox::from_base64(&STANDARD.encode([0u8; 32])).is_ok());
        assert_eq!(SecretBox::from_base64(&STANDARD.encode([0u8; 16])).unwrap_err(), SealError::BadKey);
        assert_eq!(SecretBox::from_base64("not base64!").unwrap_err(), SealError::BadKey);
        assert_eq!(format!("{:?}", SecretBox::new([9; 32])), "SecretBox(<redacted>)");
    }
}
