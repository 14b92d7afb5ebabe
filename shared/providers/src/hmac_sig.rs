//! HMAC-SHA256 signatures carried as hex in a header.

use crate::error::VerifyError;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

const SHA256_LEN: usize = 32;

pub(crate) fn hmac_sha256(secret: &[u8], message_parts: &[&[u8]]) -> [u8; SHA256_LEN] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    for part in message_parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Decodes a presented hex signature, refusing anything that is not exactly one SHA-256 MAC.
pub(crate) fn decode_hex_mac(presented: &str, header: &'static str) -> Result<[u8; SHA256_LEN], VerifyError> {
    let bytes = hex::decode(presented.trim()).map_err(|_| VerifyError::BadHex { header })?;
    <[u8; SHA256_LEN]>::try_from(bytes.as_slice()).map_err(|_| VerifyError::WrongLength {
        header,
        expected: SHA256_LEN,
        got: bytes.len(),
    })
}

pub(crate) fn require_secret(secret: &[u8]) -> Result<(), VerifyError> {
    if secret.is_empty() {
        Err(VerifyError::NoSecret)
    } else {
        Ok(())
    }
}

/// Checks `presented` (hex) against HMAC-SHA256(secret, concatenated parts) in constant time.
pub(crate) fn verify_hex_hmac_sha256(
    secret: &[u8],
    message_parts: &[&[u8]],
    presented: &str,
    header: &'static str,
) -> Result<(), VerifyError> {
    require_secret(secret)?;
    let presented = decode_hex_mac(presented, header)?;
    let expected = hmac_sha256(secret, message_parts);
    if bool::from(expected.ct_eq(&presented)) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// The `X-Webhook-Signature` scheme every tool that can send a custom header may use.
pub(crate) const WEBHOOK_SIGNATURE_HEADER: &str = "X-Webhook-Signature";

pub(crate) fn verify_webhook_signature(
    headers: &crate::Headers,
    raw_body: &[u8],
    secret: &[u8],
) -> Result<(), VerifyError> {
    require_secret(secret)?;
    let presented =
        headers.get_nonblank(WEBHOOK_SIGNATURE_HEADER).ok_or(VerifyError::MissingHeader(WEBHOOK_SIGNATURE_HEADER))?;
    verify_hex_hmac_sha256(secret, &[raw_body], presented, WEBHOOK_SIGNATURE_HEADER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_4231_test_case_2() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn accepts_upper_case_hex_and_surrounding_spaces() {
        let mac = hex::encode_upper(hmac_sha256(b"k", &[b"body"]));
        assert_eq!(verify_hex_hmac_sha256(b"k", &[b"body"], &format!(" {mac} "), "H"), Ok(()));
    }

    #[test]
    fn refuses_an_empty_secret_even_with_a_matching_mac() {
        let mac = hex::encode(hmac_sha256(b"", &[b"body"]));
        assert_eq!(verify_hex_hmac_sha256(b"", &[b"body"], &mac, "H"), Err(VerifyError::NoSecret));
    }
}
