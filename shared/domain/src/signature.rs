//! HMAC-SHA256 signatures, hex encoded, compared in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 over the concatenation of `parts` (no separator is added).
pub fn hmac_sha256(secret: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Lowercase hex HMAC-SHA256 of `body`: the `x-causeloop-signature` / `X-Webhook-Signature` format.
pub fn sign_hex(secret: &[u8], body: &[u8]) -> String {
    hex::encode(hmac_sha256(secret, &[body]))
}

/// Checks a presented hex signature. Fails closed on a missing value, bad hex or a wrong length;
/// the digest comparison itself is constant time. Upper-case hex is accepted.
pub fn verify_hex(secret: &[u8], body: &[u8], presented: &str) -> bool {
    let presented = presented.trim();
    if presented.len() != 64 {
        return false;
    }
    let Ok(presented) = hex::decode(presented) else {
        return false;
    };
    let expected = hmac_sha256(secret, &[body]);
    expected.ct_eq(presented.as_slice()).into()
}

/// Constant-time equality for secrets of possibly different lengths (length is not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_4231_test_vector() {
        // RFC 4231, test case 2.
        let mac = sign_hex(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(mac, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn verify_fails_closed() {
        let sig = sign_hex(b"secret", b"{\"a\":1}");
        assert!(verify_hex(b"secret", b"{\"a\":1}", &sig));
        assert!(verify_hex(b"secret", b"{\"a\":1}", &sig.to_uppercase()));
        assert!(!verify_hex(b"secret", b"{\"a\": 1}", &sig), "different bytes");
        assert!(!verify_hex(b"other", b"{\"a\":1}", &sig), "different secret");
        assert!(!verify_hex(b"secret", b"{\"a\":1}", ""), "missing");
        assert!(!verify_hex(b"secret", b"{\"a\":1}", &sig[..62]), "short");
        assert!(!verify_hex(b"secret", b"{\"a\":1}", &format!("{}zz", &sig[..62])), "bad hex");
    }
}
