//! Contexts (a site and its peers), user-action messages, login tickets and nonces through the
//! C ABI. Variable-size results are library-allocated JSON: see usersync_bytes_free().

use super::{
    free, guard, input, peer_id, store, usersync_result, with_config_error, Allocated, Output,
};
use crate::{nonce, Context, Error};
use std::ffi::c_char;
use zeroize::Zeroize;

/// One site's configuration: its id and URL, its peers with their link secrets and policies.
/// Create with usersync_context_new(), release with usersync_context_free(). Immutable: one
/// context may serve every thread of a host.
#[allow(non_camel_case_types)]
pub struct usersync_context(pub(super) Context);

/// Runs `f` for an entry point with a context and a library-allocated JSON result.
pub(super) unsafe fn with_context(
    ctx: *const usersync_context,
    out: *mut *mut c_char,
    out_len: *mut usize,
    f: impl FnOnce(&Context) -> Result<serde_json::Value, Error>,
) -> usersync_result {
    guard(|| {
        let ctx = &ctx.as_ref().ok_or(Error::NullArgument)?.0;
        let out = Allocated::new(out, out_len)?;
        out.give_json(&f(ctx)?);
        Ok(())
    })
}

/// Creates a context from a JSON configuration (format in docs/protocol.md, "Configuration").
/// On success *out receives a context owned by the caller (usersync_context_free()). On
/// USERSYNC_RESULT_CONFIG_INVALID, and only then, a sentence naming the faulty field (e.g.
/// "peers[1].secrets[0]: …"; never a secret) is written to err (cut to err_cap bytes) with its
/// length in *err_len; err may be NULL with err_cap 0 when the detail is not wanted. The library
/// keeps no reference to config; the caller may wipe it after the call.
///
/// # Safety
/// config readable for config_len bytes; out writable; err writable for err_cap bytes.
#[no_mangle]
pub unsafe extern "C" fn usersync_context_new(
    config: *const c_char,
    config_len: usize,
    out: *mut *mut usersync_context,
    err: *mut c_char,
    err_cap: usize,
    err_len: *mut usize,
) -> usersync_result {
    guard(|| {
        if out.is_null() {
            return Err(Error::NullArgument);
        }
        let ctx = with_config_error(err, err_cap, err_len, || {
            Context::from_json(input(config, config_len)?).map_err(Into::into)
        })?;
        store(out, usersync_context(ctx));
        Ok(())
    })
}

/// Releases a context and wipes its keys. NULL is a no-op. The context must not be used after.
///
/// # Safety
/// ctx must be NULL or come from usersync_context_new() and not be freed already.
#[no_mangle]
pub unsafe extern "C" fn usersync_context_free(ctx: *mut usersync_context) {
    free(ctx)
}

/// Releases a buffer that the library allocated for an output (*out of any function documented
/// as returning a library-allocated result: usersync_context_build(), usersync_context_open_action(),
/// usersync_context_mint_ticket(), usersync_context_open_ticket(), usersync_context_check_target(),
/// usersync_context_check_return(), …), wiping it first: it may hold password hashes. Pass the length the library gave. NULL is a no-op.
///
/// # Safety
/// ptr must be NULL or an output of this library with its length, not freed already.
#[no_mangle]
pub unsafe extern "C" fn usersync_bytes_free(ptr: *mut c_char, len: usize) {
    if !ptr.is_null() {
        let mut boxed = Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr.cast::<u8>(), len));
        boxed.zeroize();
    }
}

/// Builds the sealed messages for one user event, JSON `{"eid": …, "act": …, "data": …}`
/// (actions and data as in docs/protocol.md; "login" is for tickets; eid is the event's id,
/// minted once with usersync_uid_new() and kept for every retry, so each event is applied once).
/// peer (may be NULL with length 0) restricts the output to that peer. On success *out receives
/// a library-allocated JSON array `[{"peer": id, "url": delivery URL, "message": envelope
/// text}, …]` — one entry per peer whose send policy takes the action, with only what that
/// policy lets out; possibly `[]` — to be released with usersync_bytes_free(*out, *out_len).
///
/// # Safety
/// ctx from usersync_context_new(); inputs readable as sized; out and out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_context_build(
    ctx: *const usersync_context,
    event: *const c_char,
    event_len: usize,
    peer: *const c_char,
    peer_len: usize,
    out: *mut *mut c_char,
    out_len: *mut usize,
) -> usersync_result {
    with_context(ctx, out, out_len, |ctx| {
        let peer = Some(peer_id(peer, peer_len)?).filter(|p| !p.is_empty());
        let messages = ctx.build(input(event, event_len)?, peer)?;
        Ok(messages.iter().map(|m| m.to_json()).collect())
    })
}

/// Describes the configured peers: on success *out receives a library-allocated JSON array
/// `[{"id", "url", "origin", "send": [actions], "accept": [actions], "login": bool}, …]` in
/// configuration order ("login": single sign-on signs browsers in there), released with
/// usersync_bytes_free(). No secret is in it.
///
/// # Safety
/// ctx from usersync_context_new(); out and out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_context_peers(
    ctx: *const usersync_context,
    out: *mut *mut c_char,
    out_len: *mut usize,
) -> usersync_result {
    with_context(ctx, out, out_len, |ctx| Ok(ctx.describe_peers()))
}

/// Routes one user event (as for usersync_context_build()) without sealing anything: on success *out
/// receives a library-allocated JSON array of the ids of the peers it goes to (configuration
/// order; possibly `[]`), released with usersync_bytes_free(). An outbox routes an event when it
/// is queued and seals it for each peer when it delivers.
///
/// # Safety
/// ctx from usersync_context_new(); event readable as sized; out and out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_context_route(
    ctx: *const usersync_context,
    event: *const c_char,
    event_len: usize,
    out: *mut *mut c_char,
    out_len: *mut usize,
) -> usersync_result {
    with_context(ctx, out, out_len, |ctx| {
        Ok(serde_json::json!(ctx.route(input(event, event_len)?)?))
    })
}

/// Opens a server-to-server message from a peer; remote_ip is the request's source address as
/// text (checked against the peer's ip_allow; may be NULL with length 0 when unknown, which
/// fails any ip_allow). Every check of the protocol runs; each refusal has its own code. On
/// success *out receives a library-allocated JSON object `{"iss", "jti", "eid", "exp", "act",
/// "data"}` (plus `"dropped"` when the accept policy removed roles, meta keys or a pass_hash),
/// released with usersync_bytes_free(). Then run usersync_context_check_target(). The host must
/// record (iss, eid) — for at least as long as senders retry (usersync: 7 days) — atomically
/// with applying the action, and answer a second use as a duplicate.
///
/// # Safety
/// ctx from usersync_context_new(); inputs readable as sized; out and out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_context_open_action(
    ctx: *const usersync_context,
    text: *const c_char,
    text_len: usize,
    remote_ip: *const c_char,
    remote_ip_len: usize,
    out: *mut *mut c_char,
    out_len: *mut usize,
) -> usersync_result {
    with_context(ctx, out, out_len, |ctx| {
        let ip = std::str::from_utf8(input(remote_ip, remote_ip_len)?)
            .ok()
            .filter(|s| !s.is_empty());
        Ok(ctx.open_action(input(text, text_len)?, ip)?.to_json())
    })
}

/// Mints a single-use login ticket for a peer from JSON `{"peer", "uid", "login", "remember",
/// "bnd", "sid"?, "return"?}` (bnd: the binding hash the peer gave the browser, docs/protocol.md
/// §12); a return URL must be on this site or a configured peer. On success *out
/// receives a library-allocated JSON object `{"peer", "url", "message"}` (the ticket), released
/// with usersync_bytes_free(). Keep tickets out of URLs that servers log: POST them.
///
/// # Safety
/// ctx from usersync_context_new(); request readable as sized; out and out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_context_mint_ticket(
    ctx: *const usersync_context,
    request: *const c_char,
    request_len: usize,
    out: *mut *mut c_char,
    out_len: *mut usize,
) -> usersync_result {
    with_context(ctx, out, out_len, |ctx| {
        Ok(ctx.mint_ticket(input(request, request_len)?)?.to_json())
    })
}

/// Opens a login ticket carried by a browser. On success *out receives a library-allocated JSON
/// object `{"iss", "jti", "exp", "act": "login", "data": {"uid", "login", "remember", "bnd",
/// "sid"?, "return"?}}` (the return URL normalised and checked against this site and its peers),
/// released with usersync_bytes_free(). Then run usersync_context_check_target() with the
/// browser's binding cookie, and record (iss, jti) as for actions.
///
/// # Safety
/// ctx from usersync_context_new(); text readable as sized; out and out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_context_open_ticket(
    ctx: *const usersync_context,
    text: *const c_char,
    text_len: usize,
    out: *mut *mut c_char,
    out_len: *mut usize,
) -> usersync_result {
    with_context(ctx, out, out_len, |ctx| {
        Ok(ctx.open_ticket(input(text, text_len)?)?.to_json())
    })
}

/// The target check (docs/protocol.md §15), to run for every opened action and ticket inside
/// the transaction that applies it: opened is the JSON object usersync_context_open_action() or
/// usersync_context_open_ticket() returned, facts the host's JSON `{"account": null | {"uid", "roles",
/// "super_admin"?, "sessions"?}, "login_taken"?, "email_taken"?, "binding"?}` about the local
/// account linked to the message's uid. On success *out receives a library-allocated JSON verdict
/// `{"do": "create" | "apply" | "skip"}` (plus `"end_sessions": [ids]` for a logout), released
/// with usersync_bytes_free(); the host applies exactly that. Refusals: WRONG_BROWSER (a ticket
/// without its browser's binding), IDENTITY_CONFLICT, UNKNOWN_ACCOUNT, PROTECTED_ACCOUNT,
/// UNKNOWN_PEER, DATA_INVALID (malformed opened or facts). Nothing is kept.
///
/// # Safety
/// ctx from usersync_context_new(); inputs readable as sized; out and out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_context_check_target(
    ctx: *const usersync_context,
    opened: *const c_char,
    opened_len: usize,
    facts: *const c_char,
    facts_len: usize,
    out: *mut *mut c_char,
    out_len: *mut usize,
) -> usersync_result {
    with_context(ctx, out, out_len, |ctx| {
        let verdict = ctx.check_target(input(opened, opened_len)?, input(facts, facts_len)?)?;
        Ok(verdict.to_json())
    })
}

/// The link health check (docs/protocol.md §16): seals a `ping` for peer (its id), to POST to
/// the peer's inbox like any action. On success *out receives a library-allocated JSON object
/// `{"peer", "url", "message", "jti"}` (jti: what the peer's pong must name; pass the whole
/// object to usersync_context_check_pong()), released with usersync_bytes_free(). Pings are
/// policy-free: every peer opens and answers them, whatever its accept policy.
///
/// # Safety
/// ctx from usersync_context_new(); peer readable as sized; out and out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_context_ping(
    ctx: *const usersync_context,
    peer: *const c_char,
    peer_len: usize,
    out: *mut *mut c_char,
    out_len: *mut usize,
) -> usersync_result {
    with_context(ctx, out, out_len, |ctx| {
        let peer = peer_id(peer, peer_len)?;
        Ok(ctx.ping(peer)?.to_json())
    })
}

/// Answers a ping this site opened (opened: the JSON object usersync_context_open_action()
/// returned for it): seals a `pong` for the pinging peer carrying this site's clock, the
/// actions it accepts from and sends to that peer, and its library version; the peer opens it
/// with usersync_context_open_action(). On success *out receives a library-allocated JSON
/// object `{"peer", "url", "message"}`, released with usersync_bytes_free().
///
/// # Safety
/// ctx from usersync_context_new(); opened readable as sized; out and out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_context_pong(
    ctx: *const usersync_context,
    opened: *const c_char,
    opened_len: usize,
    out: *mut *mut c_char,
    out_len: *mut usize,
) -> usersync_result {
    with_context(ctx, out, out_len, |ctx| {
        Ok(ctx.pong(input(opened, opened_len)?)?.to_json())
    })
}

/// Opens the pong a peer answered to a ping (ping: the JSON object usersync_context_ping()
/// returned; answer: the sealed pong from the peer's HTTP answer; remote_ip: the answering
/// server's address, checked against the peer's ip_allow, may be NULL with length 0) with every
/// check of an action, and reports the link (docs/protocol.md §16). On success *out receives a
/// library-allocated JSON object `{"peer", "time" (the peer's clock), "local_time", "version",
/// "not_accepted" (actions this site sends that the peer refuses), "not_sent" (actions this site
/// accepts that the peer never sends)}`, released with usersync_bytes_free(). A pong from
/// another peer is WRONG_SITE; one for another ping, or another action, DATA_INVALID; every
/// refusal of opening it has its own code (EXPIRED, NOT_YET_VALID: the clocks differ).
///
/// # Safety
/// ctx from usersync_context_new(); inputs readable as sized; out and out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_context_check_pong(
    ctx: *const usersync_context,
    ping: *const c_char,
    ping_len: usize,
    answer: *const c_char,
    answer_len: usize,
    remote_ip: *const c_char,
    remote_ip_len: usize,
    out: *mut *mut c_char,
    out_len: *mut usize,
) -> usersync_result {
    with_context(ctx, out, out_len, |ctx| {
        let ip = std::str::from_utf8(input(remote_ip, remote_ip_len)?)
            .ok()
            .filter(|s| !s.is_empty());
        ctx.check_pong(input(ping, ping_len)?, input(answer, answer_len)?, ip)
    })
}

/// The address a request really came from (docs/protocol.md §13, trusted_proxies): remote, the
/// connection's peer address, unless it is a configured trusted proxy — then the rightmost
/// address of forwarded_for (the X-Forwarded-For header; may be NULL with length 0) that no
/// trusted proxy added. Pass the result to usersync_context_open_action() as remote_ip. On
/// success *out receives the address as text (library-allocated: usersync_bytes_free());
/// INVALID_ARGUMENT when remote is not an IP address.
///
/// # Safety
/// ctx from usersync_context_new(); inputs readable as sized; out and out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_context_client_ip(
    ctx: *const usersync_context,
    remote: *const c_char,
    remote_len: usize,
    forwarded_for: *const c_char,
    forwarded_for_len: usize,
    out: *mut *mut c_char,
    out_len: *mut usize,
) -> usersync_result {
    guard(|| {
        let ctx = &ctx.as_ref().ok_or(Error::NullArgument)?.0;
        let out = Allocated::new(out, out_len)?;
        let text = |p, n| std::str::from_utf8(input(p, n)?).map_err(|_| Error::InvalidArgument);
        let forwarded = text(forwarded_for, forwarded_for_len)?;
        let ip = ctx
            .client_ip(
                text(remote, remote_len)?,
                (!forwarded.is_empty()).then_some(forwarded),
            )
            .ok_or(Error::InvalidArgument)?;
        out.give(ip.to_string().into_bytes());
        Ok(())
    })
}

/// Checks a destination for a browser (a login's redirect, a chain's next hop, where a refused
/// ticket goes): an absolute URL on this site's origin or a configured peer's, by the rules of
/// return URLs (docs/protocol.md §12). On success *out receives the normalised URL (not
/// NUL-terminated, library-allocated: usersync_bytes_free()); else RETURN_URL_REFUSED.
///
/// # Safety
/// ctx from usersync_context_new(); url readable for url_len bytes; out and out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_context_check_return(
    ctx: *const usersync_context,
    url: *const c_char,
    url_len: usize,
    out: *mut *mut c_char,
    out_len: *mut usize,
) -> usersync_result {
    guard(|| {
        let ctx = &ctx.as_ref().ok_or(Error::NullArgument)?.0;
        let out = Allocated::new(out, out_len)?;
        let url = std::str::from_utf8(input(url, url_len)?).map_err(|_| Error::ReturnUrlRefused)?;
        out.give(ctx.check_return(url)?.into_bytes());
        Ok(())
    })
}

/// Writes a random URL-safe nonce of len characters (16 to 256; else INVALID_ARGUMENT), each
/// carrying 6 bits from the OS CSPRNG, to the caller's buffer out (out_cap ≥ len).
///
/// # Safety
/// out writable for out_cap bytes; out_len writable.
#[no_mangle]
pub unsafe extern "C" fn usersync_nonce_new(
    len: usize,
    out: *mut c_char,
    out_cap: usize,
    out_len: *mut usize,
) -> usersync_result {
    guard(|| {
        let out = Output::new(out, out_cap, out_len)?;
        out.write(nonce::nonce(len)?.as_bytes())
    })
}
