//! Build script: gives the shared library its soname, so programs linked with `-lusersync`
//! record `libusersync.so` and find whichever copy the loader is pointed at.
//!
//! The C header is not made here: `make header` runs cbindgen 0.29.2 over `src/ffi/` and
//! `make check-header` diffs a fresh generation against the committed `include/usersync.h`, so
//! a build never writes into the source tree and no consumer of the crate builds cbindgen.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libusersync.so");
    }
}
