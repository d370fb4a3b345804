//! Random URL-safe nonces for hosts (state parameters, one-time tokens).

use crate::{base64url, Error};

/// Shortest and longest nonce, in characters (16 characters carry 96 random bits).
pub const MIN_LEN: usize = 16;
pub const MAX_LEN: usize = 256;

/// `len` characters of base64url, every one carrying 6 random bits from the OS CSPRNG.
pub fn nonce(len: usize) -> Result<String, Error> {
    if !(MIN_LEN..=MAX_LEN).contains(&len) {
        return Err(Error::InvalidArgument);
    }
    let mut bytes = vec![0u8; len.div_ceil(4) * 3];
    getrandom::fill(&mut bytes).map_err(|_| Error::RandomUnavailable)?;
    let mut text = base64url::encode(&bytes);
    text.truncate(len);
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_alphabet_and_bounds() {
        for len in [MIN_LEN, 17, 18, 19, 43, MAX_LEN] {
            let n = nonce(len).unwrap();
            assert_eq!(n.len(), len);
            assert!(n
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        }
        assert_ne!(nonce(32).unwrap(), nonce(32).unwrap());
        assert_eq!(nonce(MIN_LEN - 1), Err(Error::InvalidArgument));
        assert_eq!(nonce(MAX_LEN + 1), Err(Error::InvalidArgument));
    }
}
