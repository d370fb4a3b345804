//! The C ABI: every `extern "C"` function of the library and nothing else.
//!
//! Each entry point runs inside [`guard`] (a panic becomes `USERSYNC_RESULT_PANIC` instead of
//! unwinding into C or PHP), reads its arguments through [`input`] and writes its outputs
//! through [`output`], so the NULL, length and "write only on success" rules live in one place.

mod context;
mod envelope;
mod result;
mod secret;
mod wordpress;

pub use context::*;
pub use envelope::*;
pub use result::*;
pub use secret::*;
pub use wordpress::*;

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
