//! The context: one site's configuration, ready to build messages for its peers and to open what
//! they send, with every check of the protocol in its order. Immutable; share it across threads.

use crate::actions::{Action, ActionKind};
use crate::claims::{aad, new_jti, Claims, MessageType};
use crate::config::{Config, ConfigError, Peer};
use crate::envelope::{decode_text, envelope_kid};
use crate::identity::{self, Facts, Verdict};
use crate::keys::KeyId;
use crate::origin::{check_return_url, Origin};
use crate::policy::Dropped;
use crate::Error;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::IpAddr;

/// A sealed message for one peer, with where to deliver it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub peer: String,
    pub url: String,
    pub message: String,
}

impl Outgoing {
    pub fn to_json(&self) -> Value {
        json!({"peer": self.peer, "url": self.url, "message": self.message})
    }
}

/// A sealed `ping` for a peer and its jti, which the peer's pong must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    pub out: Outgoing,
    pub jti: String,
}

impl Ping {
    pub fn to_json(&self) -> Value {
        let mut v = self.out.to_json();
        v["jti"] = json!(self.jti);
        v
    }
}

/// An opened, checked and policy-filtered message. The host records `(iss, jti)` until `exp`
/// (a unique key, in the transaction that applies the action) and refuses a second use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub iss: String,
    pub jti: String,
    /// Actions: the event's id. Hosts record `(iss, eid)` for actions — the same event re-sealed
    /// by a retry is then a duplicate — and `(iss, jti)` for tickets.
    pub eid: Option<String>,
    pub exp: i64,
    pub action: Action,
    pub dropped: Dropped,
}

impl Opened {
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "iss": self.iss, "jti": self.jti, "exp": self.exp,
            "act": self.action.kind().name(), "data": self.action.to_json(),
        });
        if let Some(eid) = &self.eid {
            v["eid"] = json!(eid);
        }
        if !self.dropped.is_empty() {
            v["dropped"] = self.dropped.to_json();
        }
        v
    }
}

/// One site's configuration with its key-id index.
#[derive(Debug)]
pub struct Context {
    config: Config,
    by_kid: HashMap<KeyId, usize>,
}

/// The system clock in unix seconds: the only clock outside tests.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A host's JSON input: an object of exactly `keys` (the first `required` of them mandatory).
fn input_object(
    json: &[u8],
    keys: &[&str],
    required: usize,
) -> Result<serde_json::Map<String, Value>, Error> {
    let v: Value = serde_json::from_slice(json).map_err(|_| Error::MalformedJson)?;
    let Value::Object(m) = v else {
        return Err(Error::MalformedJson);
    };
    if m.keys().any(|k| !keys.contains(&k.as_str())) {
        return Err(Error::UnknownField);
    }
    if keys[..required].iter().any(|k| !m.contains_key(*k)) {
        return Err(Error::DataInvalid);
    }
    Ok(m)
}

impl Context {
    /// A context from a JSON configuration (see docs/protocol.md, "Configuration").
    pub fn from_json(json: &[u8]) -> Result<Context, ConfigError> {
        let config = Config::from_json(json)?;
        let by_kid = config
            .peers
            .iter()
            .enumerate()
            .flat_map(|(i, p)| p.keyring.kids().map(move |k| (*k, i)))
            .collect();
        Ok(Context { config, by_kid })
    }

    pub fn site_id(&self) -> &str {
        &self.config.site_id
    }

    pub fn peers(&self) -> &[Peer] {
        &self.config.peers
    }

    /// The address a request really came from: `remote` (the connection's peer), unless that is
    /// a configured trusted proxy — then the rightmost address of `forwarded_for` (the
    /// X-Forwarded-For header, which each proxy appends to) that is not a trusted proxy itself.
    /// Anything unparsable ends the walk: a client cannot smuggle an address past a proxy.
    pub fn client_ip(&self, remote: &str, forwarded_for: Option<&str>) -> Option<IpAddr> {
        let trusted = |ip: &IpAddr| self.config.trusted_proxies.iter().any(|n| n.contains(*ip));
        let mut ip: IpAddr = remote.trim().parse().ok()?;
        if !trusted(&ip) {
            return Some(ip);
        }
        for hop in forwarded_for.unwrap_or("").rsplit(',') {
            let Ok(hop) = hop.trim().parse::<IpAddr>() else {
                break;
            };
            ip = hop;
            if !trusted(&ip) {
                break;
            }
        }
        Some(ip)
    }

    /// What a host needs to know of its peers (docs/protocol.md §13): for each, its id, URL,
    /// origin, the actions sent to it and accepted from it, and whether it is sent logins —
    /// the peers single sign-on signs a browser in on.
    pub fn describe_peers(&self) -> Value {
        let names = |kinds: &[ActionKind]| kinds.iter().map(|k| k.name()).collect::<Vec<_>>();
        self.config
            .peers
            .iter()
            .map(|p| {
                json!({
                    "id": p.id, "url": p.url.as_str(), "origin": p.origin.text(),
                    "send": names(&p.send.actions), "accept": names(&p.accept.actions),
                    "login": p.send.sends(ActionKind::Login),
                })
            })
            .collect()
    }

    fn peer(&self, id: &str) -> Result<&Peer, Error> {
        self.config
            .peers
            .iter()
            .find(|p| p.id == id)
            .ok_or(Error::UnknownPeer)
    }

    fn seal(
        &self,
        peer: &Peer,
        typ: MessageType,
        eid: Option<&str>,
        action: &Action,
        now: i64,
    ) -> Result<Outgoing, Error> {
        self.seal_jti(peer, typ, eid, action, now)
            .map(|(out, _)| out)
    }

    /// [`Self::seal`], also returning the message's jti (what a pong must name).
    fn seal_jti(
        &self,
        peer: &Peer,
        typ: MessageType,
        eid: Option<&str>,
        action: &Action,
        now: i64,
    ) -> Result<(Outgoing, String), Error> {
        let claims = Claims {
            typ,
            iss: self.config.site_id.clone(),
            aud: peer.id.clone(),
            iat: now,
            exp: now + typ.lifetime(),
            jti: new_jti()?,
            eid: eid.map(str::to_string),
            act: action.kind().name().to_string(),
            data: action.to_json(),
        };
        let message = peer.keyring.seal(
            &aad(typ, &self.config.site_id, &peer.id),
            &claims.to_json_bytes(),
        )?;
        let out = Outgoing {
            peer: peer.id.clone(),
            url: peer.url.to_string(),
            message,
        };
        Ok((out, claims.jti))
    }

    /// A host's event, `{"eid": …, "act": …, "data": …}`, validated like an incoming message:
    /// a plaintext `pass_hash` or an unknown field never leaves.
    fn event(event: &[u8]) -> Result<(String, Action), Error> {
        let m = input_object(event, &["eid", "act", "data"], 3)?;
        let eid = m["eid"]
            .as_str()
            .filter(|e| crate::claims::is_id(e))
            .ok_or(Error::DataInvalid)?;
        let kind = m["act"]
            .as_str()
            .and_then(ActionKind::parse)
            .ok_or(Error::UnknownAction)?;
        if !MessageType::Action.carries(kind) || !kind.is_user_action() {
            return Err(Error::UnknownAction);
        }
        Ok((eid.to_string(), Action::parse(kind, &m["data"])?))
    }

    /// The peers an event goes to (those whose send policy lets something of it out), in
    /// configuration order, without sealing anything: what an outbox routes at once.
    pub fn route(&self, event: &[u8]) -> Result<Vec<&str>, Error> {
        let (_, action) = Self::event(event)?;
        Ok(self
            .config
            .peers
            .iter()
            .filter(|p| p.send.filter(&action).is_some())
            .map(|p| p.id.as_str())
            .collect())
    }

    /// From one user event, the sealed message for every peer whose send policy takes the
    /// action (or only for `only_peer`), each carrying what that policy lets out and the event's
    /// `eid`. The event's `eid` is the host's, stable across retries (mint it once with
    /// [`crate::claims::new_uid`]'s form).
    pub fn build(&self, event: &[u8], only_peer: Option<&str>) -> Result<Vec<Outgoing>, Error> {
        self.build_at(event, only_peer, now())
    }

    pub(crate) fn build_at(
        &self,
        event: &[u8],
        only_peer: Option<&str>,
        now: i64,
    ) -> Result<Vec<Outgoing>, Error> {
        let (eid, action) = Self::event(event)?;
        let peers: Vec<&Peer> = match only_peer {
            Some(id) => vec![self.peer(id)?],
            None => self.config.peers.iter().collect(),
        };
        peers
            .into_iter()
            .filter_map(|p| p.send.filter(&action).map(|a| (p, a)))
            .map(|(p, a)| self.seal(p, MessageType::Action, Some(&eid), &a, now))
            .collect()
    }

    /// Opens a server-to-server action from a peer, `remote_ip` being the request's source
    /// address. Checks, in order: size, encoding, version, key id → peer, tag, claims, sender and
    /// receiver, lifetime, skew, `ip_allow`, action type, accept policy, data schema, roles and
    /// meta, then filters what the policy drops.
    pub fn open_action(&self, text: &[u8], remote_ip: Option<&str>) -> Result<Opened, Error> {
        self.open_at(MessageType::Action, text, remote_ip, now())
    }

    /// Opens a login ticket carried by a browser (no `ip_allow`: the browser is not the peer).
    pub fn open_ticket(&self, text: &[u8]) -> Result<Opened, Error> {
        self.open_at(MessageType::Ticket, text, None, now())
    }

    pub(crate) fn open_at(
        &self,
        typ: MessageType,
        text: &[u8],
        remote_ip: Option<&str>,
        now: i64,
    ) -> Result<Opened, Error> {
        let envelope = decode_text(text, self.config.max_message_len)?;
        let kid = envelope_kid(&envelope)?;
        let peer = &self.config.peers[*self.by_kid.get(kid).ok_or(Error::AuthenticationFailed)?];
        let plaintext = peer
            .keyring
            .open_owned(&aad(typ, &peer.id, &self.config.site_id), envelope)?;
        let claims = Claims::parse(&plaintext)?;
        if claims.typ != typ {
            return Err(Error::ClaimsInvalid);
        }
        if claims.iss != peer.id || claims.aud != self.config.site_id {
            return Err(Error::WrongSite);
        }
        claims.check_time(now, self.config.clock_skew)?;
        if typ == MessageType::Action && !peer.ip_allow.is_empty() {
            let ip: Option<IpAddr> = remote_ip.and_then(|s| s.trim().parse().ok());
            if !ip.is_some_and(|ip| peer.ip_allow.iter().any(|net| net.contains(ip))) {
                return Err(Error::IpNotAllowed);
            }
        }
        let kind = ActionKind::parse(&claims.act)
            .filter(|k| typ.carries(*k))
            .ok_or(Error::UnknownAction)?;
        if !peer.accept.admits(kind) {
            return Err(Error::ActionNotAccepted);
        }
        let (mut action, dropped) = peer.accept.apply(
            Action::parse(kind, &claims.data)?,
            &self.config.privileged_roles,
        )?;
        if let Action::Login {
            return_url: Some(url),
            ..
        } = &mut action
        {
            *url = self.check_return(url)?;
        }
        Ok(Opened {
            iss: claims.iss,
            jti: claims.jti,
            eid: claims.eid,
            exp: claims.exp,
            action,
            dropped,
        })
    }

    /// A destination for a browser (a return URL, a redirect after login, a chain's next hop):
    /// accepted, normalised, only on this site's origin or a peer's (docs/protocol.md §12).
    pub fn check_return(&self, url: &str) -> Result<String, Error> {
        let allowed: Vec<&Origin> = std::iter::once(&self.config.origin)
            .chain(self.config.peers.iter().map(|p| &p.origin))
            .collect();
        check_return_url(url, &allowed).ok_or(Error::ReturnUrlRefused)
    }

    /// The target check (docs/protocol.md §15): given an opened message (as [`Opened::to_json`]
    /// wrote it) and the host's facts about the local account, what the host may do with it.
    pub fn check_target(&self, opened: &[u8], facts: &[u8]) -> Result<Verdict, Error> {
        let m = input_object(
            opened,
            &["iss", "act", "data", "jti", "eid", "exp", "dropped"],
            3,
        )
        .map_err(|_| Error::DataInvalid)?;
        let iss = m["iss"].as_str().ok_or(Error::DataInvalid)?;
        let peer = self.peer(iss)?;
        let kind = m["act"]
            .as_str()
            .and_then(ActionKind::parse)
            .filter(|k| k.is_user_action())
            .ok_or(Error::DataInvalid)?;
        let action = Action::parse(kind, &m["data"]).map_err(|_| Error::DataInvalid)?;
        let facts = Facts::parse(facts)?;
        identity::check(peer, &self.config.privileged_roles, &action, &facts)
    }

    /// The link health check (docs/protocol.md §16): a sealed `ping` for a peer, to POST to its
    /// inbox like any action, with its jti (what the peer's pong must name, [`Self::check_pong`]).
    pub fn ping(&self, peer: &str) -> Result<Ping, Error> {
        self.ping_at(peer, now())
    }

    pub(crate) fn ping_at(&self, peer: &str, now: i64) -> Result<Ping, Error> {
        let eid = crate::claims::new_uid()?;
        let (out, jti) = self.seal_jti(
            self.peer(peer)?,
            MessageType::Action,
            Some(&eid),
            &Action::Ping,
            now,
        )?;
        Ok(Ping { out, jti })
    }

    /// Opens the pong a peer answered to `ping` (the JSON [`Ping::to_json`] wrote) like any
    /// action from that peer — `remote_ip` is the answering server's address, checked against
    /// its `ip_allow` — and reports the link (docs/protocol.md §16): the peer's clock against
    /// ours, its version, the actions this site sends that the peer does not accept
    /// (`not_accepted`: refused there) and the actions this site accepts that the peer does not
    /// send (`not_sent`). A pong from another peer is `wrong_site`; one for another ping, or any
    /// other action, `data_invalid`.
    pub fn check_pong(
        &self,
        ping: &[u8],
        answer: &[u8],
        remote_ip: Option<&str>,
    ) -> Result<Value, Error> {
        self.check_pong_at(ping, answer, remote_ip, now())
    }

    pub(crate) fn check_pong_at(
        &self,
        ping: &[u8],
        answer: &[u8],
        remote_ip: Option<&str>,
        now: i64,
    ) -> Result<Value, Error> {
        let m = input_object(ping, &["peer", "url", "message", "jti"], 4)?;
        let peer = self.peer(m["peer"].as_str().ok_or(Error::DataInvalid)?)?;
        let jti = m["jti"].as_str().ok_or(Error::DataInvalid)?;
        let opened = self.open_at(MessageType::Action, answer, remote_ip, now)?;
        if opened.iss != peer.id {
            return Err(Error::WrongSite);
        }
        let Action::Pong {
            ping: of,
            time,
            accepts,
            sends,
            version,
        } = opened.action
        else {
            return Err(Error::DataInvalid);
        };
        if of != jti {
            return Err(Error::DataInvalid);
        }
        let missing = |ours: &[ActionKind], theirs: &[String]| {
            ours.iter()
                .map(|k| k.name())
                .filter(|n| !theirs.iter().any(|t| t == n))
                .collect::<Vec<_>>()
        };
        Ok(json!({
            "peer": peer.id, "time": time, "local_time": now, "version": version,
            "not_accepted": missing(&peer.send.actions, &accepts),
            "not_sent": missing(&peer.accept.actions, &sends),
        }))
    }

    /// The answer to a ping this site opened (`opened` as [`Opened::to_json`] wrote it): a
    /// sealed `pong` for the pinging peer with this site's clock, what it accepts from that peer
    /// and sends to it, and its version; the peer opens it as an action.
    pub fn pong(&self, opened: &[u8]) -> Result<Outgoing, Error> {
        self.pong_at(opened, now())
    }

    pub(crate) fn pong_at(&self, opened: &[u8], now: i64) -> Result<Outgoing, Error> {
        let m = input_object(
            opened,
            &["iss", "act", "data", "jti", "eid", "exp", "dropped"],
            4,
        )
        .map_err(|_| Error::DataInvalid)?;
        if m["act"].as_str() != Some("ping") {
            return Err(Error::DataInvalid);
        }
        let peer = self.peer(m["iss"].as_str().ok_or(Error::DataInvalid)?)?;
        let names = |kinds: &[ActionKind]| kinds.iter().map(|k| k.name().to_string()).collect();
        let pong = Action::Pong {
            ping: m["jti"].as_str().ok_or(Error::DataInvalid)?.to_string(),
            time: now,
            accepts: names(&peer.accept.actions),
            sends: names(&peer.send.actions),
            version: env!("CARGO_PKG_VERSION").to_string(),
        };
        let eid = crate::claims::new_uid()?;
        self.seal(peer, MessageType::Action, Some(&eid), &pong, now)
    }

    /// Mints a login ticket for a peer from `{"peer", "uid", "login", "remember", "bnd",
    /// "sid"?, "return"?}`, `bnd` being the hash the peer gave the browser (§12).
    pub fn mint_ticket(&self, request: &[u8]) -> Result<Outgoing, Error> {
        self.mint_ticket_at(request, now())
    }

    pub(crate) fn mint_ticket_at(&self, request: &[u8], now: i64) -> Result<Outgoing, Error> {
        let mut m = input_object(
            request,
            &["peer", "uid", "login", "remember", "bnd", "sid", "return"],
            5,
        )?;
        let peer_id = m
            .remove("peer")
            .and_then(|p| p.as_str().map(str::to_string))
            .ok_or(Error::DataInvalid)?;
        let peer = self.peer(&peer_id)?;
        if !peer.send.sends(ActionKind::Login) {
            return Err(Error::ActionNotSent);
        }
        let mut action = Action::parse(ActionKind::Login, &Value::Object(m))?;
        if let Action::Login {
            return_url: Some(url),
            ..
        } = &mut action
        {
            *url = self.check_return(url)?;
        }
        self.seal(peer, MessageType::Ticket, None, &action, now)
    }
}

mod sync;
#[cfg(test)]
mod tests;
