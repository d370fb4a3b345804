"""Two sites for the units: this Django site d.test, and a WordPress-like peer a.test played by
a second library context (the messages it seals are exactly what the plugin's would be)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from django.test import override_settings

import usersync

SECRET = usersync.secret.generate()
ALL = ["create", "update", "delete", "password", "meta", "logout"]

A = usersync.Context({"site_id": "a.test", "url": "http://a.test", "peers": [
    {"id": "d.test", "url": "http://d.test", "secrets": [SECRET],
     "send": {"actions": ALL, "roles": ["*", "administrator", "staff"], "meta": ["*"]},
     "accept": {"actions": ALL, "roles": ["*"]}},
]})


def d_settings(**peer: Any) -> Dict[str, Any]:
    entry = {"id": "a.test", "url": "http://a.test", "secrets": [SECRET],
             "send": {"actions": ["create", "update", "delete", "password"], "roles": ["subscriber", "editor"]},
             "accept": {"actions": ["create", "update", "delete", "password", "logout"], "roles": ["subscriber", "editor"]},
             "groups": {"subscriber": "Members", "editor": "Editors"}}
    entry.update(peer)
    return {"SITE_ID": "d.test", "URL": "http://d.test", "PEERS": [entry], "DELIVER_AFTER_RESPONSE": False}


def as_d(**peer: Any) -> Any:
    return override_settings(USERSYNC=d_settings(**peer))


def from_a(act: str, data: Dict[str, Any], eid: Optional[str] = None) -> str:
    out: List[Any] = A.build({"eid": eid or usersync.secret.uid(), "act": act, "data": data}, "d.test")
    assert len(out) == 1, out
    return str(out[0]["message"])
