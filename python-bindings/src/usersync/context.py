"""One site and its peers: build, open and check messages and login tickets."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union, cast

from . import _library
from ._library import Bytesish, to_bytes, to_json
from ._types import Opened, Outgoing, PeerInfo, Ping, Verdict

__all__ = ["Context"]


class Context:
    """One site and its peers (configuration format: docs/protocol.md §13). Builds the sealed
    messages for a user event, opens what peers send with every check of the protocol, runs the
    target check, and mints and opens login tickets. Create one per process and keep it.

    Immutable in the library: one context may serve every thread (cffi releases the GIL during
    each call). Its keys are wiped when it is garbage-collected.

    Every refusal raises a :class:`usersync.Error` subclass with ``code`` and ``reason``:
    :class:`~usersync.EnvelopeError` and :class:`~usersync.MessageRefused` for messages,
    :class:`~usersync.ConfigError` for the configuration and ``unknown_peer``.
    """

    __slots__ = ("_lib", "_c", "_handle", "__weakref__")

    def __init__(self, config: Union[Mapping[str, Any], str, bytes]) -> None:
        """``config``: the configuration as a mapping, or as JSON text.

        :raises ConfigError: ``config_invalid``, the message naming the faulty field (e.g.
            ``peers[0].secrets[0]: a link secret must start with "usk1_"``), never a secret.
        """
        lib = _library.get()
        data = to_bytes(config) if isinstance(config, (str, bytes)) else to_json(config)
        self._lib = lib
        self._c = lib.c
        self._handle = lib.construct(
            "usersync_context", lib.c.usersync_context_new, lib.c.usersync_context_free, data, len(data)
        )

    def peers(self) -> List[PeerInfo]:
        """The configured peers, in configuration order, without their secrets."""
        return cast(List[PeerInfo], self._lib.allocated_json(self._c.usersync_context_peers, self._handle))

    def route(self, event: Mapping[str, Any]) -> List[str]:
        """The ids of the peers an event goes to, without sealing anything (what an outbox
        records when it queues the event).

        :raises MessageRefused: for an event that must not leave (e.g. a plaintext password).
        """
        data = to_json(event)
        return cast(List[str], self._lib.allocated_json(self._c.usersync_context_route, self._handle, data, len(data)))

    def build(self, event: Mapping[str, Any], peer: Optional[str] = None) -> List[Outgoing]:
        """The sealed messages for one event ``{"eid", "act", "data"}`` (``eid``: the event's
        id, :func:`usersync.secret.uid`, kept for every retry), one per peer whose send policy
        takes it (only ``peer``'s when given), with only what that policy lets out.

        :raises MessageRefused: for an event that must not leave (``pass_hash_format``,
            ``data_invalid``, …).
        :raises ConfigError: ``unknown_peer`` for a ``peer`` that is not configured.
        """
        data = to_json(event)
        if peer is None:
            p: Any = self._lib.ffi.NULL
            n = 0
        else:
            p = to_bytes(peer)
            n = len(p)
            if n == 0:
                # The C ABI reads a zero length as "no peer given", which would send to every
                # peer: an empty id names none.
                raise self._lib.error(self._c.USERSYNC_RESULT_UNKNOWN_PEER, "the peer id is empty")
        return cast(
            List[Outgoing],
            self._lib.allocated_json(self._c.usersync_context_build, self._handle, data, len(data), p, n),
        )

    def open_action(self, text: Bytesish, remote_ip: Optional[str]) -> Opened:
        """Opens a server-to-server message from a peer; ``remote_ip`` is the request's source
        address (``None`` when unknown, which fails any ``ip_allow``). Returns ``{"iss", "jti",
        "eid", "exp", "act", "data", "dropped"?}``: then, in one transaction, record ``(iss,
        eid)`` — a second copy is a duplicate —, read the facts of the account linked to
        ``data["uid"]`` and apply exactly what :meth:`check_target` answers.

        :raises EnvelopeError: ``authentication_failed``, ``too_large``, …
        :raises MessageRefused: ``expired``, ``ip_not_allowed``, ``action_not_accepted``, …
        """
        data = to_bytes(text)
        if remote_ip is None:
            ip: Any = self._lib.ffi.NULL
            n = 0
        else:
            ip = to_bytes(remote_ip)
            n = len(ip)
        return cast(
            Opened,
            self._lib.allocated_json(self._c.usersync_context_open_action, self._handle, data, len(data), ip, n),
        )

    def check_target(self, opened: Mapping[str, Any], facts: Mapping[str, Any]) -> Verdict:
        """The target check (docs/protocol.md §15) for an opened action or ticket, with the
        facts the host read in the transaction that applies it: ``{"account": None | {"uid",
        "roles", "super_admin"?, "sessions"?}, "login_taken"?, "email_taken"?, "binding"?}``.
        Returns the verdict ``{"do": "create" | "apply" | "skip", "end_sessions"?}``, to apply
        exactly. (Anything passed is sent as its JSON: facts that are not an object are
        ``data_invalid``.)

        :raises MessageRefused: ``protected_account``, ``identity_conflict``,
            ``unknown_account``, ``wrong_browser``, ``data_invalid``.
        :raises ConfigError: ``unknown_peer`` (the opened message names no configured peer).
        """
        o = to_json(opened)
        f = to_json(facts)
        return cast(
            Verdict,
            self._lib.allocated_json(self._c.usersync_context_check_target, self._handle, o, len(o), f, len(f)),
        )

    def mint_ticket(self, request: Mapping[str, Any]) -> Outgoing:
        """A single-use login ticket for a peer from ``{"peer", "uid", "login", "remember",
        "bnd", "sid"?, "return"?}`` (``bnd``: the binding hash the peer gave the browser).
        Keep tickets out of URLs that servers log: POST them.

        :raises MessageRefused: ``return_url_refused``, ``action_not_sent``, ``data_invalid``, …
        """
        data = to_json(request)
        return cast(Outgoing, self._lib.allocated_json(self._c.usersync_context_mint_ticket, self._handle, data, len(data)))

    def open_ticket(self, text: Bytesish) -> Opened:
        """Opens a login ticket carried by a browser; shaped like :meth:`open_action`'s result
        (``act`` is ``"login"``). Then run :meth:`check_target` with the browser's binding
        cookie, and record ``(iss, jti)`` until ``exp`` plus the clock skew."""
        data = to_bytes(text)
        return cast(Opened, self._lib.allocated_json(self._c.usersync_context_open_ticket, self._handle, data, len(data)))

    def client_ip(self, remote: str, forwarded_for: Optional[str] = None) -> str:
        """The address a request really came from (docs/protocol.md §13, ``trusted_proxies``):
        ``remote`` (the connection's peer) unless it is a configured trusted proxy, then the
        rightmost ``X-Forwarded-For`` address no trusted proxy added. Pass the result to
        :meth:`open_action`.

        :raises Error: ``invalid_argument`` when ``remote`` is not an IP address.
        """
        r = to_bytes(remote)
        if forwarded_for is None:
            f: Any = self._lib.ffi.NULL
            n = 0
        else:
            f = to_bytes(forwarded_for)
            n = len(f)
        out = self._lib.allocated(self._c.usersync_context_client_ip, self._handle, r, len(r), f, n)
        return out.decode("ascii")

    def check_return(self, url: str) -> str:
        """A destination for a browser, normalised, when it is on this site or a configured
        peer (the rule of return URLs, docs/protocol.md §12).

        :raises MessageRefused: ``return_url_refused`` for anything else.
        """
        data = to_bytes(url)
        out = self._lib.allocated(self._c.usersync_context_check_return, self._handle, data, len(data))
        return out.decode("utf-8")

    def ping(self, peer: str) -> Ping:
        """A sealed ``ping`` for a peer (the link health check, docs/protocol.md §16), to POST
        to its inbox like any action; its ``jti`` is what the pong must name (pass the whole
        result to :meth:`check_pong`).

        :raises ConfigError: ``unknown_peer``.
        """
        data = to_bytes(peer)
        return cast(Ping, self._lib.allocated_json(self._c.usersync_context_ping, self._handle, data, len(data)))

    def check_pong(self, ping: Mapping[str, Any], answer: Bytesish, remote_ip: Optional[str]) -> Dict[str, Any]:
        """Opens the pong a peer answered to ``ping`` (what :meth:`ping` returned, with its
        ``jti``), as an action from that peer (``remote_ip``: the answering server's address,
        for its ``ip_allow``), and reports the link: ``{"peer", "time", "local_time",
        "version", "not_accepted", "not_sent"}`` (docs/protocol.md §16).

        :raises MessageRefused: ``wrong_site`` (another peer's pong), ``data_invalid`` (a pong
            for another ping), ``expired``/``not_yet_valid`` (the clocks differ), …
        :raises EnvelopeError: ``authentication_failed`` (another secret), …
        """
        p = to_json(ping)
        a = to_bytes(answer)
        if remote_ip is None:
            ip: Any = self._lib.ffi.NULL
            n = 0
        else:
            ip = to_bytes(remote_ip)
            n = len(ip)
        return cast(
            Dict[str, Any],
            self._lib.allocated_json(self._c.usersync_context_check_pong, self._handle, p, len(p), a, len(a), ip, n),
        )

    def pong(self, opened: Mapping[str, Any]) -> Outgoing:
        """The sealed ``pong`` answering a ping this site opened (:meth:`open_action`'s
        result), for the body of the HTTP answer.

        :raises MessageRefused: ``data_invalid`` when ``opened`` is not a ping.
        """
        data = to_json(opened)
        return cast(Outgoing, self._lib.allocated_json(self._c.usersync_context_pong, self._handle, data, len(data)))

    def sync_probe(self, peer: str, accounts: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
        """The initial sync's question for ``peer`` (docs/protocol.md §18): which of these local
        accounts (1–1000 user records of a ``create``, with ``uid`` when linked) would be
        created, linked or left alone there. Returns ``{"peer", "url", "message", "jti",
        "local"}``: POST ``message`` (``None`` when no account may be offered) to the peer's
        inbox; ``local`` says per account ``{"do": "ask"}`` or ``{"do": "not_sent", "reason"}``.

        :raises MessageRefused: ``action_not_sent`` when this site does not send creates there.
        :raises Error: ``invalid_argument`` for an empty or too long list.
        """
        return self._sync(self._c.usersync_context_sync_probe, peer, accounts)

    def sync_batch(self, peer: str, accounts: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
        """A batch carrying out the report for ``peer``: accounts as for :meth:`sync_probe`, each
        with the ``uid`` it is linked by (kept until answered) and ``op`` (``"create"`` or
        ``"link"``). Shaped like :meth:`sync_probe`'s result.

        :raises EnvelopeError: ``too_large`` when the batch would not fit a message (send fewer).
        """
        return self._sync(self._c.usersync_context_sync_batch, peer, accounts)

    def sync_answer(self, opened: Mapping[str, Any], facts: Mapping[str, Any]) -> Dict[str, Any]:
        """The receiver's side of an opened probe or batch, from the host's facts ``{"accounts":
        [{"linked", "by_login", "by_email"}, …]}``: ``{"peer", "url", "message", "results"}``.

        :raises MessageRefused: ``data_invalid`` for another message or facts of another shape.
        """
        o = to_json(opened)
        f = to_json(facts)
        return cast(
            Dict[str, Any],
            self._lib.allocated_json(self._c.usersync_context_sync_answer, self._handle, o, len(o), f, len(f)),
        )

    def _sync(self, call: Any, peer: str, accounts: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
        p = to_bytes(peer)
        a = to_json(list(accounts))
        return cast(Dict[str, Any], self._lib.allocated_json(call, self._handle, p, len(p), a, len(a)))

    # Immutable: a copy is the same context; handles cannot be pickled.
    def __copy__(self) -> "Context":
        return self

    def __deepcopy__(self, memo: Any) -> "Context":
        return self

    def __reduce__(self) -> Tuple[Any, ...]:
        raise TypeError("a Context holds native keys and cannot be pickled")

    def __repr__(self) -> str:
        return "<usersync.Context>"
