//! The initial sync through the C ABI (docs/protocol.md §18): the sender's probe and batch,
//! the receiver's answer. Results are library-allocated JSON: see usersync_bytes_free().

use super::{input, peer_id, usersync_result};
use crate::ffi::context::{usersync_context, with_context};
use std::ffi::c_char;

/// Builds a probe for peer (its id) asking which of this site's accounts exist there, for the
/// initial sync's dry-run report. accounts is a JSON array of 1 to 1000 local accounts, each
/// the user record of a create (`login`, `email`, `fields`?, `roles`?, `meta`?, `pass_hash`?)
/// plus `uid` when it is linked already and `super_admin`?. On success *out receives a
/// library-allocated JSON object `{"peer", "url", "message", "jti", "local"}`: message (`null`
/// when no account may be offered) to POST to the peer's inbox, jti to match the answer, and per
/// account `{"do": "ask"}` or `{"do": "not_sent", "reason"}` (privileged_not_sent, data_invalid,
/// pass_hash_format, …); released with usersync_bytes_free(). ACTION_NOT_SENT when this site does
/// not send creates to the peer; INVALID_ARGUMENT for an empty or too long list.
///
/// # Safety
/// ctx from usersync_context_new(); inputs readable as sized; out and out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_context_sync_probe(
    ctx: *const usersync_context,
    peer: *const c_char,
    peer_len: usize,
    accounts: *const c_char,
    accounts_len: usize,
    out: *mut *mut c_char,
    out_len: *mut usize,
) -> usersync_result {
    with_context(ctx, out, out_len, |ctx| {
        let peer = peer_id(peer, peer_len)?;
        ctx.sync_probe(peer, input(accounts, accounts_len)?)
    })
}

/// Builds a batch for peer carrying out the dry-run report: accounts as for
/// usersync_context_sync_probe(), each with the `uid` it is linked by (minted once by this site
/// and kept until the batch is answered, so a batch sent twice changes nothing the second time)
/// and `op`: `"create"` (with the profile and password hash the send policy lets out) or
/// `"link"`. Output shaped like usersync_context_sync_probe()'s, released with
/// usersync_bytes_free(); TOO_LARGE when the batch would not fit a message (send fewer).
///
/// # Safety
/// ctx from usersync_context_new(); inputs readable as sized; out and out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_context_sync_batch(
    ctx: *const usersync_context,
    peer: *const c_char,
    peer_len: usize,
    accounts: *const c_char,
    accounts_len: usize,
    out: *mut *mut c_char,
    out_len: *mut usize,
) -> usersync_result {
    with_context(ctx, out, out_len, |ctx| {
        let peer = peer_id(peer, peer_len)?;
        ctx.sync_batch(peer, input(accounts, accounts_len)?)
    })
}

/// The receiver's side of a probe or batch: opened is the JSON object
/// usersync_context_open_action() returned for it, facts the host's JSON `{"accounts": [{"linked",
/// "by_login", "by_email"}, …]}` — for each asked account (a batch: its creates, then its links)
/// the account linked to its uid, the account with its login and one with its email, each
/// `null` or `{"id", "uid"?, "roles", "super_admin"?}`, read inside the transaction that applies
/// the batch. On success *out receives a library-allocated JSON object `{"peer", "url",
/// "message", "results"}`: results per account `{"do": "create" | "link" | "linked" |
/// "collision" | "not_sent", "reason"?, "uid"?}` (a batch: by uid; apply exactly the create and
/// link ones), and message, the sealed answer to return to the sender in the HTTP answer;
/// released with usersync_bytes_free(). DATA_INVALID for a message that is not a probe or batch,
/// or facts of another shape or count.
///
/// # Safety
/// ctx from usersync_context_new(); inputs readable as sized; out and out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_context_sync_answer(
    ctx: *const usersync_context,
    opened: *const c_char,
    opened_len: usize,
    facts: *const c_char,
    facts_len: usize,
    out: *mut *mut c_char,
    out_len: *mut usize,
) -> usersync_result {
    with_context(ctx, out, out_len, |ctx| {
        ctx.sync_answer(input(opened, opened_len)?, input(facts, facts_len)?)
    })
}
