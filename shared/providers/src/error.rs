use thiserror::Error;

/// Why a request's signature was refused. Every variant means "reject with 401".
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    #[error("no webhook secret is configured for this key")]
    NoSecret,
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("{header} is not valid hex")]
    BadHex { header: &'static str },
    #[error("{header} has {got} bytes, expected {expected}")]
    WrongLength { header: &'static str, expected: usize, got: usize },
    #[error("{header} is not in the expected format")]
    BadFormat { header: &'static str },
    #[error("signature does not match")]
    Mismatch,
    #[error("{header} is not a Unix timestamp in seconds")]
    BadTimestamp { header: &'static str },
    #[error("signature timestamp {timestamp} is more than {max_skew_secs} s away from now ({now})")]
    StaleTimestamp { timestamp: i64, now: i64, max_skew_secs: i64 },
    /// The provider is authenticated by the SNS message signature, which needs the signing
    /// certificate: use [`crate::sns::verify_sns_message`].
    #[error("this provider is verified through the SNS message signature")]
    SnsCertificateRequired,
    #[error("SNS SigningCertURL is not an Amazon SNS https .pem URL: {0}")]
    UntrustedCertUrl(String),
    #[error("SNS SubscribeURL is not an Amazon SNS https URL: {0}")]
    UntrustedSubscribeUrl(String),
    #[error("unsupported SNS SignatureVersion {0:?}")]
    UnsupportedSignatureVersion(String),
    #[error("SNS Signature is not valid base64")]
    BadSignatureEncoding,
    #[error("SNS {0} message lacks {1}, which its signature covers")]
    MissingSignedField(&'static str, &'static str),
    #[error("signing certificate is unusable: {0}")]
    BadCertificate(String),
    /// SNS stops retrying an HTTP/S delivery after at most an hour, so an older message (or one
    /// from the future) is a replay, not a delivery.
    #[error("SNS Timestamp {timestamp:?} is outside the window in which SNS delivers ({max_age_secs} s old at most, {max_ahead_secs} s ahead)")]
    SnsMessageOutOfWindow { timestamp: String, max_age_secs: i64, max_ahead_secs: i64 },
}

/// Why a body could not be read. Callers answer 422 (400 for [`ParseError::InvalidJson`]) and
/// can name [`ParseError::field`] in the error body.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("{0} is required")]
    MissingField(String),
    #[error("{field} {reason}")]
    InvalidField { field: String, reason: String },
    #[error("{0}")]
    Unsupported(String),
}

impl ParseError {
    /// The JSON path of the field at fault, when there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            ParseError::MissingField(field) | ParseError::InvalidField { field, .. } => Some(field),
            ParseError::InvalidJson(_) | ParseError::Unsupported(_) => None,
        }
    }

    pub(crate) fn missing(field: impl Into<String>) -> Self {
        ParseError::MissingField(field.into())
    }

    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ParseError::InvalidField { field: field.into(), reason: reason.into() }
    }
}
