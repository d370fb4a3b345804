//! The site configuration (JSON), validated field by field: every refusal names its field, e.g.
//! `peers[1].secrets[0]: a link secret must start with "usk1_"`.

use crate::actions::ActionKind;
use crate::envelope::{Keyring, DEFAULT_MAX_TEXT_LEN, MAX_SECRETS};
use crate::ipnet::IpNet;
use crate::origin::Origin;
use crate::policy::{AcceptPolicy, Patterns, SendPolicy};
use crate::secret::LinkSecret;
use serde_json::{Map, Value};
use std::fmt;
use url::Url;

/// A configuration refusal: the field's path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

type Result<T> = std::result::Result<T, ConfigError>;

fn fail<T>(path: &str, message: impl Into<String>) -> Result<T> {
    Err(ConfigError {
        path: path.to_string(),
        message: message.into(),
    })
}

/// One peer: its link and both directions of policy.
#[derive(Debug)]
pub struct Peer {
    pub id: String,
    pub url: Url,
    pub origin: Origin,
    pub keyring: Keyring,
    pub send: SendPolicy,
    pub accept: AcceptPolicy,
    pub ip_allow: Vec<IpNet>,
}

/// This site and its peers.
#[derive(Debug)]
pub struct Config {
    pub site_id: String,
    pub url: Url,
    pub origin: Origin,
    pub clock_skew: i64,
    pub max_message_len: usize,
    pub privileged_roles: Vec<String>,
    /// Reverse proxies (CIDRs) whose X-Forwarded-For is believed for a peer's address.
    pub trusted_proxies: Vec<IpNet>,
    pub peers: Vec<Peer>,
}

const MAX_PEERS: usize = 256;

/// `site_id`: 1–128 characters of `[A-Za-z0-9._:/-]`.
pub fn valid_site_id(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(&b))
}

/// Reads one JSON object, refusing keys it does not know.
struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    fn new(v: &'a Value, path: &str, known: &[&str]) -> Result<Obj<'a>> {
        let Some(map) = v.as_object() else {
            return fail(path, "must be a JSON object");
        };
        if let Some(k) = map.keys().find(|k| !known.contains(&k.as_str())) {
            return fail(
                &join(path, k),
                format!("unknown setting (known here: {})", known.join(", ")),
            );
        }
        Ok(Obj {
            path: path.to_string(),
            map,
        })
    }

    fn at(&self, key: &str) -> String {
        join(&self.path, key)
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    fn required(&self, key: &str) -> Result<&'a Value> {
        self.get(key)
            .map_or_else(|| fail(&self.at(key), "is required"), Ok)
    }

    fn string(&self, key: &str) -> Result<&'a str> {
        self.required(key)?
            .as_str()
            .map_or_else(|| fail(&self.at(key), "must be a string"), Ok)
    }

    fn array(&self, key: &str) -> Result<Option<&'a Vec<Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => fail(&self.at(key), "must be an array"),
        }
    }

    fn strings(&self, key: &str) -> Result<Option<Vec<String>>> {
        let Some(items) = self.array(key)? else {
            return Ok(None);
        };
        items
            .iter()
            .enumerate()
            .map(|(i, v)| match v.as_str() {
                Some(s) => Ok(s.to_string()),
                None => fail(&format!("{}[{i}]", self.at(key)), "must be a string"),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    fn integer(&self, key: &str, min: i64, max: i64, default: i64) -> Result<i64> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => match v.as_i64() {
                Some(n) if (min..=max).contains(&n) => Ok(n),
                _ => fail(
                    &self.at(key),
                    format!("must be a whole number from {min} to {max}"),
                ),
            },
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn site_url(obj: &Obj, key: &str) -> Result<(Url, Origin)> {
    Origin::of_site_url(obj.string(key)?).or_else(|m| fail(&obj.at(key), m))
}

fn patterns(obj: &Obj, key: &str) -> Result<Patterns> {
    let items = obj.strings(key)?.unwrap_or_default();
    for (i, p) in items.iter().enumerate() {
        let body = p.strip_suffix('*').unwrap_or(p);
        if (body.is_empty() && p != "*") || body.contains('*') || p.chars().any(char::is_control) {
            return fail(
                &format!("{}[{i}]", obj.at(key)),
                "must be a name or a prefix ending in a single '*'",
            );
        }
    }
    Ok(Patterns::new(items))
}

fn actions(obj: &Obj, key: &str) -> Result<Vec<ActionKind>> {
    let names = obj.strings(key)?.unwrap_or_default();
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            ActionKind::parse(n)
                .filter(|k| k.is_user_action())
                .map_or_else(
                    || {
                        fail(
                        &format!("{}[{i}]", obj.at(key)),
                        "unknown action (create, update, delete, password, meta, logout, login)",
                    )
                    },
                    Ok,
                )
        })
        .collect()
}

fn send_policy(v: Option<&Value>, path: &str) -> Result<SendPolicy> {
    let Some(v) = v else {
        return Ok(SendPolicy::default());
    };
    let o = Obj::new(v, path, &["actions", "roles", "meta"])?;
    Ok(SendPolicy {
        actions: actions(&o, "actions")?,
        roles: patterns(&o, "roles")?,
        meta: patterns(&o, "meta")?,
    })
}

fn accept_policy(v: Option<&Value>, path: &str) -> Result<AcceptPolicy> {
    let Some(v) = v else {
        return Ok(AcceptPolicy::default());
    };
    let o = Obj::new(v, path, &["actions", "roles", "meta", "allow_privileged"])?;
    let allow_privileged = match o.get("allow_privileged") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return fail(&o.at("allow_privileged"), "must be true or false"),
    };
    Ok(AcceptPolicy {
        actions: actions(&o, "actions")?,
        roles: patterns(&o, "roles")?,
        meta: patterns(&o, "meta")?,
        allow_privileged,
    })
}

fn keyring(o: &Obj, max_message_len: usize) -> Result<Keyring> {
    let key = o.at("secrets");
    let Some(items) = o.array("secrets")? else {
        return fail(&key, "is required");
    };
    if items.is_empty() || items.len() > MAX_SECRETS {
        return fail(
            &key,
            format!("must list 1 to {MAX_SECRETS} secrets (the first seals, all open)"),
        );
    }
    let secrets = items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let path = format!("{key}[{i}]");
            let text = v
                .as_str()
                .map_or_else(|| fail(&path, "must be a string"), Ok)?;
            LinkSecret::parse(text.trim().as_bytes()).or_else(|e| fail(&path, e.message()))
        })
        .collect::<Result<Vec<_>>>()?;
    Keyring::new(&secrets)
        .map(|k| k.with_max_text_len(max_message_len))
        .or_else(|e| fail(&key, e.message()))
}

/// A list of CIDRs (a bare address is /32 or /128).
fn ip_nets(o: &Obj, key: &str) -> Result<Vec<IpNet>> {
    o.strings(key)?
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, s)| IpNet::parse(s).or_else(|m| fail(&format!("{}[{i}]", o.at(key)), m)))
        .collect()
}

fn peer(v: &Value, path: &str, max_message_len: usize) -> Result<Peer> {
    let o = Obj::new(
        v,
        path,
        &["id", "url", "secrets", "send", "accept", "ip_allow"],
    )?;
    let id = o.string("id")?;
    if !valid_site_id(id) {
        return fail(
            &o.at("id"),
            "must be 1-128 characters of A-Z a-z 0-9 . _ : / -",
        );
    }
    let (url, origin) = site_url(&o, "url")?;
    let ip_allow = ip_nets(&o, "ip_allow")?;
    Ok(Peer {
        id: id.to_string(),
        url,
        origin,
        keyring: keyring(&o, max_message_len)?,
        send: send_policy(o.get("send"), &o.at("send"))?,
        accept: accept_policy(o.get("accept"), &o.at("accept"))?,
        ip_allow,
    })
}

impl Config {
    /// Parses and validates a configuration document.
    pub fn from_json(json: &[u8]) -> Result<Config> {
        let v: Value =
            serde_json::from_slice(json).or_else(|e| fail("", format!("not valid JSON: {e}")))?;
        let o = Obj::new(
            &v,
            "",
            &[
                "site_id",
                "url",
                "clock_skew",
                "max_message_len",
                "privileged_roles",
                "trusted_proxies",
                "peers",
            ],
        )?;
        let site_id = o.string("site_id")?;
        if !valid_site_id(site_id) {
            return fail(
                "site_id",
                "must be 1-128 characters of A-Z a-z 0-9 . _ : / -",
            );
        }
        let (url, origin) = site_url(&o, "url")?;
        let clock_skew = o.integer("clock_skew", 0, 600, 60)?;
        let max_message_len = o.integer(
            "max_message_len",
            4096,
            16 << 20,
            DEFAULT_MAX_TEXT_LEN as i64,
        )? as usize;
        let privileged_roles = o
            .strings("privileged_roles")?
            .unwrap_or_else(|| vec!["administrator".into()]);
        let trusted_proxies = ip_nets(&o, "trusted_proxies")?;
        let Some(items) = o.array("peers")? else {
            return fail("peers", "is required");
        };
        if items.len() > MAX_PEERS {
            return fail("peers", format!("at most {MAX_PEERS} peers"));
        }
        let mut peers: Vec<Peer> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let path = format!("peers[{i}]");
            let p = peer(item, &path, max_message_len)?;
            if p.id == site_id {
                return fail(&format!("{path}.id"), "is this site's own site_id");
            }
            if peers.iter().any(|q| q.id == p.id) {
                return fail(
                    &format!("{path}.id"),
                    format!("peer {:?} is listed twice", p.id),
                );
            }
            for kid in p.keyring.kids() {
                if let Some(q) = peers.iter().find(|q| q.keyring.kids().any(|k| k == kid)) {
                    return fail(
                        &format!("{path}.secrets"),
                        format!(
                            "a secret is also used for peer {:?}: every link needs its own secret",
                            q.id
                        ),
                    );
                }
            }
            peers.push(p);
        }
        Ok(Config {
            site_id: site_id.to_string(),
            url,
            origin,
            clock_skew,
            max_message_len,
            privileged_roles,
            trusted_proxies,
            peers,
        })
    }
}
