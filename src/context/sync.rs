//! The initial sync's messages (docs/protocol.md §18): the sender's probe and batch, and the
//! receiver's sealed answer. The rules are in crate::sync; this seals and opens.

use super::{input_object, now, Context};
use crate::actions::Action;
use crate::claims::{new_uid, MessageType};
use crate::sync::{self, Answer, Facts};
use crate::Error;
use serde_json::{json, Value};

impl Context {
    /// A probe for `peer` about the host's local accounts (JSON array, see
    /// [`sync::locals`]): `{"peer", "url", "message", "jti", "local"}` — `message` (`null` when
    /// no account may be offered) to POST to the peer's inbox, its `jti` to match the answer,
    /// and per account `{"do": "ask"}` or `{"do": "not_sent", "reason"}`.
    pub fn sync_probe(&self, peer: &str, accounts: &[u8]) -> Result<Value, Error> {
        let peer = self.peer(peer)?;
        let locals = sync::locals(peer, &self.config.privileged_roles, accounts, false)?;
        self.sealed_request(peer, sync::probe_of(&locals), sync::local_json(&locals))
    }

    /// A batch for `peer` carrying out the report's verdicts for the host's local accounts
    /// (each with its `uid` and `op`, `create` or `link`); shaped like [`Context::sync_probe`]'s.
    pub fn sync_batch(&self, peer: &str, accounts: &[u8]) -> Result<Value, Error> {
        let peer = self.peer(peer)?;
        let locals = sync::locals(peer, &self.config.privileged_roles, accounts, true)?;
        self.sealed_request(peer, sync::batch_of(&locals), sync::local_json(&locals))
    }

    fn sealed_request(
        &self,
        peer: &crate::config::Peer,
        action: Option<Action>,
        local: Value,
    ) -> Result<Value, Error> {
        let (message, jti) = match action {
            Some(action) => {
                let eid = new_uid()?;
                let (out, jti) =
                    self.seal_jti(peer, MessageType::Action, Some(&eid), &action, now())?;
                (json!(out.message), json!(jti))
            }
            None => (Value::Null, Value::Null),
        };
        Ok(
            json!({"peer": peer.id, "url": peer.url.as_str(), "message": message, "jti": jti, "local": local}),
        )
    }

    /// The receiver's side: for an opened probe or batch (as [`super::Opened::to_json`] wrote
    /// it) and the host's facts about each of its accounts, the outcome of each (`results`:
    /// for a batch, apply exactly the `create` and `link` ones, inside the transaction the facts
    /// were read in) and the sealed answer for the sender: `{"peer", "url", "message",
    /// "results"}`.
    pub fn sync_answer(&self, opened: &[u8], facts: &[u8]) -> Result<Value, Error> {
        self.sync_answer_at(opened, facts, now())
    }

    pub(crate) fn sync_answer_at(
        &self,
        opened: &[u8],
        facts: &[u8],
        now: i64,
    ) -> Result<Value, Error> {
        let m = input_object(
            opened,
            &["iss", "act", "data", "jti", "eid", "exp", "dropped"],
            4,
        )
        .map_err(|_| Error::DataInvalid)?;
        let opened = Value::Object(m);
        let (peer, results) = self.outcomes_for(&opened, facts)?;
        let answer = Action::Answer(Answer {
            to: opened["jti"]
                .as_str()
                .ok_or(Error::DataInvalid)?
                .to_string(),
            results: results.clone(),
        });
        let eid = new_uid()?;
        let out = self.seal(peer, MessageType::Action, Some(&eid), &answer, now)?;
        let results: Vec<Value> = results.iter().map(sync::Outcome::to_json).collect();
        Ok(
            json!({"peer": peer.id, "url": peer.url.as_str(), "message": out.message, "results": results}),
        )
    }

    fn outcomes_for(
        &self,
        opened: &Value,
        facts: &[u8],
    ) -> Result<(&crate::config::Peer, Vec<sync::Outcome>), Error> {
        let peer = self.peer(opened["iss"].as_str().ok_or(Error::DataInvalid)?)?;
        let kind = opened["act"]
            .as_str()
            .and_then(crate::actions::ActionKind::parse)
            .ok_or(Error::DataInvalid)?;
        let refused = refused_accounts(opened.get("dropped"))?;
        // A batch whose every account the policy refused on opening is empty, and answered.
        let action = match kind {
            crate::actions::ActionKind::Sync if !refused.is_empty() => {
                sync::Batch::parse_opened(&opened["data"]).map(Action::Sync)
            }
            _ => Action::parse(kind, &opened["data"]),
        }
        .map_err(|_| Error::DataInvalid)?;
        let facts = Facts::parse_all(facts, sync::facts_needed(&action)?)?;
        let results = sync::outcomes(
            peer,
            &self.config.privileged_roles,
            &action,
            &refused,
            &facts,
        )?;
        Ok((peer, results))
    }
}

/// The accounts the accept policy refused when the batch was opened (`dropped.accounts`).
fn refused_accounts(dropped: Option<&Value>) -> Result<Vec<(String, Error)>, Error> {
    let Some(list) = dropped.and_then(|d| d.get("accounts")) else {
        return Ok(Vec::new());
    };
    list.as_array()
        .ok_or(Error::DataInvalid)?
        .iter()
        .map(|a| {
            let uid = a["uid"].as_str().ok_or(Error::DataInvalid)?;
            let reason = a["reason"]
                .as_str()
                .and_then(|n| Error::ALL.iter().copied().find(|e| e.name() == n))
                .ok_or(Error::DataInvalid)?;
            Ok((uid.to_string(), reason))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LinkSecret;

    const BCRYPT: &str = "$2y$10$abcdefghijklmnopqrstuu5Y0ZkYhq1GmW7xv8aJ0Yk2b1mJQ9vW2";

    fn pair(b_accept: Value) -> (Context, Context) {
        let s = LinkSecret::generate().unwrap().to_text();
        let a = json!({"site_id": "a.test", "url": "https://a.test", "peers": [{"id": "b.test", "url": "https://b.test",
            "secrets": [s], "send": {"actions": ["create", "update", "password"], "roles": ["subscriber", "editor", "administrator"], "meta": ["billing_*"]}}]});
        let b = json!({"site_id": "b.test", "url": "https://b.test", "peers": [{"id": "a.test", "url": "https://a.test",
            "secrets": [s], "accept": b_accept}]});
        (
            Context::from_json(a.to_string().as_bytes()).unwrap(),
            Context::from_json(b.to_string().as_bytes()).unwrap(),
        )
    }

    fn subscribers() -> Value {
        json!({"actions": ["create", "update", "password"], "roles": ["subscriber", "editor"], "meta": ["billing_*"]})
    }

    fn acct(id: u64, uid: Option<&str>, roles: &[&str]) -> Value {
        json!({"id": id, "uid": uid, "roles": roles})
    }

    fn facts(items: &[(Value, Value, Value)]) -> Vec<u8> {
        let accounts: Vec<Value> = items
            .iter()
            .map(|(l, bl, be)| json!({"linked": l, "by_login": bl, "by_email": be}))
            .collect();
        json!({ "accounts": accounts }).to_string().into_bytes()
    }

    fn open(ctx: &Context, message: &Value) -> Value {
        ctx.open_action(message.as_str().unwrap().as_bytes(), None)
            .unwrap()
            .to_json()
    }

    #[test]
    fn a_probe_reports_create_link_collisions_and_not_sent() {
        let (a, b) = pair(subscribers());
        let locals = json!([
            {"login": "new", "email": "new@x.test", "roles": ["subscriber"]},
            {"login": "match", "email": "match@x.test", "roles": ["subscriber"]},
            {"login": "taken", "email": "taken@x.test"},
            {"login": "mail", "email": "mail@x.test"},
            {"login": "boss", "email": "boss@x.test", "roles": ["administrator"]},
            {"login": "root", "email": "root@x.test", "super_admin": true},
            {"login": "bad", "email": "no-at-sign"},
            {"login": "admin", "email": "admin@x.test", "roles": ["subscriber"]},
            {"login": "elsewhere", "email": "e@x.test"},
            {"login": "new2", "email": "NEW@x.test"},
        ]);
        let probe = a
            .sync_probe("b.test", locals.to_string().as_bytes())
            .unwrap();
        let local: Vec<&str> = probe["local"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.get("reason").and_then(Value::as_str).unwrap_or("ask"))
            .collect();
        // boss is offered (the send policy names administrator exactly); root is a super admin.
        assert_eq!(
            local,
            [
                "ask",
                "ask",
                "ask",
                "ask",
                "ask",
                "privileged_not_sent",
                "data_invalid",
                "ask",
                "ask",
                "ask"
            ]
        );
        let opened = open(&b, &probe["message"]);
        assert_eq!(opened["act"], "probe");
        assert_eq!(opened["data"]["accounts"].as_array().unwrap().len(), 8);
        let n = Value::Null;
        let f = facts(&[
            (n.clone(), n.clone(), n.clone()),
            (
                n.clone(),
                acct(7, None, &["subscriber"]),
                acct(7, None, &["subscriber"]),
            ),
            (n.clone(), acct(8, None, &["subscriber"]), n.clone()),
            (n.clone(), n.clone(), acct(9, None, &[])),
            (n.clone(), n.clone(), n.clone()),
            (
                n.clone(),
                acct(1, None, &["administrator"]),
                acct(1, None, &["administrator"]),
            ),
            (
                n.clone(),
                acct(5, Some("dWlkLW9mLWFsaWNlLTAwMQ"), &[]),
                acct(5, Some("dWlkLW9mLWFsaWNlLTAwMQ"), &[]),
            ),
            (n.clone(), n.clone(), n.clone()),
        ]);
        let answer = b.sync_answer(opened.to_string().as_bytes(), &f).unwrap();
        let got: Vec<String> = answer["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{}{}",
                    r["do"].as_str().unwrap(),
                    r.get("reason")
                        .map_or(String::new(), |x| format!(":{}", x.as_str().unwrap()))
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                "create",
                "link",
                "collision:login_taken",
                "collision:email_taken",
                "not_sent:privileged_role",
                "collision:protected_account",
                "collision:linked_elsewhere",
                "collision:email_taken", // new2 asks for new's email, case aside, in one probe
            ]
        );
        // The sender opens the sealed answer to its probe.
        let back = open(&a, &answer["message"]);
        assert_eq!(back["act"], "answer");
        assert_eq!(back["data"]["to"], probe["jti"]);
        assert_eq!(back["data"]["results"].as_array().unwrap().len(), 8);
    }

    #[test]
    fn a_batch_applied_twice_changes_nothing_the_second_time() {
        let (a, b) = pair(subscribers());
        let (u1, u2) = ("dWlkLW9mLWFsaWNlLTAwMQ", "dWlkLW9mLWJvYi0wMDAwMQ");
        let locals = json!([
            {"op": "create", "uid": u1, "login": "new", "email": "new@x.test", "roles": ["subscriber", "shop_manager"],
             "meta": {"billing_city": ["Oslo"], "notes": ["x"]}, "pass_hash": BCRYPT},
            {"op": "link", "uid": u2, "login": "match", "email": "match@x.test", "roles": ["subscriber"]},
        ]);
        let batch = a
            .sync_batch("b.test", locals.to_string().as_bytes())
            .unwrap();
        let opened = open(&b, &batch["message"]);
        let create = &opened["data"]["create"][0];
        assert_eq!(
            create["roles"],
            json!(["subscriber"]),
            "shop_manager was not sent"
        );
        assert_eq!(create["meta"], json!({"billing_city": ["Oslo"]}));
        assert_eq!(create["pass_hash"], BCRYPT, "the hash travels as it is");
        let n = Value::Null;
        let first = facts(&[
            (n.clone(), n.clone(), n.clone()),
            (
                n.clone(),
                acct(7, None, &["subscriber"]),
                acct(7, None, &["subscriber"]),
            ),
        ]);
        let r = b
            .sync_answer(opened.to_string().as_bytes(), &first)
            .unwrap();
        assert_eq!(
            r["results"],
            json!([{"do": "create", "uid": u1}, {"do": "link", "uid": u2}])
        );
        // Interrupted before the sender recorded the answer: the same accounts again.
        let again = a
            .sync_batch("b.test", locals.to_string().as_bytes())
            .unwrap();
        let opened = open(&b, &again["message"]);
        let second = facts(&[
            (
                acct(30, Some(u1), &["subscriber"]),
                acct(30, Some(u1), &["subscriber"]),
                acct(30, Some(u1), &["subscriber"]),
            ),
            (
                acct(7, Some(u2), &["subscriber"]),
                acct(7, Some(u2), &["subscriber"]),
                acct(7, Some(u2), &["subscriber"]),
            ),
        ]);
        let r = b
            .sync_answer(opened.to_string().as_bytes(), &second)
            .unwrap();
        assert_eq!(
            r["results"],
            json!([{"do": "linked", "uid": u1}, {"do": "linked", "uid": u2}])
        );
    }

    #[test]
    fn a_batch_never_merges_and_refuses_what_changed() {
        let (a, b) = pair(subscribers());
        let (u1, u2, u3) = (
            "dWlkLW9mLWFsaWNlLTAwMQ",
            "dWlkLW9mLWJvYi0wMDAwMQ",
            "dWlkLW9mLWNhcm9sLTAwMQ",
        );
        let locals = json!([
            {"op": "create", "uid": u1, "login": "new", "email": "new@x.test"},
            {"op": "create", "uid": u3, "login": "boss", "email": "boss@x.test", "roles": ["administrator"]},
            {"op": "link", "uid": u2, "login": "gone", "email": "gone@x.test"},
        ]);
        let batch = a
            .sync_batch("b.test", locals.to_string().as_bytes())
            .unwrap();
        let opened = open(&b, &batch["message"]);
        assert_eq!(
            opened["dropped"]["accounts"],
            json!([{"uid": u3, "reason": "privileged_role"}])
        );
        let n = Value::Null;
        // Since the report, an account with the same login and email appeared, and the
        // account to link was deleted.
        let f = facts(&[
            (
                n.clone(),
                acct(40, None, &["subscriber"]),
                acct(40, None, &["subscriber"]),
            ),
            (n.clone(), n.clone(), n.clone()),
        ]);
        let r = b.sync_answer(opened.to_string().as_bytes(), &f).unwrap();
        assert_eq!(
            r["results"],
            json!([{"do": "collision", "reason": "identity_conflict", "uid": u1},
                   {"do": "collision", "reason": "unknown_account", "uid": u2},
                   {"do": "not_sent", "reason": "privileged_role", "uid": u3}])
        );
        // Facts of the wrong count or shape are refused, never read as "nothing there".
        assert_eq!(
            b.sync_answer(
                opened.to_string().as_bytes(),
                &facts(&[(n.clone(), n.clone(), n.clone())])
            )
            .unwrap_err(),
            Error::DataInvalid
        );
        let missing = json!({"accounts": [{"linked": null, "by_login": null}, {"linked": null, "by_login": null, "by_email": null}]});
        assert_eq!(
            b.sync_answer(
                opened.to_string().as_bytes(),
                missing.to_string().as_bytes()
            )
            .unwrap_err(),
            Error::DataInvalid
        );
    }

    #[test]
    fn a_batch_the_policy_empties_on_opening_is_answered_not_sent() {
        let (a, b) = pair(subscribers());
        let (u1, u2) = ("dWlkLW9mLWFsaWNlLTAwMQ", "dWlkLW9mLWJvYi0wMDAwMQ");
        let sealed = |data: Value| {
            let action = Action::parse(crate::actions::ActionKind::Sync, &data).unwrap();
            let peer = a.peer("b.test").unwrap();
            let out = a
                .seal(peer, MessageType::Action, Some(u1), &action, now())
                .unwrap();
            open(&b, &json!(out.message))
        };
        // Every create refused by B's accept policy: an administrator, a protected meta key.
        let opened = sealed(json!({"create": [
            {"uid": u1, "login": "boss", "email": "boss@x.test", "roles": ["administrator"]},
            {"uid": u2, "login": "caps", "email": "caps@x.test", "meta": {"wp_capabilities": ["x"]}}]}));
        assert_eq!(opened["data"], json!({}));
        let r = b
            .sync_answer(opened.to_string().as_bytes(), br#"{"accounts": []}"#)
            .unwrap();
        assert_eq!(
            r["results"],
            json!([{"do": "not_sent", "reason": "privileged_role", "uid": u1},
                   {"do": "not_sent", "reason": "protected_meta", "uid": u2}])
        );
        // An empty batch that nothing emptied is still refused.
        let mut empty = opened.clone();
        empty.as_object_mut().unwrap().remove("dropped");
        assert_eq!(
            b.sync_answer(empty.to_string().as_bytes(), br#"{"accounts": []}"#)
                .unwrap_err(),
            Error::DataInvalid
        );
    }

    #[test]
    fn probes_and_batches_need_creates_both_ways_and_stay_out_of_events() {
        let (a, b) = pair(json!({"actions": ["update"], "roles": ["subscriber"]}));
        let probe = a
            .sync_probe("b.test", br#"[{"login": "x", "email": "x@x.test"}]"#)
            .unwrap();
        let err = b
            .open_action(probe["message"].as_str().unwrap().as_bytes(), None)
            .unwrap_err();
        assert_eq!(err, Error::ActionNotAccepted);
        let (a2, _) = pair(subscribers());
        assert_eq!(
            a2.sync_probe("b.test", b"[]").unwrap_err(),
            Error::InvalidArgument
        );
        assert_eq!(
            a2.sync_probe("nobody", br#"[{"login": "x", "email": "x@x.test"}]"#)
                .unwrap_err(),
            Error::UnknownPeer
        );
        let event = json!({"eid": "dWlkLW9mLWFsaWNlLTAwMQ", "act": "sync", "data": {"link": []}});
        assert_eq!(
            a2.route(event.to_string().as_bytes()).unwrap_err(),
            Error::UnknownAction
        );
        // A batch without uids is not a batch.
        let err = a2
            .sync_batch(
                "b.test",
                br#"[{"op": "create", "login": "x", "email": "x@x.test"}]"#,
            )
            .unwrap();
        assert_eq!(err["message"], Value::Null);
        assert_eq!(
            err["local"],
            json!([{"do": "not_sent", "reason": "data_invalid"}])
        );
    }
}
