//! Per-link subkeys derived from a link secret with HKDF-SHA256 (RFC 5869), prepared once.

use crate::secret::LinkSecret;
use aes::Aes256;
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit};
use sha2::Sha256;
use zeroize::Zeroizing;

/// Bytes in a key id.
pub const KID_LEN: usize = 8;
/// A key id: names a secret in the clear so the receiver never tries keys blindly.
pub type KeyId = [u8; KID_LEN];

const SALT: &[u8] = b"usersync/v1";
const INFO_ENC: &[u8] = b"usersync/v1 enc";
const INFO_MAC: &[u8] = b"usersync/v1 mac";
const INFO_KID: &[u8] = b"usersync/v1 kid";

/// The keys of one link secret. The AES key schedule and the keyed HMAC state are built once
/// here (cloning them per message is cheaper than re-keying) and are wiped when dropped.
pub struct LinkKeys {
    pub(crate) kid: KeyId,
    pub(crate) cipher: Aes256,
    pub(crate) mac: Hmac<Sha256>,
}

impl LinkKeys {
    /// Derives `enc`, `mac` and `kid` from a secret as the protocol specifies.
    pub fn derive(secret: &LinkSecret) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(SALT), secret.bytes());
        let mut enc = Zeroizing::new([0u8; 32]);
        let mut mac = Zeroizing::new([0u8; 32]);
        let mut kid = [0u8; KID_LEN];
        // Lengths of at most 255 × 32 bytes cannot fail.
        hkdf.expand(INFO_ENC, &mut enc[..]).expect("HKDF length");
        hkdf.expand(INFO_MAC, &mut mac[..]).expect("HKDF length");
        hkdf.expand(INFO_KID, &mut kid).expect("HKDF length");
        LinkKeys {
            kid,
            cipher: Aes256::new_from_slice(&enc[..]).expect("32-byte AES key"),
            mac: Hmac::<Sha256>::new_from_slice(&mac[..]).expect("HMAC takes any key length"),
        }
    }

    /// This secret's key id.
    pub fn kid(&self) -> &KeyId {
        &self.kid
    }
}

impl std::fmt::Debug for LinkKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkKeys")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}
