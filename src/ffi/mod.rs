//! The C ABI: every `extern "C"` function of the library and nothing else.
//!
//! Each entry point runs inside [`guard`] (a panic becomes `USERSYNC_RESULT_PANIC` instead of
//! unwinding into C or PHP), reads its arguments through [`input`] and writes its outputs
//! through [`Output`] (caller buffers) or [`Allocated`] (library allocations), so the NULL,
//! length and "write only on success" rules live in one place.

mod context;
mod envelope;
mod identity;
mod result;
mod secret;
mod sync;
mod wordpress;

pub use context::*;
pub use envelope::*;
pub use identity::*;
pub use result::*;
pub use secret::*;
pub use sync::*;
pub use wordpress::*;

use crate::config::ConfigError;
use crate::Error;
use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs an entry point's body, turning its outcome (or a panic) into a result code.
fn guard(body: impl FnOnce() -> Result<(), Error>) -> usersync_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => usersync_result::Ok,
        Ok(Err(e)) => e.into(),
        Err(_) => usersync_result::Panic,
    }
}

/// A peer's site id given as `(ptr, len)`: bytes that are not UTF-8 name no configured peer.
///
/// # Safety
/// As for [`input`].
unsafe fn peer_id<'a>(ptr: *const c_char, len: usize) -> Result<&'a str, Error> {
    std::str::from_utf8(input(ptr, len)?).map_err(|_| Error::UnknownPeer)
}

/// Borrows a `(ptr, len)` byte input. NULL is allowed only for an empty input.
///
/// # Safety
/// `ptr` must point to `len` readable bytes that stay unchanged during the call.
unsafe fn input<'a>(ptr: *const c_char, len: usize) -> Result<&'a [u8], Error> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Error::NullArgument);
    }
    if len > isize::MAX as usize {
        return Err(Error::InvalidArgument);
    }
    Ok(std::slice::from_raw_parts(ptr.cast(), len))
}

/// A caller's output buffer, checked before any work is done and written only on success.
struct Output {
    ptr: *mut c_char,
    cap: usize,
    len: *mut usize,
}

impl Output {
    /// # Safety
    /// `ptr` must be writable for `cap` bytes and `len` writable, for the whole call.
    unsafe fn new(ptr: *mut c_char, cap: usize, len: *mut usize) -> Result<Self, Error> {
        if len.is_null() || (ptr.is_null() && cap != 0) {
            return Err(Error::NullArgument);
        }
        Ok(Output { ptr, cap, len })
    }

    /// Copies `data` out. `ptr::copy` (memmove) because the caller may reuse an input buffer.
    ///
    /// # Safety
    /// As for [`Output::new`].
    unsafe fn write(self, data: &[u8]) -> Result<(), Error> {
        if data.len() > self.cap {
            return Err(Error::BufferTooSmall);
        }
        if !data.is_empty() {
            std::ptr::copy(data.as_ptr(), self.ptr.cast(), data.len());
        }
        *self.len = data.len();
        Ok(())
    }

    /// Writes the strict base64url text of `data` straight into the buffer (no text copy in
    /// between). `data` must not borrow the caller's inputs (it is the library's own).
    ///
    /// # Safety
    /// As for [`Output::new`].
    unsafe fn write_text(self, data: &[u8]) -> Result<(), Error> {
        let n = crate::base64url::encoded_len(data.len()).ok_or(Error::TooLarge)?;
        if n > self.cap {
            return Err(Error::BufferTooSmall);
        }
        if n > 0 {
            let out = std::slice::from_raw_parts_mut(self.ptr.cast::<u8>(), n);
            crate::base64url::encode_into(data, out);
        }
        *self.len = n;
        Ok(())
    }
}

/// A caller's `(char **out, size_t *out_len)` for a library-allocated result, checked before
/// any work is done and written only on success; released with `usersync_bytes_free`.
struct Allocated {
    ptr: *mut *mut c_char,
    len: *mut usize,
}

impl Allocated {
    /// # Safety
    /// `ptr` and `len` must be writable for the whole call.
    unsafe fn new(ptr: *mut *mut c_char, len: *mut usize) -> Result<Self, Error> {
        if ptr.is_null() || len.is_null() {
            return Err(Error::NullArgument);
        }
        Ok(Allocated { ptr, len })
    }

    /// Hands `bytes` to the caller.
    ///
    /// # Safety
    /// As for [`Allocated::new`].
    unsafe fn give(self, bytes: Vec<u8>) {
        let boxed = bytes.into_boxed_slice();
        *self.len = boxed.len();
        *self.ptr = Box::into_raw(boxed).cast::<c_char>();
    }

    /// Hands a JSON value to the caller as compact JSON text.
    ///
    /// # Safety
    /// As for [`Allocated::new`].
    unsafe fn give_json(self, value: &serde_json::Value) {
        self.give(serde_json::to_vec(value).expect("a JSON value serialises"))
    }
}

/// Why a constructor from configuration failed: a plain error, or a configuration refusal
/// whose detail (naming the field) goes to the caller's err buffer.
enum Failure {
    Code(Error),
    Config(ConfigError),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Code(e)
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::Config(e)
    }
}

/// Runs a constructor; on a configuration refusal writes its detail to `err` (cut to
/// `err_cap`; nothing when `err_cap` is 0) and returns `ConfigInvalid`.
///
/// # Safety
/// `err` writable for `err_cap` bytes and `err_len` writable when `err_cap` is not 0.
unsafe fn with_config_error<T>(
    err: *mut c_char,
    err_cap: usize,
    err_len: *mut usize,
    build: impl FnOnce() -> Result<T, Failure>,
) -> Result<T, Error> {
    if (err.is_null() || err_len.is_null()) && err_cap != 0 {
        return Err(Error::NullArgument);
    }
    match build() {
        Ok(value) => Ok(value),
        Err(Failure::Code(e)) => Err(e),
        Err(Failure::Config(detail)) => {
            if err_cap != 0 {
                let detail = detail.to_string();
                let n = detail.len().min(err_cap);
                std::ptr::copy_nonoverlapping(detail.as_ptr(), err.cast::<u8>(), n);
                *err_len = n;
            }
            Err(Error::ConfigInvalid)
        }
    }
}

/// Stores a new object in `*out` (checked non-NULL by the caller first).
///
/// # Safety
/// `out` must be writable.
unsafe fn store<T>(out: *mut *mut T, value: T) {
    *out = Box::into_raw(Box::new(value));
}

/// Frees an object made by [`store`]; NULL is a no-op.
///
/// # Safety
/// `ptr` must be NULL or come from [`store`] and not be freed already.
unsafe fn free<T>(ptr: *mut T) {
    if !ptr.is_null() {
        guard(|| {
            drop(Box::from_raw(ptr));
            Ok(())
        });
    }
}
