//! Link secrets: 32 random bytes shared by exactly two sites, written `usk1_` + 43 base64url chars.

use crate::{base64url, Error};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The text form's prefix; the `1` is the secret format version.
pub const PREFIX: &str = "usk1_";
/// Bytes in a secret.
pub const SECRET_LEN: usize = 32;
/// Characters in the text form: the prefix plus 43 base64url characters.
pub const TEXT_LEN: usize = PREFIX.len() + 43;

/// One link's secret. Wiped from memory when dropped; never printed by `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct LinkSecret([u8; SECRET_LEN]);

impl LinkSecret {
    /// A fresh secret from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, Error> {
        let mut bytes = [0u8; SECRET_LEN];
        getrandom::fill(&mut bytes).map_err(|_| Error::RandomUnavailable)?;
        Self::from_bytes(bytes)
    }

    /// Wraps raw bytes, refusing the all-zero secret (an unset or wiped buffer, never a real one).
    pub fn from_bytes(mut bytes: [u8; SECRET_LEN]) -> Result<Self, Error> {
        let secret = LinkSecret(bytes);
        bytes.zeroize();
        if secret.0.iter().all(|&b| b == 0) {
            return Err(Error::SecretAllZero);
        }
        Ok(secret)
    }

    /// Parses the `usk1_…` text form. Surrounding whitespace is not trimmed: configuration
    /// loaders trim, so a stray character here is a real mistake worth reporting.
    pub fn parse(text: &[u8]) -> Result<Self, Error> {
        let body = text
            .strip_prefix(PREFIX.as_bytes())
            .ok_or(Error::SecretPrefix)?;
        if body.len() != TEXT_LEN - PREFIX.len() {
            return Err(Error::SecretLength);
        }
        let mut decoded = base64url::decode(body).ok_or(Error::SecretEncoding)?;
        let result = <[u8; SECRET_LEN]>::try_from(decoded.as_slice())
            .map_err(|_| Error::SecretLength)
            .and_then(Self::from_bytes);
        decoded.zeroize();
        result
    }

    /// The `usk1_…` text form (wipe it when done if it is not being stored).
    pub fn to_text(&self) -> String {
        let mut text = String::with_capacity(TEXT_LEN);
        text.push_str(PREFIX);
        text.push_str(&base64url::encode(&self.0));
        text
    }

    pub(crate) fn bytes(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for LinkSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSecret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_parse_back_and_differ() {
        let a = LinkSecret::generate().unwrap();
        let b = LinkSecret::generate().unwrap();
        let text = a.to_text();
        assert_eq!(text.len(), TEXT_LEN);
        assert!(text.starts_with(PREFIX));
        assert_eq!(
            LinkSecret::parse(text.as_bytes()).unwrap().bytes(),
            a.bytes()
        );
        assert_ne!(a.bytes(), b.bytes());
    }

    #[test]
    fn refuses_malformed_secrets_with_a_reason() {
        let good = LinkSecret::generate().unwrap().to_text();
        let cases: Vec<(String, Error)> = vec![
            (good.replacen("usk1_", "usk2_", 1), Error::SecretPrefix),
            (good[5..].to_string(), Error::SecretPrefix),
            (String::new(), Error::SecretPrefix),
            (good[..good.len() - 1].to_string(), Error::SecretLength),
            (format!("{good}A"), Error::SecretLength),
            (
                format!("{} ", &good[..good.len() - 1]),
                Error::SecretEncoding,
            ),
            (
                format!("{}=", &good[..good.len() - 1]),
                Error::SecretEncoding,
            ),
            (
                format!("{}+", &good[..good.len() - 1]),
                Error::SecretEncoding,
            ),
            // 43 chars carry 258 bits: the last char's low 2 bits must be zero ("B" sets one).
            (
                format!("usk1_{}B", "A".repeat(41) + "Q"),
                Error::SecretEncoding,
            ),
            (format!("usk1_{}", "A".repeat(43)), Error::SecretAllZero),
        ];
        for (text, want) in cases {
            assert_eq!(
                LinkSecret::parse(text.as_bytes()).unwrap_err(),
                want,
                "{text:?}"
            );
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let s = LinkSecret::generate().unwrap();
        assert_eq!(format!("{s:?}"), "LinkSecret(..)");
    }
}
