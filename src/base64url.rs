//! Strict base64url without padding (RFC 4648 §5), the text form of secrets and envelopes.
//!
//! Decoding refuses padding, whitespace, characters outside the alphabet and non-canonical
//! trailing bits, so every byte string has exactly one accepted text form.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Encodes without padding.
pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Encodes without padding into `out`, which is exactly [`encoded_len`] bytes long.
pub(crate) fn encode_into(bytes: &[u8], out: &mut [u8]) {
    let n = URL_SAFE_NO_PAD
        .encode_slice(bytes, out)
        .expect("out sized by encoded_len");
    debug_assert_eq!(n, out.len());
}

/// Length of the encoding of `n` bytes, or `None` on overflow.
pub fn encoded_len(n: usize) -> Option<usize> {
    n.checked_mul(4).map(|x| x.div_ceil(3))
}

/// Decodes canonical unpadded base64url; `None` for anything else.
pub fn decode(text: &[u8]) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors_round_trip_without_padding() {
        // RFC 4648 §10 test vectors, padding removed.
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode(plain.as_bytes()), enc);
            assert_eq!(encoded_len(plain.len()), Some(enc.len()));
            assert_eq!(decode(enc.as_bytes()).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn uses_the_url_safe_alphabet() {
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(decode(b"-_8").unwrap(), [0xfb, 0xff]);
    }

    #[test]
    fn refuses_everything_but_the_canonical_form() {
        for bad in [
            "Zg==", "Zg=", "Zm9v\n", " Zm9v", "Zm 9v", "Zm+v", "Zm/v", "Z", "Zh", "Zm9", "Zm9vYh",
        ] {
            // "Zh", "Zm9" and "Zm9vYh" carry non-zero trailing bits; "Z" is an impossible length.
            assert_eq!(decode(bad.as_bytes()), None, "{bad:?} must be refused");
        }
    }
}
