//! usersync: share users between websites safely.
//!
//! Layers, from the bottom: [`base64url`] and [`secret`] (link secrets), [`keys`] (HKDF
//! subkeys), [`envelope`] (sealed messages); then the message layer: [`claims`], [`actions`]
//! (schemas), [`policy`], [`pass_hash`], [`ipnet`], [`origin`] (return URLs), [`config`] and
//! [`context`], which runs every check in the protocol's order; [`identity`], the target check
//! that decides which local account a message may touch; [`sync`], the initial sync of accounts
//! that existed before a link; and [`ffi`], the C ABI that
//! hosts such as the PHP binding call. The wire format is specified in `docs/protocol.md`.

pub mod actions;
pub mod base64url;
pub mod claims;
pub mod config;
pub mod context;
mod ct;
pub mod envelope;
mod error;
pub mod ffi;
pub mod identity;
pub mod ipnet;
pub mod keys;
pub mod nonce;
pub mod origin;
pub mod pass_hash;
pub mod password;
pub mod policy;
pub mod secret;
pub mod sync;
pub mod wordpress;

pub use context::{Context, Opened, Outgoing};
pub use envelope::Keyring;
pub use error::Error;
pub use secret::LinkSecret;
