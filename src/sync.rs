//! The initial sync (docs/protocol.md §18): accounts that existed on two sites before they were
//! linked. The site that runs it asks the peer about its accounts (`probe`), shows the dry-run
//! report, then sends them in batches (`sync`); the peer answers each with a sealed `answer`.
//! Every rule of it lives here: which local accounts are offered, and how the peer classifies
//! each asked account from the facts its host read — create it, link it (login **and** email
//! match one unlinked, unprotected account), already linked, a collision left untouched, or not
//! sent. A batch is re-classified with fresh facts when it is applied, so nothing is merged that
//! the rule would not show in a report at that moment, and a batch applied twice changes nothing
//! the second time (its accounts are then "linked").

use crate::actions::{self, Action, ActionKind, User};
use crate::config::Peer;
use crate::policy::{RoleVerdict, SendPolicy};
use crate::Error;
use serde_json::{json, Map, Value};
use std::collections::HashSet;

/// Accounts in one probe, batch or answer: a batch of 1,000 ordinary accounts seals to about
/// half the default message limit.
pub const MAX_BATCH: usize = 1000;

/// A uid the probe check uses to run an unlinked account through the user schema.
const NO_UID: &str = "AAAAAAAAAAAAAAAAAAAAAA";

/// One account a probe asks about: as the send policy lets it out, without profile or hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    pub login: String,
    pub email: String,
    /// The sender's uid for the account when it is linked there already.
    pub uid: Option<String>,
    pub roles: Option<Vec<String>>,
}

/// `probe`: which of these accounts exist on the receiver, and what the initial sync would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub accounts: Vec<Asked>,
}

/// An existing account to link to the sender's uid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEntry {
    pub uid: String,
    pub login: String,
    pub email: String,
}

/// `sync`: accounts to create (with their profile and password hash) and accounts to link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub create: Vec<User>,
    pub link: Vec<LinkEntry>,
}

/// What the initial sync does, or did, with one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Do {
    /// No account there has the login or the email: create it, linked to the uid.
    Create,
    /// One unlinked, unprotected account there has both the login and the email: link it.
    Link,
    /// Already linked to this uid there: nothing to do.
    Linked,
    /// The login or email belongs to other accounts, or the match may not be touched.
    Collision,
    /// A policy keeps the account out of the sync.
    NotSent,
}

impl Do {
    const ALL: [Do; 5] = [Do::Create, Do::Link, Do::Linked, Do::Collision, Do::NotSent];

    pub fn name(self) -> &'static str {
        match self {
            Do::Create => "create",
            Do::Link => "link",
            Do::Linked => "linked",
            Do::Collision => "collision",
            Do::NotSent => "not_sent",
        }
    }
}

/// One account's outcome: what is done, why not (collisions, not sent) and, in a batch's
/// answer, which account (by uid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub what: Do,
    pub reason: Option<Error>,
    pub uid: Option<String>,
}

impl Outcome {
    fn new(what: Do) -> Self {
        Outcome {
            what,
            reason: None,
            uid: None,
        }
    }

    fn because(what: Do, reason: Error) -> Self {
        Outcome {
            what,
            reason: Some(reason),
            uid: None,
        }
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({"do": self.what.name()});
        if let Some(r) = self.reason {
            v["reason"] = json!(r.name());
        }
        if let Some(u) = &self.uid {
            v["uid"] = json!(u);
        }
        v
    }

    fn parse(v: &Value) -> Result<Outcome, Error> {
        let m = actions::fields_of(v, &["do"], &["reason", "uid"])?;
        let what = m["do"]
            .as_str()
            .and_then(|n| Do::ALL.into_iter().find(|d| d.name() == n))
            .ok_or(Error::DataInvalid)?;
        let reason = actions::optional(m, "reason", |r| {
            r.as_str().and_then(error_named).ok_or(Error::DataInvalid)
        })?;
        Ok(Outcome {
            what,
            reason,
            uid: actions::optional(m, "uid", actions::uid)?,
        })
    }
}

/// `answer`: the receiver's outcome for every account of the probe or batch `to` (its jti) —
/// in the probe's order; by uid for a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub to: String,
    pub results: Vec<Outcome>,
}

fn error_named(name: &str) -> Option<Error> {
    Error::ALL.iter().copied().find(|e| e.name() == name)
}

fn entries<T>(v: &Value, item: impl Fn(&Value) -> Result<T, Error>) -> Result<Vec<T>, Error> {
    actions::list(v, MAX_BATCH, item)
}

fn link_entry(v: &Value) -> Result<LinkEntry, Error> {
    let m = actions::fields_of(v, &["uid", "login", "email"], &[])?;
    Ok(LinkEntry {
        uid: actions::uid(&m["uid"])?,
        login: actions::login(&m["login"])?,
        email: actions::email(&m["email"])?,
    })
}

impl Probe {
    pub fn parse(data: &Value) -> Result<Probe, Error> {
        let m = actions::fields_of(data, &["accounts"], &[])?;
        let accounts = entries(&m["accounts"], |v| {
            let a = actions::fields_of(v, &["login", "email"], &["uid", "roles"])?;
            Ok(Asked {
                login: actions::login(&a["login"])?,
                email: actions::email(&a["email"])?,
                uid: actions::optional(a, "uid", actions::uid)?,
                roles: actions::optional(a, "roles", |r| {
                    actions::list(r, 32, |x| actions::slug(x, 64))
                })?,
            })
        })?;
        if accounts.is_empty() {
            return Err(Error::DataInvalid);
        }
        Ok(Probe { accounts })
    }

    pub fn to_json(&self) -> Value {
        let accounts: Vec<Value> = self
            .accounts
            .iter()
            .map(|a| {
                let mut v = json!({"login": a.login, "email": a.email});
                if let Some(u) = &a.uid {
                    v["uid"] = json!(u);
                }
                if let Some(r) = &a.roles {
                    v["roles"] = json!(r);
                }
                v
            })
            .collect();
        json!({ "accounts": accounts })
    }
}

impl Batch {
    /// A batch as a sender writes it: 1 to [`MAX_BATCH`] accounts.
    pub fn parse(data: &Value) -> Result<Batch, Error> {
        Self::parse_checked(data, false)
    }

    /// A batch as opening left it (§10): the accounts the accept policy refused are gone from
    /// it, so it may hold none (each is then answered `not_sent`, from `dropped.accounts`).
    pub fn parse_opened(data: &Value) -> Result<Batch, Error> {
        Self::parse_checked(data, true)
    }

    fn parse_checked(data: &Value, may_be_empty: bool) -> Result<Batch, Error> {
        let m = actions::fields_of(data, &[], &["create", "link"])?;
        let create = actions::optional(m, "create", |v| entries(v, actions::user))?;
        let link = actions::optional(m, "link", |v| entries(v, link_entry))?;
        let batch = Batch {
            create: create.unwrap_or_default(),
            link: link.unwrap_or_default(),
        };
        let n = batch.create.len() + batch.link.len();
        // Answers name accounts by uid: each at most once.
        let uids: HashSet<&str> = batch.uids().collect();
        if (n == 0 && !may_be_empty) || n > MAX_BATCH || uids.len() != n {
            return Err(Error::DataInvalid);
        }
        Ok(batch)
    }

    fn uids(&self) -> impl Iterator<Item = &str> {
        let create = self.create.iter().map(|u| u.uid.as_str());
        create.chain(self.link.iter().map(|l| l.uid.as_str()))
    }

    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        if !self.create.is_empty() {
            let users = self
                .create
                .iter()
                .map(|u| Action::Create(u.clone()).to_json());
            m.insert("create".into(), Value::Array(users.collect()));
        }
        if !self.link.is_empty() {
            let links = self
                .link
                .iter()
                .map(|l| json!({"uid": l.uid, "login": l.login, "email": l.email}));
            m.insert("link".into(), Value::Array(links.collect()));
        }
        Value::Object(m)
    }
}

impl Answer {
    pub fn parse(data: &Value) -> Result<Answer, Error> {
        let m = actions::fields_of(data, &["to", "results"], &[])?;
        Ok(Answer {
            to: actions::b64_bytes(&m["to"], actions::UID_BYTES)?,
            results: entries(&m["results"], Outcome::parse)?,
        })
    }

    pub fn to_json(&self) -> Value {
        let results: Vec<Value> = self.results.iter().map(Outcome::to_json).collect();
        json!({"to": self.to, "results": results})
    }
}

// ---- the receiver: classifying asked accounts from its host's facts -------------------------

/// A local account as the receiving host describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The host's id for the account (to tell whether two lookups found the same one).
    pub id: String,
    /// Its uid when it is linked.
    pub uid: Option<String>,
    pub roles: Vec<String>,
    pub super_admin: bool,
}

/// What the receiving host read about one asked account: the account linked to its uid, the
/// account with its login, and an account with its email (each `null` when there is none),
/// looked up with the host's own comparison rules (WordPress: case-insensitive); and whether the
/// host would refuse the login or email for a new account as they are (`invalid`: its own rules
/// for names and addresses, e.g. WordPress's strict user names; optional, false when absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub linked: Option<Account>,
    pub by_login: Option<Account>,
    pub by_email: Option<Account>,
    pub invalid: bool,
}

fn account(v: &Value) -> Result<Option<Account>, Error> {
    if v.is_null() {
        return Ok(None);
    }
    let m = actions::fields_of(v, &["id", "roles"], &["uid", "super_admin"])
        .map_err(|_| Error::DataInvalid)?;
    let id = match &m["id"] {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Number(n) if n.is_u64() => n.to_string(),
        _ => return Err(Error::DataInvalid),
    };
    let roles = match &m["roles"] {
        Value::Array(items) => items
            .iter()
            .map(|r| r.as_str().map(str::to_string).ok_or(Error::DataInvalid))
            .collect::<Result<_, _>>()?,
        _ => return Err(Error::DataInvalid),
    };
    let uid = match m.get("uid") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(Error::DataInvalid),
    };
    let super_admin = match m.get("super_admin") {
        None => false,
        Some(b) => b.as_bool().ok_or(Error::DataInvalid)?,
    };
    Ok(Some(Account {
        id,
        uid,
        roles,
        super_admin,
    }))
}

impl Facts {
    /// The host's `{"accounts": [{"linked", "by_login", "by_email"}, …]}`, exactly `n` of them.
    pub fn parse_all(json: &[u8], n: usize) -> Result<Vec<Facts>, Error> {
        let v: Value = serde_json::from_slice(json).map_err(|_| Error::DataInvalid)?;
        let m = actions::fields_of(&v, &["accounts"], &[]).map_err(|_| Error::DataInvalid)?;
        let items = m["accounts"].as_array().ok_or(Error::DataInvalid)?;
        if items.len() != n {
            return Err(Error::DataInvalid);
        }
        items
            .iter()
            .map(|f| {
                // Every member required: a host that forgot a lookup must not get "create".
                let f = actions::fields_of(f, &["linked", "by_login", "by_email"], &["invalid"])
                    .map_err(|_| Error::DataInvalid)?;
                let invalid = match f.get("invalid") {
                    None => false,
                    Some(b) => b.as_bool().ok_or(Error::DataInvalid)?,
                };
                Ok(Facts {
                    linked: account(&f["linked"])?,
                    by_login: account(&f["by_login"])?,
                    by_email: account(&f["by_email"])?,
                    invalid,
                })
            })
            .collect()
    }
}

/// Which message an account came in: a probe only asks; a batch's create must find no
/// account, a batch's link exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Probe,
    Create,
    Link,
}

/// The rule for one account (login, email, the sender's uid, the roles it would bring) from
/// `peer`, given the facts. `claimed` holds the logins and emails (lower-cased) earlier accounts
/// of the same message will create or link, so one message never creates two accounts with one
/// login or email.
#[allow(clippy::too_many_arguments)]
fn classify(
    peer: &Peer,
    privileged: &[String],
    op: Op,
    login: &str,
    email: &str,
    uid: Option<&str>,
    roles: Option<&[String]>,
    facts: &Facts,
    claimed: &mut HashSet<String>,
) -> Outcome {
    let same = |a: &Option<Account>, b: &Account| a.as_ref().is_some_and(|a| a.id == b.id);
    // The uid is linked here already: done, if it is this very account.
    if let Some(linked) = &facts.linked {
        if uid.is_some() && same(&facts.by_login, linked) && same(&facts.by_email, linked) {
            return Outcome::new(Do::Linked);
        }
        return Outcome::because(Do::Collision, Error::IdentityConflict);
    }
    let (login_key, email_key) = (
        format!("l:{}", login.to_lowercase()),
        format!("e:{}", email.to_lowercase()),
    );
    if claimed.contains(&login_key) {
        return Outcome::because(Do::Collision, Error::LoginTaken);
    }
    if claimed.contains(&email_key) {
        return Outcome::because(Do::Collision, Error::EmailTaken);
    }
    let outcome = match (&facts.by_login, &facts.by_email) {
        (None, None) if op == Op::Link => Outcome::because(Do::Collision, Error::UnknownAccount),
        (None, None) => {
            let refused = roles
                .unwrap_or_default()
                .iter()
                .any(|r| peer.accept.role(r, privileged) == RoleVerdict::RefuseMessage);
            if refused {
                Outcome::because(Do::NotSent, Error::PrivilegedRole)
            } else if facts.invalid {
                // A name the host would clean or refuse (markup, look-alikes of another login)
                // is never written as it came.
                Outcome::because(Do::Collision, Error::InvalidAccount)
            } else {
                Outcome::new(Do::Create)
            }
        }
        (Some(a), Some(b)) if a.id == b.id => {
            if a.uid.is_some() {
                Outcome::because(Do::Collision, Error::LinkedElsewhere)
            } else if !peer.accept.may_act_on(&a.roles, a.super_admin, privileged) {
                Outcome::because(Do::Collision, Error::ProtectedAccount)
            } else if op == Op::Create {
                // A create never merges, even into an account that matches.
                Outcome::because(Do::Collision, Error::IdentityConflict)
            } else {
                Outcome::new(Do::Link)
            }
        }
        (Some(_), _) => Outcome::because(Do::Collision, Error::LoginTaken),
        (None, Some(_)) => Outcome::because(Do::Collision, Error::EmailTaken),
    };
    if matches!(outcome.what, Do::Create | Do::Link) {
        claimed.insert(login_key);
        claimed.insert(email_key);
    }
    outcome
}

/// How many facts the host must read for an opened probe or batch: one per asked account (a
/// batch: its creates, then its links, without the accounts the policy refused on opening).
pub fn facts_needed(action: &Action) -> Result<usize, Error> {
    match action {
        Action::Probe(p) => Ok(p.accounts.len()),
        Action::Sync(b) => Ok(b.create.len() + b.link.len()),
        _ => Err(Error::DataInvalid),
    }
}

/// The outcome of every account of an opened probe (in order) or batch (by uid; the accounts
/// the policy refused on opening, `refused`, come last as not sent).
pub fn outcomes(
    peer: &Peer,
    privileged: &[String],
    action: &Action,
    refused: &[(String, Error)],
    facts: &[Facts],
) -> Result<Vec<Outcome>, Error> {
    if facts.len() != facts_needed(action)? {
        return Err(Error::DataInvalid);
    }
    let mut claimed = HashSet::new();
    let mut facts = facts.iter();
    let mut next = || facts.next().ok_or(Error::DataInvalid);
    let mut out = Vec::new();
    match action {
        Action::Probe(p) => {
            for a in &p.accounts {
                out.push(classify(
                    peer,
                    privileged,
                    Op::Probe,
                    &a.login,
                    &a.email,
                    a.uid.as_deref(),
                    a.roles.as_deref(),
                    next()?,
                    &mut claimed,
                ));
            }
        }
        Action::Sync(b) => {
            for u in &b.create {
                let mut o = classify(
                    peer,
                    privileged,
                    Op::Create,
                    &u.login,
                    &u.email,
                    Some(&u.uid),
                    u.roles.as_deref(),
                    next()?,
                    &mut claimed,
                );
                o.uid = Some(u.uid.clone());
                out.push(o);
            }
            for l in &b.link {
                let mut o = classify(
                    peer,
                    privileged,
                    Op::Link,
                    &l.login,
                    &l.email,
                    Some(&l.uid),
                    None,
                    next()?,
                    &mut claimed,
                );
                o.uid = Some(l.uid.clone());
                out.push(o);
            }
            for (uid, reason) in refused {
                let mut o = Outcome::because(Do::NotSent, *reason);
                o.uid = Some(uid.clone());
                out.push(o);
            }
        }
        _ => return Err(Error::DataInvalid),
    }
    Ok(out)
}

// ---- the sender: which local accounts are offered ------------------------------------------

/// One local account as the sending host describes it: the user record of a `create`
/// (`uid` when linked, or when the batch links or creates it), `super_admin`, and in a batch
/// the report's verdict to carry out, `op`: `create` or `link`.
pub struct Local {
    pub user: User,
    pub linked: bool,
    pub op: Option<Do>,
}

/// Reads one local account; `Err` is the reason it cannot be offered (a login, email or hash
/// the protocol refuses is reported, not sent).
fn local(v: &Value, send: &SendPolicy, privileged: &[String], batch: bool) -> Result<Local, Error> {
    let mut m = v.as_object().ok_or(Error::DataInvalid)?.clone();
    let super_admin = match m.remove("super_admin") {
        None => false,
        Some(b) => b.as_bool().ok_or(Error::DataInvalid)?,
    };
    let op = match m.remove("op") {
        None if !batch => None,
        Some(Value::String(s)) if batch && s == "create" => Some(Do::Create),
        Some(Value::String(s)) if batch && s == "link" => Some(Do::Link),
        _ => return Err(Error::DataInvalid),
    };
    let linked = m.contains_key("uid");
    if !linked {
        if batch {
            return Err(Error::DataInvalid); // a batch names every account by the uid it gets
        }
        m.insert("uid".into(), json!(NO_UID));
    }
    let user = actions::user(&Value::Object(m))?;
    let roles = user.roles.clone().unwrap_or_default();
    if !send.offers_account(&roles, super_admin, privileged) {
        return Err(Error::PrivilegedNotSent);
    }
    let Some(Action::Create(user)) = send.filter(&Action::Create(user)) else {
        return Err(Error::ActionNotSent);
    };
    Ok(Local { user, linked, op })
}

/// The local accounts of a probe or batch for `peer`, from the host's JSON array: for each,
/// the account as it may be offered, or why it is not. The peer must be sent creates.
pub fn locals(
    peer: &Peer,
    privileged: &[String],
    accounts: &[u8],
    batch: bool,
) -> Result<Vec<Result<Local, Error>>, Error> {
    if !peer.send.sends(ActionKind::Create) {
        return Err(Error::ActionNotSent);
    }
    let v: Value = serde_json::from_slice(accounts).map_err(|_| Error::MalformedJson)?;
    let items = v.as_array().ok_or(Error::DataInvalid)?;
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(Error::InvalidArgument);
    }
    Ok(items
        .iter()
        .map(|a| local(a, &peer.send, privileged, batch))
        .collect())
}

/// A probe asking about the offered accounts (`None` when none is offered).
pub fn probe_of(locals: &[Result<Local, Error>]) -> Option<Action> {
    let accounts: Vec<Asked> = locals
        .iter()
        .flatten()
        .map(|l| Asked {
            login: l.user.login.clone(),
            email: l.user.email.clone(),
            uid: l.linked.then(|| l.user.uid.clone()),
            roles: l.user.roles.clone(),
        })
        .collect();
    (!accounts.is_empty()).then_some(Action::Probe(Probe { accounts }))
}

/// A batch carrying out the offered accounts' verdicts (`None` when none is offered).
pub fn batch_of(locals: &[Result<Local, Error>]) -> Option<Action> {
    let mut batch = Batch {
        create: Vec::new(),
        link: Vec::new(),
    };
    for l in locals.iter().flatten() {
        match l.op {
            Some(Do::Create) => batch.create.push(l.user.clone()),
            _ => batch.link.push(LinkEntry {
                uid: l.user.uid.clone(),
                login: l.user.login.clone(),
                email: l.user.email.clone(),
            }),
        }
    }
    let n = batch.create.len() + batch.link.len();
    (n > 0).then_some(Action::Sync(batch))
}

/// For the host: per local account, `{"do": "ask"}` (it is in the message) or why it is not.
pub fn local_json(locals: &[Result<Local, Error>]) -> Value {
    locals
        .iter()
        .map(|l| match l {
            Ok(_) => json!({"do": "ask"}),
            Err(e) => Outcome::because(Do::NotSent, *e).to_json(),
        })
        .collect()
}
