//! The sealed envelope: `ver ‖ kid ‖ iv ‖ ct ‖ tag`, AES-256-CBC then HMAC-SHA256 over
//! everything before the tag plus the associated data and its length (encrypt-then-MAC).

use crate::keys::{KeyId, LinkKeys, KID_LEN};
use crate::secret::LinkSecret;
use crate::{base64url, Error};
use aes::cipher::{block_padding::Pkcs7, BlockModeDecrypt, BlockModeEncrypt, InnerIvInit};
use aes::Aes256;
use hmac::Mac;

/// The protocol version byte.
pub const VERSION: u8 = 0x01;
/// Bytes in the random IV.
pub const IV_LEN: usize = 16;
/// Bytes in the HMAC-SHA256 tag.
pub const TAG_LEN: usize = 32;
const BLOCK: usize = 16;
const HEADER_LEN: usize = 1 + KID_LEN + IV_LEN;
/// Bytes an envelope adds around its ciphertext.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// The shortest envelope: an empty plaintext still pads to one block.
pub const MIN_ENVELOPE_LEN: usize = OVERHEAD + BLOCK;
/// The default largest envelope text accepted or produced: 1 MiB.
pub const DEFAULT_MAX_TEXT_LEN: usize = 1 << 20;
/// Secrets a link may hold at once: the first seals, all open (rotation).
pub const MAX_SECRETS: usize = 3;

/// Bytes of the binary envelope for a plaintext of `len` bytes.
pub fn sealed_len(len: usize) -> Option<usize> {
    (len / BLOCK)
        .checked_add(1)?
        .checked_mul(BLOCK)?
        .checked_add(OVERHEAD)
}

/// Characters of the text envelope for a plaintext of `len` bytes.
pub fn sealed_text_len(len: usize) -> Option<usize> {
    sealed_len(len).and_then(base64url::encoded_len)
}

/// An upper bound on the plaintext inside an envelope text of `len` characters.
pub fn opened_max_len(text_len: usize) -> usize {
    (text_len / 4 * 3 + (text_len % 4) * 3 / 4).saturating_sub(OVERHEAD + 1)
}

/// The secrets of one link (1 to 3) with their prepared keys, and the size limit.
/// Immutable once built, so one keyring may be shared by threads.
#[derive(Debug)]
pub struct Keyring {
    keys: Vec<LinkKeys>,
    max_text_len: usize,
}

impl Keyring {
    /// A keyring from 1–3 secrets; the first one seals.
    pub fn new(secrets: &[LinkSecret]) -> Result<Self, Error> {
        if secrets.is_empty() {
            return Err(Error::NoSecrets);
        }
        if secrets.len() > MAX_SECRETS {
            return Err(Error::TooManySecrets);
        }
        let keys: Vec<LinkKeys> = secrets.iter().map(LinkKeys::derive).collect();
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].iter().any(|other| other.kid == k.kid) {
                return Err(Error::DuplicateSecret);
            }
        }
        Ok(Keyring {
            keys,
            max_text_len: DEFAULT_MAX_TEXT_LEN,
        })
    }

    /// A keyring from a comma-separated list of `usk1_…` secrets (spaces around commas allowed).
    pub fn parse(list: &[u8]) -> Result<Self, Error> {
        if list.trim_ascii().is_empty() {
            return Err(Error::NoSecrets);
        }
        let secrets = list
            .split(|&b| b == b',')
            .map(|item| LinkSecret::parse(item.trim_ascii()))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(&secrets)
    }

    /// Sets the largest envelope text this keyring seals or opens.
    pub fn with_max_text_len(mut self, max_text_len: usize) -> Self {
        self.max_text_len = max_text_len;
        self
    }

    /// The largest envelope text this keyring seals or opens.
    pub fn max_text_len(&self) -> usize {
        self.max_text_len
    }

    /// The key ids of all secrets, sealing one first.
    pub fn kids(&self) -> impl Iterator<Item = &KeyId> {
        self.keys.iter().map(|k| &k.kid)
    }

    /// The key id of the sealing secret.
    pub fn sealing_kid(&self) -> &KeyId {
        &self.keys[0].kid
    }

    /// Seals `plaintext` under the first secret with a fresh random IV; returns the text form.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<String, Error> {
        let text_len = sealed_text_len(plaintext.len()).ok_or(Error::TooLarge)?;
        if text_len > self.max_text_len {
            return Err(Error::TooLarge);
        }
        Ok(base64url::encode(&self.seal_bytes(aad, plaintext)?))
    }

    /// Seals like [`Keyring::seal`] but returns the binary envelope (no size limit applied).
    pub fn seal_bytes(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = vec![0u8; sealed_len(plaintext.len()).ok_or(Error::TooLarge)?];
        self.seal_into(aad, plaintext, &mut out)?;
        Ok(out)
    }

    /// Seals into `out` (exactly [`sealed_len`] bytes of it are written, nothing on failure):
    /// the binary envelope without an allocation.
    pub fn seal_into(&self, aad: &[u8], plaintext: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        let total = sealed_len(plaintext.len()).ok_or(Error::TooLarge)?;
        if out.len() < total {
            return Err(Error::BufferTooSmall);
        }
        let mut iv = [0u8; IV_LEN];
        getrandom::fill(&mut iv).map_err(|_| Error::RandomUnavailable)?;
        seal_with_iv_into(&self.keys[0], &iv, aad, plaintext, &mut out[..total]);
        Ok(total)
    }

    /// Opens an envelope text: size → decode → version → key id → tag (constant time) →
    /// decrypt → unpad. Every failure from the key id on is `AuthenticationFailed`.
    pub fn open(&self, aad: &[u8], text: &[u8]) -> Result<Vec<u8>, Error> {
        self.open_owned(aad, decode_text(text, self.max_text_len)?)
    }

    /// Opens a binary envelope, from the version check on.
    pub fn open_bytes(&self, aad: &[u8], envelope: &[u8]) -> Result<Vec<u8>, Error> {
        self.open_owned(aad, envelope.to_vec())
    }

    /// Opens a binary envelope the caller gives up, decrypting in place (one buffer in all).
    pub(crate) fn open_owned(&self, aad: &[u8], mut envelope: Vec<u8>) -> Result<Vec<u8>, Error> {
        let kid = envelope_kid(&envelope)?;
        let keys = self
            .keys
            .iter()
            .find(|k| &k.kid == kid)
            .ok_or(Error::AuthenticationFailed)?;
        let plaintext = open_in_place(keys, aad, &mut envelope)?;
        envelope.copy_within(plaintext.clone(), 0);
        envelope.truncate(plaintext.len());
        Ok(envelope)
    }
}

/// Checks the size bound and decodes the text form.
pub(crate) fn decode_text(text: &[u8], max_text_len: usize) -> Result<Vec<u8>, Error> {
    if text.len() > max_text_len {
        return Err(Error::TooLarge);
    }
    base64url::decode(text).ok_or(Error::MalformedEncoding)
}

/// Checks the version and the layout of a binary envelope and returns its key id.
pub(crate) fn envelope_kid(envelope: &[u8]) -> Result<&KeyId, Error> {
    match envelope.first() {
        None => return Err(Error::MalformedEnvelope),
        Some(&VERSION) => {}
        Some(_) => return Err(Error::UnsupportedVersion),
    }
    if envelope.len() < MIN_ENVELOPE_LEN || (envelope.len() - OVERHEAD) % BLOCK != 0 {
        return Err(Error::MalformedEnvelope);
    }
    Ok(envelope[1..1 + KID_LEN].try_into().expect("length checked"))
}

/// Seals with a given IV, for the known-answer tests: the public API always draws a random IV.
#[cfg(test)]
pub(crate) fn seal_with_iv(
    keys: &LinkKeys,
    iv: &[u8; IV_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    let mut out = vec![0u8; sealed_len(plaintext.len()).expect("caller bounded the size")];
    seal_with_iv_into(keys, iv, aad, plaintext, &mut out);
    out
}

/// Writes the envelope into `out`, which is exactly [`sealed_len`] bytes.
fn seal_with_iv_into(
    keys: &LinkKeys,
    iv: &[u8; IV_LEN],
    aad: &[u8],
    plaintext: &[u8],
    out: &mut [u8],
) {
    let (body, tag) = out.split_at_mut(out.len() - TAG_LEN);
    body[0] = VERSION;
    body[1..1 + KID_LEN].copy_from_slice(&keys.kid);
    body[1 + KID_LEN..HEADER_LEN].copy_from_slice(iv);
    cbc::Encryptor::<Aes256>::inner_iv_init(keys.cipher.clone(), iv.into())
        .encrypt_padded_b2b::<Pkcs7>(plaintext, &mut body[HEADER_LEN..])
        .expect("buffer sized for padding");
    tag.copy_from_slice(&mac(keys, body, aad).finalize().into_bytes());
}

/// Verifies the tag in constant time, then decrypts and unpads in place; returns where in
/// `envelope` the plaintext now is.
pub(crate) fn open_in_place(
    keys: &LinkKeys,
    aad: &[u8],
    envelope: &mut [u8],
) -> Result<std::ops::Range<usize>, Error> {
    let (body, tag) = envelope.split_at_mut(envelope.len() - TAG_LEN);
    mac(keys, body, aad)
        .verify_slice(tag)
        .map_err(|_| Error::AuthenticationFailed)?;
    let iv: [u8; IV_LEN] = body[1 + KID_LEN..HEADER_LEN].try_into().expect("layout");
    let len = cbc::Decryptor::<Aes256>::inner_iv_init(keys.cipher.clone(), (&iv).into())
        .decrypt_padded::<Pkcs7>(&mut body[HEADER_LEN..])
        .map_err(|_| Error::AuthenticationFailed)?
        .len();
    Ok(HEADER_LEN..HEADER_LEN + len)
}

/// HMAC-SHA256(mac, body ‖ aad ‖ uint64_be(len(aad))), from the prepared keyed state.
fn mac(keys: &LinkKeys, body: &[u8], aad: &[u8]) -> hmac::Hmac<sha2::Sha256> {
    let mut m = keys.mac.clone();
    m.update(body);
    m.update(aad);
    m.update(&(aad.len() as u64).to_be_bytes());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(n: usize) -> (Vec<LinkSecret>, Keyring) {
        let secrets: Vec<_> = (0..n).map(|_| LinkSecret::generate().unwrap()).collect();
        let ring = Keyring::new(&secrets).unwrap();
        (secrets, ring)
    }

    #[test]
    fn round_trips_at_block_boundaries() {
        let (_, k) = ring(1);
        for len in [0, 1, 15, 16, 17, 31, 32, 33, 1000] {
            let pt: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let text = k.seal(b"aad", &pt).unwrap();
            assert_eq!(Some(text.len()), sealed_text_len(len));
            assert!(opened_max_len(text.len()) >= len);
            assert_eq!(k.open(b"aad", text.as_bytes()).unwrap(), pt);
        }
    }

    #[test]
    fn every_message_gets_a_fresh_iv() {
        let (_, k) = ring(1);
        assert_ne!(k.seal(b"", b"same").unwrap(), k.seal(b"", b"same").unwrap());
    }

    #[test]
    fn any_single_bit_flip_or_other_aad_fails_authentication() {
        let (_, k) = ring(1);
        let env = base64url::decode(k.seal(b"aad", b"hello world").unwrap().as_bytes()).unwrap();
        for byte in 1..env.len() {
            for bit in 0..8 {
                let mut t = env.clone();
                t[byte] ^= 1 << bit;
                let text = base64url::encode(&t);
                assert_eq!(
                    k.open(b"aad", text.as_bytes()),
                    Err(Error::AuthenticationFailed)
                );
            }
        }
        let mut t = env.clone();
        t[0] ^= 1;
        let text = base64url::encode(&t);
        assert_eq!(
            k.open(b"aad", text.as_bytes()),
            Err(Error::UnsupportedVersion)
        );
        let good = base64url::encode(&env);
        for aad in [&b""[..], b"aaD", b"aad\0", b"aa"] {
            assert_eq!(
                k.open(aad, good.as_bytes()),
                Err(Error::AuthenticationFailed)
            );
        }
    }

    #[test]
    fn rotation_opens_with_any_secret_and_seals_with_the_first() {
        let (secrets, new_ring) = ring(3);
        let old_ring = Keyring::new(&secrets[2..]).unwrap();
        let from_old = old_ring.seal(b"", b"old").unwrap();
        assert_eq!(new_ring.open(b"", from_old.as_bytes()).unwrap(), b"old");
        let from_new = new_ring.seal(b"", b"new").unwrap();
        assert_eq!(
            old_ring.open(b"", from_new.as_bytes()),
            Err(Error::AuthenticationFailed)
        );
        assert_eq!(new_ring.sealing_kid(), LinkKeys::derive(&secrets[0]).kid());
    }

    #[test]
    fn refuses_bad_keyrings() {
        let secrets: Vec<_> = (0..4).map(|_| LinkSecret::generate().unwrap()).collect();
        assert_eq!(Keyring::new(&[]).unwrap_err(), Error::NoSecrets);
        assert_eq!(Keyring::parse(b"").unwrap_err(), Error::NoSecrets);
        assert_eq!(Keyring::parse(b" ").unwrap_err(), Error::NoSecrets);
        assert_eq!(Keyring::new(&secrets).unwrap_err(), Error::TooManySecrets);
        let dup = [secrets[0].clone(), secrets[0].clone()];
        assert_eq!(Keyring::new(&dup).unwrap_err(), Error::DuplicateSecret);
        let list = format!("{} , {}", secrets[0].to_text(), secrets[1].to_text());
        assert!(Keyring::parse(list.as_bytes()).is_ok());
        assert_eq!(
            Keyring::parse(format!("{},", secrets[0].to_text()).as_bytes()).unwrap_err(),
            Error::SecretPrefix
        );
    }

    #[test]
    fn size_limits_apply_to_seal_and_open() {
        let (_, k) = ring(1);
        let k = k.with_max_text_len(200);
        let fits = 200 * 3 / 4 - OVERHEAD - 16;
        let text = k.seal(b"", &vec![7; fits]).unwrap();
        assert!(text.len() <= 200);
        assert_eq!(k.seal(b"", &vec![7; fits + 16]), Err(Error::TooLarge));
        assert_eq!(k.open(b"", &[b'A'; 201]), Err(Error::TooLarge));
    }

    #[test]
    fn structural_errors_come_before_authentication() {
        let (_, k) = ring(1);
        let env = base64url::decode(k.seal(b"", b"x").unwrap().as_bytes()).unwrap();
        assert_eq!(k.open(b"", b""), Err(Error::MalformedEnvelope));
        assert_eq!(k.open(b"", b"AQ=="), Err(Error::MalformedEncoding));
        for cut in [1, 9, 25, 41, env.len() - 1] {
            let text = base64url::encode(&env[..cut]);
            assert_eq!(k.open(b"", text.as_bytes()), Err(Error::MalformedEnvelope));
        }
        // Dropping one whole ciphertext block keeps the layout valid: the tag catches it.
        let mut short = env[..HEADER_LEN].to_vec();
        short.extend_from_slice(&env[env.len() - TAG_LEN..]);
        assert_eq!(short.len(), OVERHEAD);
        let text = base64url::encode(&short);
        assert_eq!(k.open(b"", text.as_bytes()), Err(Error::MalformedEnvelope));
    }
}

/// The JSON vectors in `tests/vectors/`, made by an independent Python implementation.
#[cfg(test)]
mod vectors {
    use super::*;
    use serde_json::Value;

    fn load(name: &str) -> Vec<Value> {
        let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
        let json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        json["cases"].as_array().unwrap().clone()
    }

    fn hex(v: &Value) -> Vec<u8> {
        let s = v.as_str().unwrap();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn keyring(case: &Value) -> Keyring {
        let list: Vec<&str> = case["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        let ring = Keyring::parse(list.join(",").as_bytes()).unwrap();
        match case["max_text_len"].as_u64() {
            Some(max) => ring.with_max_text_len(max as usize),
            None => ring,
        }
    }

    #[test]
    fn generate_vectors_match_byte_for_byte() {
        let cases = load("envelope-generate.json");
        assert!(cases.len() >= 10);
        for case in cases {
            let secret = LinkSecret::parse(case["secret"].as_str().unwrap().as_bytes()).unwrap();
            let keys = LinkKeys::derive(&secret);
            assert_eq!(
                keys.kid().to_vec(),
                hex(&case["kid_hex"]),
                "{}",
                case["desc"]
            );
            let iv: [u8; IV_LEN] = hex(&case["iv_hex"]).try_into().unwrap();
            let aad = hex(&case["aad_hex"]);
            let pt = hex(&case["plaintext_hex"]);
            let sealed = base64url::encode(&seal_with_iv(&keys, &iv, &aad, &pt));
            assert_eq!(
                sealed,
                case["envelope"].as_str().unwrap(),
                "{}",
                case["desc"]
            );
            let ring = Keyring::new(&[secret]).unwrap();
            assert_eq!(ring.open(&aad, sealed.as_bytes()).unwrap(), pt);
        }
    }

    #[test]
    fn verify_vectors_open() {
        for case in load("envelope-verify.json") {
            let opened = keyring(&case).open(
                &hex(&case["aad_hex"]),
                case["envelope"].as_str().unwrap().as_bytes(),
            );
            assert_eq!(
                opened.unwrap(),
                hex(&case["plaintext_hex"]),
                "{}",
                case["desc"]
            );
        }
    }

    #[test]
    fn invalid_vectors_are_refused_with_their_reason() {
        let cases = load("envelope-invalid.json");
        assert!(cases.len() >= 40);
        for case in cases {
            let err = keyring(&case)
                .open(
                    &hex(&case["aad_hex"]),
                    case["envelope"].as_str().unwrap().as_bytes(),
                )
                .unwrap_err();
            assert_eq!(
                err.name(),
                case["error"].as_str().unwrap(),
                "{}",
                case["desc"]
            );
        }
    }

    #[test]
    fn secret_vectors() {
        for case in load("secret.json") {
            let got = LinkSecret::parse(case["secret"].as_str().unwrap().as_bytes());
            assert_eq!(
                got.err().map(Error::name),
                case["error"].as_str(),
                "{}",
                case["desc"]
            );
        }
    }
}

/// Property tests: any plaintext and associated data round-trip; any single-bit change of an
/// envelope is refused.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn ring() -> Keyring {
        Keyring::new(&[LinkSecret::generate().unwrap()]).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn round_trip(pt in proptest::collection::vec(any::<u8>(), 0..2048),
                      aad in proptest::collection::vec(any::<u8>(), 0..128)) {
            let k = ring();
            let text = k.seal(&aad, &pt).unwrap();
            prop_assert_eq!(k.open(&aad, text.as_bytes()).unwrap(), pt);
        }

        #[test]
        fn any_bit_flip_is_refused(pt in proptest::collection::vec(any::<u8>(), 0..300),
                                   pos in any::<prop::sample::Index>(), bit in 0u8..8) {
            let k = ring();
            let mut env = k.seal_bytes(b"aad", &pt).unwrap();
            let i = pos.index(env.len());
            env[i] ^= 1 << bit;
            prop_assert!(k.open_bytes(b"aad", &env).is_err());
            let text = base64url::encode(&env);
            prop_assert!(k.open(b"aad", text.as_bytes()).is_err());
        }

        #[test]
        fn arbitrary_text_never_panics_or_opens(text in proptest::collection::vec(any::<u8>(), 0..400)) {
            prop_assert!(ring().open(b"", &text).is_err());
        }
    }
}
