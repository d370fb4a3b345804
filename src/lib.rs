//! usersync: share users between websites safely.
//!
//! Layers, from the bottom: [`base64url`] and [`secret`] (link secrets), [`keys`] (HKDF
//! subkeys), [`envelope`] (sealed messages), and [`ffi`], the C ABI that hosts such as the PHP
//! binding call. The wire format is specified in `docs/protocol.md`.

pub mod base64url;
pub mod envelope;
mod error;
pub mod ffi;
pub mod keys;
pub mod secret;

pub use envelope::Keyring;
pub use error::Error;
pub use secret::LinkSecret;
