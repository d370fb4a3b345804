//! Keyrings and sealed envelopes through the C ABI.

use super::{free, guard, input, store, usersync_result, Output};
use crate::envelope::{self, Keyring};
use crate::Error;
use std::ffi::c_char;

/// The secrets of one link (1 to 3; the first seals, all open) and a size limit.
/// Create with usersync_keyring_new(), release with usersync_keyring_free().
#[allow(non_camel_case_types)]
pub struct usersync_keyring(Keyring);

/// The default largest envelope text sealed or opened: 1 MiB (1048576 characters).
#[no_mangle]
pub extern "C" fn usersync_keyring_default_max_text_len() -> usize {
    envelope::DEFAULT_MAX_TEXT_LEN
}

/// Characters of the envelope text that sealing plaintext_len bytes produces: the exact buffer
/// size for usersync_keyring_seal(). 0 if that would overflow size_t.
#[no_mangle]
pub extern "C" fn usersync_keyring_sealed_len(plaintext_len: usize) -> usize {
    envelope::sealed_text_len(plaintext_len).unwrap_or(0)
}

/// An upper bound on the plaintext inside an envelope text of text_len characters: a buffer
/// of this size is always large enough for usersync_keyring_open().
#[no_mangle]
pub extern "C" fn usersync_keyring_opened_max_len(text_len: usize) -> usize {
    envelope::opened_max_len(text_len)
}

/// Bytes of the binary envelope that sealing plaintext_len bytes produces: the exact buffer size
/// for usersync_keyring_seal_binary(). 0 if that would overflow size_t.
#[no_mangle]
pub extern "C" fn usersync_keyring_sealed_binary_len(plaintext_len: usize) -> usize {
    envelope::sealed_len(plaintext_len).unwrap_or(0)
}

/// An upper bound on the plaintext inside a binary envelope of envelope_len bytes: a buffer of
/// this size is always large enough for usersync_keyring_open_binary().
#[no_mangle]
pub extern "C" fn usersync_keyring_opened_binary_max_len(envelope_len: usize) -> usize {
    envelope_len.saturating_sub(envelope::OVERHEAD + 1)
}

/// Creates a keyring from a comma-separated list of 1–3 link secrets ("usk1_…", spaces around
/// commas allowed); the first seals, all open. max_text_len bounds the envelope texts sealed
/// and opened (0 means usersync_keyring_default_max_text_len()). On success *out receives a new keyring
/// that the caller owns and releases with usersync_keyring_free(). The library keeps no
/// reference to secrets; the caller may wipe them after the call.
///
/// # Safety
/// secrets must be readable for secrets_len bytes; out must be writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_keyring_new(
    secrets: *const c_char,
    secrets_len: usize,
    max_text_len: usize,
    out: *mut *mut usersync_keyring,
) -> usersync_result {
    guard(|| {
        if out.is_null() {
            return Err(Error::NullArgument);
        }
        let mut ring = Keyring::parse(input(secrets, secrets_len)?)?;
        if max_text_len != 0 {
            ring = ring.with_max_text_len(max_text_len);
        }
        store(out, usersync_keyring(ring));
        Ok(())
    })
}

/// Releases a keyring and wipes its keys. NULL is a no-op. The keyring must not be used after.
///
/// # Safety
/// keyring must be NULL or come from usersync_keyring_new() and not be freed already.
#[no_mangle]
pub unsafe extern "C" fn usersync_keyring_free(keyring: *mut usersync_keyring) {
    free(keyring)
}

/// Seals plaintext with associated data aad (authenticated, not sent) under the keyring's first
/// secret and a fresh random IV, and writes the envelope text (unpadded base64url) to out.
/// out_cap must be at least usersync_keyring_sealed_len(plaintext_len), else BUFFER_TOO_SMALL;
/// TOO_LARGE when the text would exceed the keyring's maximum. out may overlap the inputs.
///
/// # Safety
/// keyring must come from usersync_keyring_new(); inputs readable and out writable as sized.
#[no_mangle]
pub unsafe extern "C" fn usersync_keyring_seal(
    keyring: *const usersync_keyring,
    aad: *const c_char,
    aad_len: usize,
    plaintext: *const c_char,
    plaintext_len: usize,
    out: *mut c_char,
    out_cap: usize,
    out_len: *mut usize,
) -> usersync_result {
    guard(|| {
        let ring = &keyring.as_ref().ok_or(Error::NullArgument)?.0;
        let out = Output::new(out, out_cap, out_len)?;
        let plaintext = input(plaintext, plaintext_len)?;
        let text_len = envelope::sealed_text_len(plaintext.len()).ok_or(Error::TooLarge)?;
        if text_len > ring.max_text_len() {
            return Err(Error::TooLarge);
        }
        if text_len > out_cap {
            return Err(Error::BufferTooSmall); // before any work: a caller growing its buffer loses nothing
        }
        // Sealed into the library's own buffer (out may overlap the inputs), encoded into out.
        out.write_text(&ring.seal_bytes(input(aad, aad_len)?, plaintext)?)
    })
}

/// Opens an envelope text sealed with associated data aad under any of the keyring's secrets and
/// writes the plaintext to out (out_cap of usersync_keyring_opened_max_len(text_len) always suffices).
/// Refusals: TOO_LARGE, MALFORMED_ENCODING, MALFORMED_ENVELOPE, UNSUPPORTED_VERSION, and
/// AUTHENTICATION_FAILED for every failure from the key id on. out may overlap the inputs.
///
/// # Safety
/// keyring must come from usersync_keyring_new(); inputs readable and out writable as sized.
#[no_mangle]
pub unsafe extern "C" fn usersync_keyring_open(
    keyring: *const usersync_keyring,
    aad: *const c_char,
    aad_len: usize,
    text: *const c_char,
    text_len: usize,
    out: *mut c_char,
    out_cap: usize,
    out_len: *mut usize,
) -> usersync_result {
    guard(|| {
        let ring = &keyring.as_ref().ok_or(Error::NullArgument)?.0;
        let out = Output::new(out, out_cap, out_len)?;
        let plaintext = ring.open(input(aad, aad_len)?, input(text, text_len)?)?;
        out.write(&plaintext)
    })
}

/// Seals like usersync_keyring_seal() but writes the binary envelope (docs/protocol.md §4), for
/// hosts that carry bytes, not text: out_cap must be at least
/// usersync_keyring_sealed_binary_len(plaintext_len), else BUFFER_TOO_SMALL. The keyring's
/// maximum applies to the text the envelope would make. out may overlap the inputs.
///
/// # Safety
/// keyring must come from usersync_keyring_new(); inputs readable and out writable as sized.
#[no_mangle]
pub unsafe extern "C" fn usersync_keyring_seal_binary(
    keyring: *const usersync_keyring,
    aad: *const c_char,
    aad_len: usize,
    plaintext: *const c_char,
    plaintext_len: usize,
    out: *mut c_char,
    out_cap: usize,
    out_len: *mut usize,
) -> usersync_result {
    guard(|| {
        let ring = &keyring.as_ref().ok_or(Error::NullArgument)?.0;
        let out = Output::new(out, out_cap, out_len)?;
        let plaintext = input(plaintext, plaintext_len)?;
        if envelope::sealed_text_len(plaintext.len()).is_none_or(|n| n > ring.max_text_len()) {
            return Err(Error::TooLarge);
        }
        out.write(&ring.seal_bytes(input(aad, aad_len)?, plaintext)?)
    })
}

/// Opens a binary envelope sealed with associated data aad, as usersync_keyring_open() opens the
/// text form (from the version check on; TOO_LARGE when the envelope's text form would exceed
/// the keyring's maximum), writing the plaintext to out (out_cap of
/// usersync_keyring_opened_binary_max_len(envelope_len) always suffices). out may overlap the
/// inputs.
///
/// # Safety
/// keyring must come from usersync_keyring_new(); inputs readable and out writable as sized.
#[no_mangle]
pub unsafe extern "C" fn usersync_keyring_open_binary(
    keyring: *const usersync_keyring,
    aad: *const c_char,
    aad_len: usize,
    envelope: *const c_char,
    envelope_len: usize,
    out: *mut c_char,
    out_cap: usize,
    out_len: *mut usize,
) -> usersync_result {
    guard(|| {
        let ring = &keyring.as_ref().ok_or(Error::NullArgument)?.0;
        let out = Output::new(out, out_cap, out_len)?;
        let envelope = input(envelope, envelope_len)?;
        if crate::base64url::encoded_len(envelope.len()).is_none_or(|n| n > ring.max_text_len()) {
            return Err(Error::TooLarge);
        }
        out.write(&ring.open_bytes(input(aad, aad_len)?, envelope)?)
    })
}
