//! User actions (`act` → `data`): strict parsing (unknown fields refused) and bounds; policy.rs
//! applies a peer's policy to them. Every action names its account by `uid` (the
//! network-wide identity, docs/protocol.md §15) as well as by `login`.

use crate::pass_hash::is_password_hash;
use crate::{base64url, Error};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The actions of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionKind {
    Create,
    Update,
    Delete,
    Password,
    Meta,
    Logout,
    /// Carried by browser tickets only.
    Login,
    /// The link health check: a `ping` through the peer's inbox, answered by a sealed `pong`.
    /// Policy-free (every peer may ping and answer), never names an account.
    Ping,
    Pong,
    /// The initial sync (src/sync.rs): which of the sender's accounts exist here (`probe`), a
    /// batch of accounts to create or link (`sync`), and the sealed answer to either (`answer`).
    Probe,
    Sync,
    Answer,
}

impl ActionKind {
    pub const ALL: [ActionKind; 12] = [
        ActionKind::Create,
        ActionKind::Update,
        ActionKind::Delete,
        ActionKind::Password,
        ActionKind::Meta,
        ActionKind::Logout,
        ActionKind::Login,
        ActionKind::Ping,
        ActionKind::Pong,
        ActionKind::Probe,
        ActionKind::Sync,
        ActionKind::Answer,
    ];

    /// A user action: what configurations name, events carry and the target check judges (not
    /// the link check, not the initial sync's messages, which have their own rules).
    pub fn is_user_action(self) -> bool {
        !matches!(
            self,
            ActionKind::Ping
                | ActionKind::Pong
                | ActionKind::Probe
                | ActionKind::Sync
                | ActionKind::Answer
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            ActionKind::Create => "create",
            ActionKind::Update => "update",
            ActionKind::Delete => "delete",
            ActionKind::Password => "password",
            ActionKind::Meta => "meta",
            ActionKind::Logout => "logout",
            ActionKind::Login => "login",
            ActionKind::Ping => "ping",
            ActionKind::Pong => "pong",
            ActionKind::Probe => "probe",
            ActionKind::Sync => "sync",
            ActionKind::Answer => "answer",
        }
    }

    pub fn parse(name: &str) -> Option<ActionKind> {
        ActionKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Profile fields that may travel with `create` and `update`, with their longest length.
pub(crate) const FIELDS: [(&str, usize); 8] = [
    ("display_name", 250),
    ("first_name", 250),
    ("last_name", 250),
    ("nickname", 250),
    ("nicename", 50),
    ("url", 100),
    ("description", 65_535),
    ("locale", 20),
];
const MAX_LOGIN: usize = 60;
const MAX_EMAIL: usize = 100;
const MAX_ROLES: usize = 32;
const MAX_META_KEYS: usize = 256;
const MAX_META_VALUES: usize = 64;
const MAX_META_KEY: usize = 255;
const MAX_META_VALUE: usize = 65_535;
const MAX_SID: usize = 128;
const MAX_RETURN: usize = crate::origin::MAX_URL_LEN;
/// `uid` and `jti`: 16 random bytes; `bnd`: a SHA-256 digest.
pub const UID_BYTES: usize = 16;
pub const BND_BYTES: usize = 32;

/// Meta: key → list of string values.
pub type Meta = BTreeMap<String, Vec<String>>;

/// The user record of `create` and `update`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub uid: String,
    pub login: String,
    pub email: String,
    pub fields: BTreeMap<String, String>,
    pub roles: Option<Vec<String>>,
    pub meta: Option<Meta>,
    pub pass_hash: Option<String>,
}

/// One action with its validated data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Create(User),
    Update(User),
    Delete {
        uid: String,
        login: String,
        reassign: Option<String>,
    },
    Password {
        uid: String,
        login: String,
        pass_hash: String,
    },
    Meta {
        uid: String,
        login: String,
        set: Meta,
        delete: Vec<String>,
    },
    Logout {
        uid: String,
        login: String,
        sid: Option<String>,
    },
    Login {
        uid: String,
        login: String,
        remember: bool,
        /// base64url(SHA-256(the receiver's browser-binding value)): docs/protocol.md §12.
        bnd: String,
        sid: Option<String>,
        return_url: Option<String>,
    },
    Ping,
    /// The answer to the ping `ping` (its jti): the answering site's clock, the actions it
    /// accepts from and sends to the pinging site, and its library version.
    Pong {
        ping: String,
        time: i64,
        accepts: Vec<String>,
        sends: Vec<String>,
        version: String,
    },
    Probe(crate::sync::Probe),
    Sync(crate::sync::Batch),
    Answer(crate::sync::Answer),
}

// ---- parsing -------------------------------------------------------------------------------

/// Refuses keys outside `allowed` and requires every key in `required`.
pub(crate) fn fields_of<'a>(
    v: &'a Value,
    required: &[&str],
    optional: &[&str],
) -> Result<&'a Map<String, Value>, Error> {
    let map = v.as_object().ok_or(Error::DataInvalid)?;
    if map
        .keys()
        .any(|k| !required.contains(&k.as_str()) && !optional.contains(&k.as_str()))
    {
        return Err(Error::UnknownField);
    }
    if required.iter().any(|k| !map.contains_key(*k)) {
        return Err(Error::DataInvalid);
    }
    Ok(map)
}

/// A string of 1..=max characters without control characters (except in multi-line text).
pub(crate) fn text(v: &Value, max: usize, multiline: bool) -> Result<String, Error> {
    let s = v.as_str().ok_or(Error::DataInvalid)?;
    let bad = |c: char| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t'));
    if s.chars().count() > max || s.chars().any(bad) {
        return Err(Error::DataInvalid);
    }
    Ok(s.to_string())
}

pub(crate) fn login(v: &Value) -> Result<String, Error> {
    let s = text(v, MAX_LOGIN, false)?;
    if s.is_empty() || s.trim() != s {
        return Err(Error::DataInvalid);
    }
    Ok(s)
}

pub(crate) fn email(v: &Value) -> Result<String, Error> {
    let s = text(v, MAX_EMAIL, false)?;
    let parts: Vec<&str> = s.split('@').collect();
    if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) || s.contains(char::is_whitespace) {
        return Err(Error::DataInvalid);
    }
    Ok(s)
}

/// Role slugs and session ids: 1..=max of `[A-Za-z0-9_-]`.
pub(crate) fn slug(v: &Value, max: usize) -> Result<String, Error> {
    let s = v.as_str().ok_or(Error::DataInvalid)?;
    if s.is_empty()
        || s.len() > max
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(Error::DataInvalid);
    }
    Ok(s.to_string())
}

/// Canonical unpadded base64url of exactly `n` bytes (`uid`, `bnd`).
pub(crate) fn b64_bytes(v: &Value, n: usize) -> Result<String, Error> {
    let s = v.as_str().ok_or(Error::DataInvalid)?;
    match base64url::decode(s.as_bytes()) {
        Some(b) if b.len() == n => Ok(s.to_string()),
        _ => Err(Error::DataInvalid),
    }
}

pub(crate) fn uid(v: &Value) -> Result<String, Error> {
    b64_bytes(v, UID_BYTES)
}

fn pass_hash(v: &Value) -> Result<String, Error> {
    let s = v.as_str().ok_or(Error::DataInvalid)?;
    if !is_password_hash(s) {
        return Err(Error::PassHashFormat);
    }
    Ok(s.to_string())
}

fn meta_key(v: &Value) -> Result<String, Error> {
    let s = text(v, MAX_META_KEY, false)?;
    if s.is_empty() {
        return Err(Error::DataInvalid);
    }
    Ok(s)
}

fn meta(v: &Value) -> Result<Meta, Error> {
    let map = v.as_object().ok_or(Error::DataInvalid)?;
    if map.len() > MAX_META_KEYS {
        return Err(Error::DataInvalid);
    }
    map.iter()
        .map(|(k, values)| {
            let key = meta_key(&Value::String(k.clone()))?;
            let list = values.as_array().ok_or(Error::DataInvalid)?;
            if list.len() > MAX_META_VALUES {
                return Err(Error::DataInvalid);
            }
            let values = list
                .iter()
                .map(|x| text(x, MAX_META_VALUE, true))
                .collect::<Result<_, _>>()?;
            Ok((key, values))
        })
        .collect()
}

pub(crate) fn list<T>(
    v: &Value,
    max: usize,
    item: impl Fn(&Value) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    let a = v.as_array().ok_or(Error::DataInvalid)?;
    if a.len() > max {
        return Err(Error::DataInvalid);
    }
    a.iter().map(item).collect()
}

pub(crate) fn optional<T>(
    m: &Map<String, Value>,
    key: &str,
    f: impl Fn(&Value) -> Result<T, Error>,
) -> Result<Option<T>, Error> {
    m.get(key).map(f).transpose()
}

pub(crate) fn user(v: &Value) -> Result<User, Error> {
    let m = fields_of(
        v,
        &["uid", "login", "email"],
        &["fields", "roles", "meta", "pass_hash"],
    )?;
    let fields = match m.get("fields") {
        None => BTreeMap::new(),
        Some(f) => {
            let f = f.as_object().ok_or(Error::DataInvalid)?;
            f.iter()
                .map(|(k, val)| {
                    let (_, max) = FIELDS
                        .iter()
                        .find(|(name, _)| name == k)
                        .ok_or(Error::UnknownField)?;
                    Ok((k.clone(), text(val, *max, k == "description")?))
                })
                .collect::<Result<_, Error>>()?
        }
    };
    Ok(User {
        uid: uid(&m["uid"])?,
        login: login(&m["login"])?,
        email: email(&m["email"])?,
        fields,
        roles: optional(m, "roles", |r| list(r, MAX_ROLES, |x| slug(x, 64)))?,
        meta: optional(m, "meta", meta)?,
        pass_hash: optional(m, "pass_hash", pass_hash)?,
    })
}

impl Action {
    /// Parses and validates `data` for action `kind`.
    pub fn parse(kind: ActionKind, data: &Value) -> Result<Action, Error> {
        Ok(match kind {
            ActionKind::Create => Action::Create(user(data)?),
            ActionKind::Update => Action::Update(user(data)?),
            ActionKind::Delete => {
                let m = fields_of(data, &["uid", "login"], &["reassign"])?;
                let reassign = match m.get("reassign") {
                    None | Some(Value::Null) => None,
                    Some(r) => Some(login(r)?),
                };
                Action::Delete {
                    uid: uid(&m["uid"])?,
                    login: login(&m["login"])?,
                    reassign,
                }
            }
            ActionKind::Password => {
                let m = fields_of(data, &["uid", "login", "pass_hash"], &[])?;
                Action::Password {
                    uid: uid(&m["uid"])?,
                    login: login(&m["login"])?,
                    pass_hash: pass_hash(&m["pass_hash"])?,
                }
            }
            ActionKind::Meta => {
                let m = fields_of(data, &["uid", "login"], &["set", "delete"])?;
                Action::Meta {
                    uid: uid(&m["uid"])?,
                    login: login(&m["login"])?,
                    set: optional(m, "set", meta)?.unwrap_or_default(),
                    delete: optional(m, "delete", |d| list(d, MAX_META_KEYS, meta_key))?
                        .unwrap_or_default(),
                }
            }
            ActionKind::Logout => {
                let m = fields_of(data, &["uid", "login"], &["sid"])?;
                Action::Logout {
                    uid: uid(&m["uid"])?,
                    login: login(&m["login"])?,
                    sid: optional(m, "sid", |s| slug(s, MAX_SID))?,
                }
            }
            ActionKind::Login => {
                let m = fields_of(
                    data,
                    &["uid", "login", "remember", "bnd"],
                    &["sid", "return"],
                )?;
                Action::Login {
                    uid: uid(&m["uid"])?,
                    login: login(&m["login"])?,
                    remember: m["remember"].as_bool().ok_or(Error::DataInvalid)?,
                    bnd: b64_bytes(&m["bnd"], BND_BYTES)?,
                    sid: optional(m, "sid", |s| slug(s, MAX_SID))?,
                    return_url: optional(m, "return", |r| text(r, MAX_RETURN, false))?,
                }
            }
            ActionKind::Ping => {
                fields_of(data, &[], &[])?;
                Action::Ping
            }
            ActionKind::Pong => {
                let m = fields_of(data, &["ping", "time", "accepts", "sends", "version"], &[])?;
                let names = |v: &Value| {
                    list(v, ActionKind::ALL.len(), |a| {
                        let name = a.as_str().ok_or(Error::DataInvalid)?;
                        ActionKind::parse(name)
                            .filter(|k| k.is_user_action())
                            .map(|k| k.name().to_string())
                            .ok_or(Error::DataInvalid)
                    })
                };
                Action::Pong {
                    ping: b64_bytes(&m["ping"], UID_BYTES)?,
                    time: m["time"]
                        .as_i64()
                        .filter(|t| *t >= 0)
                        .ok_or(Error::DataInvalid)?,
                    accepts: names(&m["accepts"])?,
                    sends: names(&m["sends"])?,
                    version: text(&m["version"], 32, false)?,
                }
            }
            ActionKind::Probe => Action::Probe(crate::sync::Probe::parse(data)?),
            ActionKind::Sync => Action::Sync(crate::sync::Batch::parse(data)?),
            ActionKind::Answer => Action::Answer(crate::sync::Answer::parse(data)?),
        })
    }

    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Create(_) => ActionKind::Create,
            Action::Update(_) => ActionKind::Update,
            Action::Delete { .. } => ActionKind::Delete,
            Action::Password { .. } => ActionKind::Password,
            Action::Meta { .. } => ActionKind::Meta,
            Action::Logout { .. } => ActionKind::Logout,
            Action::Login { .. } => ActionKind::Login,
            Action::Ping => ActionKind::Ping,
            Action::Pong { .. } => ActionKind::Pong,
            Action::Probe(_) => ActionKind::Probe,
            Action::Sync(_) => ActionKind::Sync,
            Action::Answer(_) => ActionKind::Answer,
        }
    }

    /// The `uid` of the account the action is about (none for the link's own ping and pong).
    pub fn uid(&self) -> Option<&str> {
        match self {
            Action::Create(u) | Action::Update(u) => Some(&u.uid),
            Action::Delete { uid, .. }
            | Action::Password { uid, .. }
            | Action::Meta { uid, .. }
            | Action::Logout { uid, .. }
            | Action::Login { uid, .. } => Some(uid),
            Action::Ping
            | Action::Pong { .. }
            | Action::Probe(_)
            | Action::Sync(_)
            | Action::Answer(_) => None,
        }
    }

    /// The action's `data` object; optional members only when present.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_string(), v);
        };
        match self {
            Action::Create(u) | Action::Update(u) => {
                put("uid", json!(u.uid));
                put("login", json!(u.login));
                put("email", json!(u.email));
                if !u.fields.is_empty() {
                    put("fields", json!(u.fields));
                }
                if let Some(r) = &u.roles {
                    put("roles", json!(r));
                }
                if let Some(meta) = &u.meta {
                    put("meta", json!(meta));
                }
                if let Some(h) = &u.pass_hash {
                    put("pass_hash", json!(h));
                }
            }
            Action::Delete {
                uid,
                login,
                reassign,
            } => {
                put("uid", json!(uid));
                put("login", json!(login));
                if let Some(r) = reassign {
                    put("reassign", json!(r));
                }
            }
            Action::Password {
                uid,
                login,
                pass_hash,
            } => {
                put("uid", json!(uid));
                put("login", json!(login));
                put("pass_hash", json!(pass_hash));
            }
            Action::Meta {
                uid,
                login,
                set,
                delete,
            } => {
                put("uid", json!(uid));
                put("login", json!(login));
                if !set.is_empty() {
                    put("set", json!(set));
                }
                if !delete.is_empty() {
                    put("delete", json!(delete));
                }
            }
            Action::Logout { uid, login, sid } => {
                put("uid", json!(uid));
                put("login", json!(login));
                if let Some(s) = sid {
                    put("sid", json!(s));
                }
            }
            Action::Login {
                uid,
                login,
                remember,
                bnd,
                sid,
                return_url,
            } => {
                put("uid", json!(uid));
                put("login", json!(login));
                put("remember", json!(remember));
                put("bnd", json!(bnd));
                if let Some(s) = sid {
                    put("sid", json!(s));
                }
                if let Some(r) = return_url {
                    put("return", json!(r));
                }
            }
            Action::Ping => {}
            Action::Pong {
                ping,
                time,
                accepts,
                sends,
                version,
            } => {
                put("ping", json!(ping));
                put("time", json!(time));
                put("accepts", json!(accepts));
                put("sends", json!(sends));
                put("version", json!(version));
            }
            Action::Probe(p) => return p.to_json(),
            Action::Sync(b) => return b.to_json(),
            Action::Answer(a) => return a.to_json(),
        }
        Value::Object(m)
    }
}
