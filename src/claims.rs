//! Message claims: the JSON object inside an envelope, its associated data and its time rules.

use crate::actions::ActionKind;
use crate::{base64url, Error};
use serde_json::{json, Value};

/// `typ`: server-to-server actions or browser-carried tickets, each with its longest lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    Action,
    Ticket,
}

impl MessageType {
    pub fn name(self) -> &'static str {
        match self {
            MessageType::Action => "action",
            MessageType::Ticket => "ticket",
        }
    }

    /// The protocol's limit on `exp - iat`.
    pub fn max_lifetime(self) -> i64 {
        match self {
            MessageType::Action => 300,
            MessageType::Ticket => 120,
        }
    }

    /// The lifetime usersync gives the messages it seals: short, as delivery is immediate
    /// (an outbox re-seals at each retry).
    pub fn lifetime(self) -> i64 {
        match self {
            MessageType::Action => 120,
            MessageType::Ticket => 60,
        }
    }

    /// Whether `act` may travel in a message of this type.
    pub fn carries(self, act: ActionKind) -> bool {
        (act == ActionKind::Login) == (self == MessageType::Ticket)
    }
}

/// `"usersync/v1|" + typ + "|" + iss + "|" + aud`: binds an envelope to its type and direction.
pub fn aad(typ: MessageType, iss: &str, aud: &str) -> Vec<u8> {
    format!("usersync/v1|{}|{iss}|{aud}", typ.name()).into_bytes()
}

/// A fresh `jti`: 16 random bytes in base64url.
pub fn new_jti() -> Result<String, Error> {
    new_id()
}

/// A fresh account `uid` (docs/protocol.md §15): 16 random bytes in base64url, like a `jti`.
pub fn new_uid() -> Result<String, Error> {
    new_id()
}

fn new_id() -> Result<String, Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|_| Error::RandomUnavailable)?;
    Ok(base64url::encode(&b))
}

/// The claims of one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    pub typ: MessageType,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// Actions only: the event's id, the same in every message that carries the event (the
    /// outbox re-seals at each retry), so a receiver applies each event once.
    pub eid: Option<String>,
    pub act: String,
    pub data: Value,
}

/// The claims of a ticket; an action has `eid` too.
const CLAIM_NAMES: [&str; 9] = ["v", "typ", "iss", "aud", "iat", "exp", "jti", "act", "data"];

/// An id of 16 random bytes in canonical base64url (`jti`, `eid`, `uid`).
pub fn is_id(s: &str) -> bool {
    base64url::decode(s.as_bytes()).is_some_and(|b| b.len() == 16)
}

impl Claims {
    /// Compact JSON with keys in sorted order (the canonical form the vectors use).
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let mut v = json!({
            "v": 1, "typ": self.typ.name(), "iss": self.iss, "aud": self.aud,
            "iat": self.iat, "exp": self.exp, "jti": self.jti, "act": self.act, "data": self.data,
        });
        if let Some(eid) = &self.eid {
            v["eid"] = json!(eid);
        }
        serde_json::to_vec(&v).expect("a JSON value serialises")
    }

    /// Parses a plaintext: a UTF-8 JSON object with exactly the protocol's claims, well typed.
    pub fn parse(plaintext: &[u8]) -> Result<Claims, Error> {
        let v: Value = serde_json::from_slice(plaintext).map_err(|_| Error::MalformedJson)?;
        let m = v.as_object().ok_or(Error::MalformedJson)?;
        let typ = match m.get("typ").and_then(Value::as_str) {
            Some("action") => MessageType::Action,
            Some("ticket") => MessageType::Ticket,
            _ => return Err(Error::ClaimsInvalid),
        };
        let with_eid = typ == MessageType::Action;
        if m.len() != CLAIM_NAMES.len() + usize::from(with_eid)
            || !CLAIM_NAMES.iter().all(|k| m.contains_key(*k))
            || m.contains_key("eid") != with_eid
        {
            return Err(Error::ClaimsInvalid);
        }
        let string = |k: &str| {
            m[k].as_str()
                .map(str::to_string)
                .ok_or(Error::ClaimsInvalid)
        };
        let time = |k: &str| {
            m[k].as_i64()
                .filter(|t| *t >= 0)
                .ok_or(Error::ClaimsInvalid)
        };
        let jti = string("jti")?;
        let eid = with_eid.then(|| string("eid")).transpose()?;
        if m["v"].as_u64() != Some(1)
            || !is_id(&jti)
            || !eid.as_deref().is_none_or(is_id)
            || !m["data"].is_object()
        {
            return Err(Error::ClaimsInvalid);
        }
        Ok(Claims {
            typ,
            iss: string("iss")?,
            aud: string("aud")?,
            iat: time("iat")?,
            exp: time("exp")?,
            jti,
            eid,
            act: string("act")?,
            data: m["data"].clone(),
        })
    }

    /// The time rules: lifetime within the type's limit, not issued in the future, not expired
    /// (both with `skew` seconds of tolerance for clocks).
    pub fn check_time(&self, now: i64, skew: i64) -> Result<(), Error> {
        if self.exp < self.iat || self.exp - self.iat > self.typ.max_lifetime() {
            return Err(Error::LifetimeTooLong);
        }
        if self.iat > now.saturating_add(skew) {
            return Err(Error::NotYetValid);
        }
        if now > self.exp.saturating_add(skew) {
            return Err(Error::Expired);
        }
        Ok(())
    }
}
