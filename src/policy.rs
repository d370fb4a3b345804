//! Per-peer policy: what may be sent to a peer and what is accepted from it. The one place where
//! roles and meta keys are matched, where privileged roles, protected meta and protected
//! accounts are decided, and where a policy is applied to an action (actions.rs only parses).

use crate::actions::{Action, ActionKind, Meta, User};
use crate::Error;
use serde_json::{json, Value};

/// A list of exact names or `prefix*` patterns (a lone `*` matches everything).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patterns(Vec<String>);

impl Patterns {
    pub fn new(items: Vec<String>) -> Self {
        Patterns(items)
    }

    /// True when `name` equals an exact entry or starts with a `prefix*` entry's prefix.
    pub fn matches(&self, name: &str) -> bool {
        self.0.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => p == name,
        })
    }

    /// True when `name` is listed as an exact entry (not through a pattern).
    pub fn names_exactly(&self, name: &str) -> bool {
        self.0.iter().any(|p| p == name)
    }
}

/// What leaves this site for one peer.
#[derive(Debug, Clone, Default)]
pub struct SendPolicy {
    pub actions: Vec<ActionKind>,
    pub roles: Patterns,
    pub meta: Patterns,
}

/// What this site applies from one peer. Empty lists accept nothing.
#[derive(Debug, Clone, Default)]
pub struct AcceptPolicy {
    pub actions: Vec<ActionKind>,
    pub roles: Patterns,
    pub meta: Patterns,
    pub allow_privileged: bool,
}

/// Meta keys that hold privileges or sessions, or belong to usersync itself: never accepted
/// from a peer, never sent to one, whatever a policy says.
pub fn is_protected_meta(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.ends_with("capabilities")
        || key.ends_with("user_level")
        || key == "session_tokens"
        || key.starts_with("usersync")
        || key.starts_with("_usersync")
}

/// The pseudo-role of a multisite super admin: always privileged, whatever the configuration.
pub const SUPER_ADMIN: &str = "super_admin";

/// Privileged roles: the configured ones and, always, [`SUPER_ADMIN`].
fn is_privileged(role: &str, privileged: &[String]) -> bool {
    role == SUPER_ADMIN || privileged.iter().any(|p| p == role)
}

/// How one role coming from a peer is treated.
#[derive(Debug, PartialEq, Eq)]
pub enum RoleVerdict {
    Accept,
    Drop,
    RefuseMessage,
}

impl AcceptPolicy {
    /// The action as this site may apply it from a peer: the action must be accepted; a
    /// privileged role without permission or any protected meta key refuses the whole message;
    /// other roles and meta keys outside the policy are dropped (and reported), and so is a
    /// `pass_hash` from a peer whose `password` action is not accepted.
    pub fn apply(&self, action: Action, privileged: &[String]) -> Result<(Action, Dropped), Error> {
        let policy = self;
        if !policy.admits(action.kind()) {
            return Err(Error::ActionNotAccepted);
        }
        let mut dropped = Dropped::default();
        let action = match action {
            Action::Create(u) => Action::Create(accept_user(u, policy, privileged, &mut dropped)?),
            Action::Update(u) => Action::Update(accept_user(u, policy, privileged, &mut dropped)?),
            Action::Meta {
                uid,
                login,
                set,
                delete,
            } => {
                if delete.iter().any(|k| is_protected_meta(k)) {
                    return Err(Error::ProtectedMeta);
                }
                let set = accept_meta(set, policy, &mut dropped)?;
                let (delete, refused): (Vec<String>, Vec<String>) =
                    delete.into_iter().partition(|k| policy.meta.matches(k));
                dropped.meta.extend(refused);
                Action::Meta {
                    uid,
                    login,
                    set,
                    delete,
                }
            }
            Action::Sync(mut batch) => {
                batch.create = batch
                    .create
                    .into_iter()
                    .filter_map(|u| {
                        let uid = u.uid.clone();
                        accept_user(u, policy, privileged, &mut dropped)
                            .map_err(|e| dropped.accounts.push((uid, e)))
                            .ok()
                    })
                    .collect();
                Action::Sync(batch)
            }
            other => other,
        };
        Ok((action, dropped))
    }

    /// Whether this peer may grant `role`: a privileged role needs an exact entry and
    /// `allow_privileged`; anything else a match.
    pub fn grants(&self, role: &str, privileged: &[String]) -> bool {
        if is_privileged(role, privileged) {
            self.allow_privileged && self.roles.names_exactly(role)
        } else {
            self.roles.matches(role)
        }
    }

    /// A role in a peer's message: kept when granted; otherwise a privileged role refuses the
    /// whole message and any other is dropped.
    pub fn role(&self, role: &str, privileged: &[String]) -> RoleVerdict {
        if self.grants(role, privileged) {
            RoleVerdict::Accept
        } else if is_privileged(role, privileged) {
            RoleVerdict::RefuseMessage
        } else {
            RoleVerdict::Drop
        }
    }

    /// Protected accounts (docs/protocol.md §15): this peer may act on a local account only if
    /// it may grant every role the account holds now (a super admin holds [`SUPER_ADMIN`]).
    pub fn may_act_on(&self, roles: &[String], super_admin: bool, privileged: &[String]) -> bool {
        roles.iter().all(|r| self.grants(r, privileged))
            && (!super_admin || self.grants(SUPER_ADMIN, privileged))
    }

    /// Whether `kind` is applied from this peer.
    pub fn takes(&self, kind: ActionKind) -> bool {
        self.actions.contains(&kind)
    }

    /// Whether a message of `kind` is opened from this peer at all: the link's own messages and
    /// answers always; the initial sync's probe and batch when the peer may create accounts
    /// here (a probe tells it no more than its creates would); a user action when accepted.
    pub fn admits(&self, kind: ActionKind) -> bool {
        match kind {
            ActionKind::Ping | ActionKind::Pong | ActionKind::Answer => true,
            ActionKind::Probe | ActionKind::Sync => self.takes(ActionKind::Create),
            k => self.takes(k),
        }
    }
}

impl SendPolicy {
    /// The action as it may leave for a peer, or `None` when nothing of it may: the action must
    /// be sent, roles and meta keys are filtered, protected meta never leaves, and a `pass_hash`
    /// rides along only to peers that are sent `password`.
    pub fn filter(&self, action: &Action) -> Option<Action> {
        let send = self;
        if !send.sends(action.kind()) {
            return None;
        }
        let keep_meta = |m: &Meta| -> Meta {
            m.iter()
                .filter(|(k, _)| send.sends_meta(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        Some(match action {
            Action::Create(u) | Action::Update(u) => {
                let mut u = u.clone();
                u.roles = u
                    .roles
                    .map(|r| {
                        r.into_iter()
                            .filter(|x| send.roles.matches(x))
                            .collect::<Vec<_>>()
                    })
                    .filter(|r| !r.is_empty());
                u.meta = u.meta.as_ref().map(keep_meta).filter(|m| !m.is_empty());
                if !send.sends(ActionKind::Password) {
                    u.pass_hash = None;
                }
                match action {
                    Action::Create(_) => Action::Create(u),
                    _ => Action::Update(u),
                }
            }
            Action::Meta {
                uid,
                login,
                set,
                delete,
            } => {
                let set = keep_meta(set);
                let delete: Vec<String> = delete
                    .iter()
                    .filter(|k| send.sends_meta(k))
                    .cloned()
                    .collect();
                if set.is_empty() && delete.is_empty() {
                    return None;
                }
                Action::Meta {
                    uid: uid.clone(),
                    login: login.clone(),
                    set,
                    delete,
                }
            }
            other => other.clone(),
        })
    }

    /// Whether `kind` goes to this peer.
    pub fn sends(&self, kind: ActionKind) -> bool {
        self.actions.contains(&kind)
    }

    /// Whether meta key `key` may leave for this peer.
    pub fn sends_meta(&self, key: &str) -> bool {
        !is_protected_meta(key) && self.meta.matches(key)
    }

    /// The initial sync (src/sync.rs): an account holding a privileged role (a configured one,
    /// or super admin) is offered to this peer only when the send policy names every such role
    /// exactly — a pattern such as `*` never merges an administrator into a peer's account.
    pub fn offers_account(
        &self,
        roles: &[String],
        super_admin: bool,
        privileged: &[String],
    ) -> bool {
        roles
            .iter()
            .filter(|r| is_privileged(r, privileged))
            .all(|r| self.roles.names_exactly(r))
            && (!super_admin || self.roles.names_exactly(SUPER_ADMIN))
    }
}

/// What the accept policy removed from an action (reported to the host for its log).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dropped {
    pub roles: Vec<String>,
    pub meta: Vec<String>,
    pub pass_hash: bool,
    /// An initial sync batch: the accounts (by uid) the policy refuses, with the reason.
    pub accounts: Vec<(String, Error)>,
}

impl Dropped {
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty() && self.meta.is_empty() && !self.pass_hash && self.accounts.is_empty()
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({"roles": self.roles, "meta": self.meta, "pass_hash": self.pass_hash});
        if !self.accounts.is_empty() {
            v["accounts"] = self
                .accounts
                .iter()
                .map(|(uid, e)| json!({"uid": uid, "reason": e.name()}))
                .collect();
        }
        v
    }
}

fn accept_meta(meta: Meta, policy: &AcceptPolicy, dropped: &mut Dropped) -> Result<Meta, Error> {
    if meta.keys().any(|k| is_protected_meta(k)) {
        return Err(Error::ProtectedMeta);
    }
    let (keep, refused): (Meta, Meta) = meta.into_iter().partition(|(k, _)| policy.meta.matches(k));
    dropped.meta.extend(refused.into_keys());
    Ok(keep)
}

fn accept_user(
    mut u: User,
    policy: &AcceptPolicy,
    privileged: &[String],
    dropped: &mut Dropped,
) -> Result<User, Error> {
    if let Some(roles) = u.roles.take() {
        let mut keep = Vec::new();
        for role in roles {
            match policy.role(&role, privileged) {
                RoleVerdict::Accept => keep.push(role),
                RoleVerdict::Drop => dropped.roles.push(role),
                RoleVerdict::RefuseMessage => return Err(Error::PrivilegedRole),
            }
        }
        u.roles = (!keep.is_empty()).then_some(keep);
    }
    if let Some(meta) = u.meta.take() {
        u.meta = Some(accept_meta(meta, policy, dropped)?).filter(|m| !m.is_empty());
    }
    if u.pass_hash.is_some() && !policy.takes(ActionKind::Password) {
        u.pass_hash = None;
        dropped.pass_hash = true;
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pats(items: &[&str]) -> Patterns {
        Patterns::new(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn exact_and_prefix_patterns() {
        let p = pats(&["subscriber", "billing_*"]);
        assert!(p.matches("subscriber") && p.matches("billing_city") && p.matches("billing_"));
        assert!(!p.matches("subscriber2") && !p.matches("shipping_city") && !p.matches("billing"));
        assert!(pats(&["*"]).matches("anything"));
        assert!(!Patterns::default().matches("anything"));
    }

    #[test]
    fn privileged_roles_need_an_exact_entry_and_the_flag() {
        let privileged = vec!["administrator".to_string()];
        let mut policy = AcceptPolicy {
            roles: pats(&["*"]),
            allow_privileged: true,
            ..Default::default()
        };
        assert_eq!(
            policy.role("administrator", &privileged),
            RoleVerdict::RefuseMessage
        );
        assert_eq!(policy.role("editor", &privileged), RoleVerdict::Accept);
        policy.roles = pats(&["administrator"]);
        assert_eq!(
            policy.role("administrator", &privileged),
            RoleVerdict::Accept
        );
        policy.allow_privileged = false;
        assert_eq!(
            policy.role("administrator", &privileged),
            RoleVerdict::RefuseMessage
        );
        assert_eq!(policy.role("editor", &privileged), RoleVerdict::Drop);
    }

    #[test]
    fn protected_accounts_need_every_role_granted() {
        let privileged = vec!["administrator".to_string()];
        let policy = |roles: &[&str], allow_privileged| AcceptPolicy {
            roles: pats(roles),
            allow_privileged,
            ..Default::default()
        };
        let roles = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let shop = policy(&["subscriber", "customer", "editor"], false);
        assert!(shop.may_act_on(&roles(&["subscriber"]), false, &privileged));
        assert!(shop.may_act_on(&roles(&["subscriber", "editor"]), false, &privileged));
        assert!(
            shop.may_act_on(&[], false, &privileged),
            "no role: nothing to protect"
        );
        assert!(!shop.may_act_on(&roles(&["subscriber", "shop_manager"]), false, &privileged));
        assert!(!shop.may_act_on(&roles(&["administrator"]), false, &privileged));
        assert!(
            !shop.may_act_on(&roles(&["subscriber"]), true, &privileged),
            "super admin"
        );
        let everything = policy(&["*"], true);
        assert!(!everything.may_act_on(&roles(&["administrator"]), false, &privileged));
        assert!(
            !everything.may_act_on(&[], true, &privileged),
            "a pattern never grants super_admin"
        );
        let admins = policy(&["subscriber", "administrator"], true);
        assert!(admins.may_act_on(&roles(&["administrator"]), false, &privileged));
        assert!(!admins.may_act_on(&roles(&["administrator"]), true, &privileged));
        let supers = policy(&["administrator", "super_admin"], true);
        assert!(supers.may_act_on(&roles(&["administrator"]), true, &privileged));
        assert!(
            !policy(&["administrator", "super_admin"], false).may_act_on(
                &roles(&["administrator"]),
                false,
                &privileged
            )
        );
    }

    #[test]
    fn protected_meta_keys() {
        for k in [
            "wp_capabilities",
            "wp_2_capabilities",
            "WP_CAPABILITIES",
            "wp_user_level",
            "session_tokens",
            "usersync_origin",
            "_usersync_sid",
        ] {
            assert!(is_protected_meta(k), "{k}");
        }
        for k in ["billing_city", "nickname", "locale", "capability_note"] {
            assert!(!is_protected_meta(k), "{k}");
        }
        let send = SendPolicy {
            meta: pats(&["*"]),
            ..Default::default()
        };
        assert!(!send.sends_meta("wp_capabilities") && send.sends_meta("billing_city"));
    }
}
