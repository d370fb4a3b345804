//! Link secrets through the C ABI.

use super::{guard, input, usersync_result, Output};
use crate::secret::{LinkSecret, TEXT_LEN};
use std::ffi::c_char;
use zeroize::Zeroize;

/// Characters in a link secret's text form ("usk1_" + 43): the buffer size for
/// usersync_secret_generate().
#[no_mangle]
pub extern "C" fn usersync_secret_text_len() -> usize {
    TEXT_LEN
}

/// Generates a new link secret from the OS CSPRNG and writes its text form ("usk1_…",
/// usersync_secret_text_len() characters) to out. The caller owns the buffer and should wipe it
/// once the secret is stored. out_len must not be NULL.
///
/// # Safety
/// out must be writable for out_cap bytes and out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_secret_generate(
    out: *mut c_char,
    out_cap: usize,
    out_len: *mut usize,
) -> usersync_result {
    guard(|| {
        let out = Output::new(out, out_cap, out_len)?;
        let mut text = LinkSecret::generate()?.to_text();
        let written = out.write(text.as_bytes());
        text.zeroize();
        written
    })
}

/// Checks a link secret's text form: USERSYNC_RESULT_OK, or the reason it is refused
/// (SECRET_PREFIX, SECRET_LENGTH, SECRET_ENCODING, SECRET_ALL_ZERO). Nothing is kept.
///
/// # Safety
/// text must be readable for text_len bytes (NULL only when text_len is 0).
#[no_mangle]
pub unsafe extern "C" fn usersync_secret_check(
    text: *const c_char,
    text_len: usize,
) -> usersync_result {
    guard(|| LinkSecret::parse(input(text, text_len)?).map(drop))
}
