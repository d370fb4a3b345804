//! The target check (docs/protocol.md §15): which local account an opened action or ticket may
//! touch, decided from facts the host reads in the transaction that applies it. Opening proves
//! who sent a message; this decides whether it may change the account it names.

use crate::actions::{Action, ActionKind, BND_BYTES};
use crate::config::Peer;
use crate::{base64url, Error};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// What the host does with an opened message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Create the account and link it to the message's `uid`.
    Create,
    /// Apply the message to the linked account; for `logout`, end exactly these sessions.
    Apply { end_sessions: Option<Vec<String>> },
    /// Nothing to do here (a delete or logout of an account this site does not have); answer
    /// as done so the sender stops retrying.
    Skip,
}

impl Verdict {
    pub fn to_json(&self) -> Value {
        match self {
            Verdict::Create => json!({"do": "create"}),
            Verdict::Apply { end_sessions: None } => json!({"do": "apply"}),
            Verdict::Apply {
                end_sessions: Some(ids),
            } => json!({"do": "apply", "end_sessions": ids}),
            Verdict::Skip => json!({"do": "skip"}),
        }
    }
}

/// One of the account's sessions, as the host stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    /// For a session started by single sign-on: the peer and peer session it came from.
    pub iss: Option<String>,
    pub sid: Option<String>,
    /// For a local session: the peers it sent login tickets to.
    pub peers: Vec<String>,
}

/// The local account linked to the message's `uid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub uid: String,
    pub roles: Vec<String>,
    pub super_admin: bool,
    pub sessions: Vec<Session>,
}

/// What the host knows about the target on this site.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub account: Option<Account>,
    pub login_taken: bool,
    pub email_taken: bool,
    /// Tickets: the browser's binding cookie, if it sent one.
    pub binding: Option<Vec<u8>>,
}

/// A JSON object of known keys only.
fn object<'a>(v: &'a Value, keys: &[&str]) -> Result<&'a Map<String, Value>, Error> {
    let m = v.as_object().ok_or(Error::DataInvalid)?;
    if m.keys().any(|k| !keys.contains(&k.as_str())) {
        return Err(Error::UnknownField);
    }
    Ok(m)
}

fn string(v: &Value) -> Result<String, Error> {
    v.as_str().map(str::to_string).ok_or(Error::DataInvalid)
}

fn strings(v: Option<&Value>) -> Result<Vec<String>, Error> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(string).collect(),
        Some(_) => Err(Error::DataInvalid),
    }
}

/// An optional string: absent or `null` is `None`.
fn maybe_string(v: Option<&Value>) -> Result<Option<String>, Error> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(s) => string(s).map(Some),
    }
}

fn flag(v: Option<&Value>) -> Result<bool, Error> {
    match v {
        None => Ok(false),
        Some(b) => b.as_bool().ok_or(Error::DataInvalid),
    }
}

impl Facts {
    /// Parses the host's facts (docs/protocol.md §15).
    pub fn parse(json: &[u8]) -> Result<Facts, Error> {
        let v: Value = serde_json::from_slice(json).map_err(|_| Error::DataInvalid)?;
        let m = object(&v, &["account", "login_taken", "email_taken", "binding"])
            .map_err(|_| Error::DataInvalid)?;
        // Required, `null` when nothing is linked: a host that forgot it must not get "create".
        let account = match m.get("account").ok_or(Error::DataInvalid)? {
            Value::Null => None,
            a => Some(Account::parse(a)?),
        };
        Ok(Facts {
            account,
            login_taken: flag(m.get("login_taken"))?,
            email_taken: flag(m.get("email_taken"))?,
            binding: maybe_string(m.get("binding"))?.map(String::into_bytes),
        })
    }
}

impl Account {
    fn parse(v: &Value) -> Result<Account, Error> {
        let m = object(v, &["uid", "roles", "super_admin", "sessions"])
            .map_err(|_| Error::DataInvalid)?;
        let sessions = match m.get("sessions") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|s| {
                    let s = object(s, &["id", "iss", "sid", "peers"])
                        .map_err(|_| Error::DataInvalid)?;
                    Ok(Session {
                        id: string(s.get("id").ok_or(Error::DataInvalid)?)?,
                        iss: maybe_string(s.get("iss"))?,
                        sid: maybe_string(s.get("sid"))?,
                        peers: strings(s.get("peers"))?,
                    })
                })
                .collect::<Result<_, Error>>()?,
            Some(_) => return Err(Error::DataInvalid),
        };
        Ok(Account {
            uid: string(m.get("uid").ok_or(Error::DataInvalid)?)?,
            // Required and a list: a host must never make an account unprotected by omission.
            roles: match m.get("roles") {
                Some(Value::Array(items)) => items.iter().map(string).collect::<Result<_, _>>()?,
                _ => return Err(Error::DataInvalid),
            },
            super_admin: flag(m.get("super_admin"))?,
            sessions,
        })
    }
}

/// Whether the browser's binding value hashes to the ticket's `bnd` (compared in constant time).
fn bound_to(binding: Option<&[u8]>, bnd: &str) -> bool {
    let Some(value) = binding.filter(|v| (16..=256).contains(&v.len())) else {
        return false;
    };
    let Some(want) = base64url::decode(bnd.as_bytes()).filter(|b| b.len() == BND_BYTES) else {
        return false;
    };
    crate::ct::eq(&Sha256::digest(value), &want)
}

/// `bnd` for a binding value: base64url(SHA-256(value)).
pub fn binding_hash(value: &[u8]) -> String {
    base64url::encode(&Sha256::digest(value))
}

/// The sessions a logout from `peer` ends: all without `sid`; otherwise those that came from
/// that peer's session `sid`, and this site's own session `sid` if it sent that peer a ticket.
fn sessions_to_end(sessions: &[Session], peer: &str, sid: Option<&str>) -> Vec<String> {
    sessions
        .iter()
        .filter(|s| match sid {
            None => true,
            Some(sid) => {
                (s.iss.as_deref() == Some(peer) && s.sid.as_deref() == Some(sid))
                    || (s.id == sid && s.peers.iter().any(|p| p == peer))
            }
        })
        .map(|s| s.id.clone())
        .collect()
}

/// The target check, in the protocol's order, for `action` from `peer`.
pub fn check(
    peer: &Peer,
    privileged: &[String],
    action: &Action,
    facts: &Facts,
) -> Result<Verdict, Error> {
    if let Action::Login { bnd, .. } = action {
        if !bound_to(facts.binding.as_deref(), bnd) {
            return Err(Error::WrongBrowser);
        }
    }
    let Some(account) = &facts.account else {
        return match action.kind() {
            ActionKind::Create if facts.login_taken || facts.email_taken => {
                Err(Error::IdentityConflict)
            }
            ActionKind::Create => Ok(Verdict::Create),
            ActionKind::Delete | ActionKind::Logout => Ok(Verdict::Skip),
            _ => Err(Error::UnknownAccount),
        };
    };
    if Some(account.uid.as_str()) != action.uid() {
        return Err(Error::IdentityConflict);
    }
    if !peer
        .accept
        .may_act_on(&account.roles, account.super_admin, privileged)
    {
        return Err(Error::ProtectedAccount);
    }
    let end_sessions = match action {
        Action::Logout { sid, .. } => {
            Some(sessions_to_end(&account.sessions, &peer.id, sid.as_deref()))
        }
        _ => None,
    };
    Ok(Verdict::Apply { end_sessions })
}
