//! Account identity through the C ABI: new uids, browser bindings for login tickets, and
//! passwords checked against another host's hashes.

use super::{guard, input, usersync_result, Output};
use crate::actions::{BND_BYTES, UID_BYTES};
use crate::{base64url, claims, identity};
use std::ffi::c_char;

/// Characters of a uid (16 bytes in base64url): the buffer size for usersync_uid_new().
#[no_mangle]
pub extern "C" fn usersync_uid_len() -> usize {
    base64url::encoded_len(UID_BYTES).expect("small")
}

/// Mints a new account uid (16 bytes from the OS CSPRNG, base64url, usersync_uid_len()
/// characters) into the caller's buffer out. A site mints one when an account is created on it
/// (or linked by an administrator) and stores it with the account (docs/protocol.md §15).
///
/// # Safety
/// out writable for out_cap bytes; out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_uid_new(
    out: *mut c_char,
    out_cap: usize,
    out_len: *mut usize,
) -> usersync_result {
    guard(|| {
        let out = Output::new(out, out_cap, out_len)?;
        out.write(claims::new_uid()?.as_bytes())
    })
}

/// Characters of a ticket binding hash: the buffer size for usersync_binding_hash().
#[no_mangle]
pub extern "C" fn usersync_binding_hash_len() -> usize {
    base64url::encoded_len(BND_BYTES).expect("small")
}

/// Writes `bnd` = base64url(SHA-256(value)) for a browser-binding value (16 to 256 bytes; else
/// INVALID_ARGUMENT) into the caller's buffer out (usersync_binding_hash_len() characters). The
/// site that will receive a login ticket sets value in an HttpOnly cookie of the browser and
/// hands the browser this hash for the minting site (docs/protocol.md §12).
///
/// # Safety
/// value readable for value_len bytes; out writable for out_cap bytes; out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_binding_hash(
    value: *const c_char,
    value_len: usize,
    out: *mut c_char,
    out_cap: usize,
    out_len: *mut usize,
) -> usersync_result {
    guard(|| {
        let out = Output::new(out, out_cap, out_len)?;
        let value = input(value, value_len)?;
        if !(16..=256).contains(&value.len()) {
            return Err(crate::Error::InvalidArgument);
        }
        out.write(identity::binding_hash(value).as_bytes())
    })
}

/// Checks a user's password against a hash another host made (docs/protocol.md §17): WordPress
/// 6.8's `$wp$2y$`, bcrypt `$2y$`/`$2a$`/`$2b$`, phpass `$P$`/`$H$`, Django's `pbkdf2_sha256$`.
/// USERSYNC_RESULT_OK when it matches, PASSWORD_MISMATCH when not, PASS_HASH_FORMAT for a hash
/// that cannot be checked here (argon2, another format, a work factor over the library's limits:
/// bcrypt cost 20, 5 000 000 PBKDF2 rounds). Compared in constant time; nothing is kept. A host
/// re-hashes the password in its own format after the first match.
///
/// # Safety
/// password and hash readable as sized.
#[no_mangle]
pub unsafe extern "C" fn usersync_password_verify(
    password: *const c_char,
    password_len: usize,
    hash: *const c_char,
    hash_len: usize,
) -> usersync_result {
    guard(|| {
        let password = input(password, password_len)?;
        let hash = std::str::from_utf8(input(hash, hash_len)?)
            .map_err(|_| crate::Error::PassHashFormat)?;
        crate::password::verify(password, hash)
    })
}
