//! Where WordPress keeps each profile field of the protocol (§9), and how a user meta key
//! travels: the one place hosts ask, so no plugin keeps its own copy of either rule.

use crate::policy::is_protected_meta;

/// Where WordPress stores a field: a `wp_users` column or a user meta row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    Column,
    UserMeta,
}

/// Each protocol field, WordPress's name for it (`WP_User` property, `wp_update_user()` key),
/// and where that lives.
pub const PROFILE_FIELDS: [(&str, &str, Storage); 8] = [
    ("display_name", "display_name", Storage::Column),
    ("first_name", "first_name", Storage::UserMeta),
    ("last_name", "last_name", Storage::UserMeta),
    ("nickname", "nickname", Storage::UserMeta),
    ("nicename", "user_nicename", Storage::Column),
    ("url", "user_url", Storage::Column),
    ("description", "description", Storage::UserMeta),
    ("locale", "locale", Storage::UserMeta),
];

/// How a changed user meta key travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaKind {
    /// Ordinary meta: a `meta` action, for peers whose policy names the key.
    Meta,
    /// A profile field WordPress keeps in user meta (a plugin writing `first_name` with
    /// `update_user_meta()`): it travels in an update's `fields`, never as meta.
    ProfileField,
    /// Privileges, sessions, usersync's own: never sent (policy.rs).
    Protected,
}

pub fn meta_kind(key: &str) -> MetaKind {
    if is_protected_meta(key) {
        MetaKind::Protected
    } else if PROFILE_FIELDS
        .iter()
        .any(|&(_, wp, storage)| storage == Storage::UserMeta && wp == key)
    {
        MetaKind::ProfileField
    } else {
        MetaKind::Meta
    }
}

/// `{"<protocol field>": "<WordPress name>", …}` for hosts that map fields both ways.
pub fn profile_fields_json() -> serde_json::Value {
    PROFILE_FIELDS
        .iter()
        .map(|&(field, wp, _)| (field.to_string(), serde_json::Value::from(wp)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_protocol_field_has_a_wordpress_home() {
        let ours: Vec<&str> = PROFILE_FIELDS.iter().map(|f| f.0).collect();
        let protocol: Vec<&str> = crate::actions::FIELDS.iter().map(|f| f.0).collect();
        assert_eq!(ours, protocol);
    }

    #[test]
    fn meta_keys_are_sorted_as_wordpress_stores_them() {
        for key in [
            "first_name",
            "last_name",
            "nickname",
            "description",
            "locale",
        ] {
            assert_eq!(meta_kind(key), MetaKind::ProfileField, "{key}");
        }
        // Columns are not meta: a plugin's meta row of that name is its own business.
        for key in [
            "user_url",
            "display_name",
            "billing_city",
            "First_Name",
            "nickname2",
        ] {
            assert_eq!(meta_kind(key), MetaKind::Meta, "{key}");
        }
        for key in [
            "wp_capabilities",
            "wp_2_user_level",
            "session_tokens",
            "usersync_uid",
        ] {
            assert_eq!(meta_kind(key), MetaKind::Protected, "{key}");
        }
        assert_eq!(profile_fields_json()["url"], "user_url");
    }
}
