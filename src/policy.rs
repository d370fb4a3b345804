//! Per-peer policy: what may be sent to a peer and what is accepted from it. The one place where
//! roles and meta keys are matched, and where privileged roles and protected meta are decided.

use crate::actions::ActionKind;

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
}

impl SendPolicy {
    /// Whether `kind` goes to this peer.
    pub fn sends(&self, kind: ActionKind) -> bool {
        self.actions.contains(&kind)
    }

    /// Whether meta key `key` may leave for this peer.
    pub fn sends_meta(&self, key: &str) -> bool {
        !is_protected_meta(key) && self.meta.matches(key)
    }
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
