"""Single sign-on and logout everywhere with the peers, speaking exactly what the WordPress
plugin speaks (docs/protocol.md §12 and §15; the plugin's class-usersync-sso.php), so that a
browser signed in on either kind of site is signed in on the other.

Every decision is the library's: it mints and opens the tickets, checks every destination
(``check_return``) and decides with the target check whether a ticket may sign the browser in
as the account its uid names (binding, linked account, protected account). This module stores,
asks and applies. Tickets travel only in POST bodies, never in URLs.

The endpoints are the plugin's, at the site's root (``USERSYNC["URL"]``), answered by
:class:`usersync.django.middleware.SingleSignOnMiddleware` before any view:

- ``GET ?usersync_sso_bind=1&from=PEER&mode=fetch|frame|chain``: a peer's login starts here. A
  fresh random binding value goes into an HttpOnly cookie; its hash goes back to the peer (the
  answer to the peer's page's credentialed request, readable by that origin alone through CORS;
  a ``postMessage`` to the peer's origin from a frame; or the redirect back to it).
- ``POST ?usersync_sso_accept=1`` (``ticket``, ``mode``, ``return``, ``from``): the library opens
  the ticket and checks it against the account's facts and the binding cookie; then
  ``django.contrib.auth.login`` starts the session (``user_logged_in`` fires), recording the peer
  and peer session it came from (a peer's logout ends it). Refusals are logged with the login and
  the reason, and change nothing.
- ``?usersync_sso=1``: this site's side of a login made here — the chain's next hop, a frame's
  ticket (``&issue=1``, POST, CSRF-protected), the interstitial for a destination on a peer.

A login here (``user_logged_in`` in a request whose answer is a redirect, as ``LoginView``'s is):
the browser goes to the page it asked for, and hidden frames in that page (the first HTML page
the site answers) sign it in on every peer whose send policy has ``login``; a peer whose frame
cannot (third-party cookies blocked) is then signed in by the redirect chain, returning to the
same page, and this browser takes the chain at once next time. ``USERSYNC["SSO_MODE"]``:
``"auto"`` (default), ``"parallel"`` (frames only) or ``"redirect"`` (the chain only).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Set
from urllib.parse import urlencode, urljoin, urlsplit

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import views as auth_views
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_protect

import usersync

from . import conf, links, log
from .inbox import record_once
from .models import UserSession

#: This site's state of a login in progress, in the Django session (server-side, this browser's).
STATE_KEY = "usersync_sso"
#: This browser blocks third-party cookies: its logins take the chain at once (first-party).
CHAIN_COOKIE = "usersync_chain"
#: The browser binding a peer's ticket must match (HttpOnly, set here for a peer's login).
BIND_COOKIE = "usersync_bind"
STATE_TTL = 600
BIND_TTL = 300
CHAIN_TTL = 30 * 86400
#: How long the frames wait for a peer's frame to bind before trying it by the chain (ms).
FRAME_TIMEOUT_MS = 5000
MODES = ("auto", "parallel", "redirect")
SCRIPTS = {"sso-frames", "sso-frame", "sso-post"}
# The modes in which a peer's page asks and reads the answer itself (else: the chain's redirects).
IN_PAGE = ("fetch", "frame")
_STATIC = Path(__file__).resolve().parent / "static" / "usersync"
_TOKEN = re.compile(r"[^A-Za-z0-9_-]")


class Refused(Exception):
    """A ticket the library let through that this site still refuses (its reason is logged)."""


# ---- shared ------------------------------------------------------------------------------------


def mode() -> str:
    value = str(conf.raw().get("SSO_MODE", "auto"))
    return value if value in MODES else "auto"


def site_url() -> str:
    return str(conf.raw().get("URL", "")).rstrip("/")


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def root_path() -> str:
    """The path of the site's URL, where the endpoints answer (``/`` for a site at the root)."""
    return (urlsplit(site_url()).path.rstrip("/") or "") + "/"


def sso_url(**query: str) -> str:
    """This site's single sign-on page (relative: same origin as the browser's page)."""
    return root_path() + "?" + urlencode({"usersync_sso": "1", **query})


def login_peers(context: usersync.Context) -> List[str]:
    """The peers this site signs browsers in on (their send policy has ``login``)."""
    return [p["id"] for p in context.peers() if p["login"]]


def peer_info(context: usersync.Context, peer_id: str) -> Optional[Dict[str, Any]]:
    for p in context.peers():
        if p["id"] == peer_id:
            return dict(p)
    return None


def checked(url: str) -> Optional[str]:
    """A destination the library allows (this site or a peer, normalised), or None."""
    try:
        return conf.context().check_return(url)
    except usersync.Error:
        return None


def allowed_hosts() -> Set[str]:
    """The hosts (with ports) of this site and its peers, for ``url_has_allowed_host_and_scheme``."""
    urls = [site_url()] + [str(p.get("url", "")) for p in conf.peers()]
    return {urlsplit(u).netloc for u in urls if u}


def fallback() -> str:
    home = site_url() + "/"
    return checked(urljoin(home, resolve_url(settings.LOGIN_REDIRECT_URL))) or home


def destination(url: str) -> str:
    """Where a login may send the browser: Django's rule (``url_has_allowed_host_and_scheme``
    against this site and its peers), made absolute, then the library's (same scheme, host and
    port as this site or a peer); anything else goes to ``LOGIN_REDIRECT_URL``."""
    https = site_url().startswith("https:")
    if not url_has_allowed_host_and_scheme(url, allowed_hosts(), require_https=https):
        return fallback()
    return checked(urljoin(site_url() + "/", url)) or fallback()


class LoginView(auth_views.LoginView):
    """Django's ``LoginView`` whose ``next`` may also be a page of a peer (its host is allowed;
    the library still checks scheme and port); the login then signs the browser in there too."""

    def get_success_url_allowed_hosts(self) -> Set[str]:
        return super().get_success_url_allowed_hosts() | (allowed_hosts() if conf.configured() else set())


def _cookie_path() -> str:
    return root_path()


def set_cookie(response: HttpResponse, request: HttpRequest, name: str, value: str, ttl: int, cross_site: bool) -> None:
    secure = request.is_secure()
    # SameSite=None is honoured only on Secure cookies: without HTTPS only same-site flows work.
    response.set_cookie(name, value, max_age=ttl, path=_cookie_path(), secure=secure, httponly=True,
                        samesite="None" if cross_site and secure else "Lax")


def clear_cookie(response: HttpResponse, request: HttpRequest, name: str, cross_site: bool) -> None:
    response.delete_cookie(name, path=_cookie_path(), samesite="None" if cross_site and request.is_secure() else "Lax")


def script(request: HttpRequest, name: str) -> HttpResponse:
    """The app's own small scripts (no inline script anywhere), served by the app itself so that
    a site needs no static-files set-up for them."""
    if name not in SCRIPTS:
        raise Http404()
    response = HttpResponse((_STATIC / f"{name}.js").read_bytes(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def script_tag(name: str) -> str:
    return format_html('<script src="{}"></script>', reverse("usersync:sso_script", kwargs={"name": name}))


def page(body: str, frame_ancestors: Iterable[str] = ()) -> HttpResponse:
    """One of the app's own small HTML pages: no caching, no Referer, and a Content Security
    Policy that allows no inline script or style, and frames, forms and redirects only to this
    site and its peers. ``frame_ancestors``: the origins that may frame the page."""
    response = HttpResponse("<!doctype html>" + body, content_type="text/html; charset=utf-8")
    add_never_cache_headers(response)
    peers = " ".join(str(p["origin"]) for p in conf.context().peers())
    ancestors = " ".join(frame_ancestors) or "'none'"
    response["Referrer-Policy"] = "no-referrer"
    response["Content-Security-Policy"] = (f"default-src 'none'; script-src 'self'; connect-src 'self'; frame-src {peers}; "
                                           f"form-action 'self' {peers}; base-uri 'none'; frame-ancestors {ancestors}")
    if frame_ancestors:
        response.xframe_options_exempt = True  # the CSP names who may frame it
    return response


def redirect(url: str, status: int = 303) -> HttpResponse:
    response = HttpResponse(status=status)
    response["Location"] = url
    add_never_cache_headers(response)
    return response


# ---- a login here signs the browser in on the peers ---------------------------------------------


def started(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """After a request in which a user logged in here (``user_logged_in``): when the answer is a
    redirect, the login signs the browser in on the peers — frames in the asked page when it is
    this site's, else the single sign-on page first (the chain, or the interstitial's frames)."""
    if response.status_code not in (301, 302, 303) or not response.has_header("Location"):
        return response
    user = request.user
    context = conf.context()
    peers = login_peers(context)
    uid = links.uid_of(user)
    key = request.session.session_key
    if not peers or uid is None or not key:
        return response  # nothing to sign in elsewhere (an account that is not linked stays local)
    # The session names the peers it signs in: their logout may end it (docs/protocol.md §15).
    UserSession.objects.filter(session_key=key).update(peers=peers)
    dest = destination(response["Location"])
    frames = mode() != "redirect" and CHAIN_COOKIE not in request.COOKIES and origin_of(dest) == origin_of(site_url())
    request.session[STATE_KEY] = {
        "user": user.pk, "uid": uid, "sid": links.session_id(key), "remember": not request.session.get_expire_at_browser_close(),
        "dest": dest, "remaining": [], "frames": peers if frames else [], "until": int(time.time()) + STATE_TTL,
    }
    if not frames:
        response["Location"] = sso_url()  # else the login view's own answer, which it checked already
    return response


def state(request: HttpRequest) -> Optional[Dict[str, Any]]:
    """The state of this browser's login in progress, for the user signed in now, or None."""
    value = request.session.get(STATE_KEY)
    user = request.user
    if (not isinstance(value, dict) or not user.is_authenticated or value.get("user") != user.pk
            or int(value.get("until", 0)) < time.time()):
        return None
    return value


def bind_url(context: usersync.Context, peer: str, how: str) -> str:
    """Where the browser gets a peer's binding cookie (the plugin's endpoint at the peer's root)."""
    info = peer_info(context, peer)
    base = str(info["url"]).rstrip("/") if info else ""
    return base + "/?" + urlencode({"usersync_sso_bind": "1", "from": conf.site_id(), "mode": how})


def mint(state: Dict[str, Any], peer: str, bnd: str, back: Optional[str]) -> Optional[Dict[str, str]]:
    """A ticket for one peer bound to the browser's binding hash, or None (logged: skipped)."""
    user = auth.get_user_model().objects.filter(pk=state["user"]).first()
    if user is None:
        return None
    request: Dict[str, Any] = {"peer": peer, "uid": state["uid"], "login": user.get_username(),
                               "remember": bool(state["remember"]), "bnd": bnd, "sid": state["sid"]}
    if back is not None:
        request["return"] = back
    try:
        ticket = {k: str(v) for k, v in conf.context().mint_ticket(request).items()}
    except usersync.Error as e:
        log.add("out", peer, "login", user.get_username(), "refused", e.reason)
        return None
    ticket["accept"] = ticket["url"].rstrip("/") + "/?usersync_sso_accept=1"
    return ticket


def sso_page(request: HttpRequest) -> HttpResponse:
    """?usersync_sso=1: frames' tickets, the chain's next hop, or the destination."""
    st = state(request)
    if st is None:
        return redirect(fallback(), 302)
    q = request.GET
    if "issue" in q:
        return frame_ticket(request)
    context = conf.context()
    peers = login_peers(context)
    chain_cookie = False
    if "bound" in q and "bnd" in q:
        # Back from a peer's binding step of the chain: post the peer its ticket.
        peer = q["bound"] if q["bound"] in peers else ""
        back = site_url() + sso_url(**{"continue": peer})
        ticket = mint(st, peer, _TOKEN.sub("", q["bnd"]), back) if peer else None
        if ticket is not None:
            return post_page(ticket, back)
        st["remaining"] = [p for p in st["remaining"] if p != peer]  # no ticket: skip it
    elif "continue" in q:
        st["remaining"] = [p for p in st["remaining"] if p != q["continue"]]
    elif "chain" in q:
        # The frames could not sign some peers in (third-party cookies blocked): chain through
        # those, and take the chain at once next time in this browser.
        asked = q["chain"].split(",")
        st["remaining"] = [p for p in peers if p in asked]
        st["frames"] = []
        chain_cookie = True
    elif mode() == "redirect" or CHAIN_COOKIE in request.COOKIES:
        st["remaining"] = list(peers)
    else:
        return frames_page(request, st)
    nxt = st["remaining"][0] if st["remaining"] else None
    if nxt is None:
        del request.session[STATE_KEY]
        response = redirect(str(st["dest"]), 302)
    else:
        request.session[STATE_KEY] = st
        response = redirect(bind_url(context, nxt, "chain"))
    if chain_cookie:
        set_cookie(response, request, CHAIN_COOKIE, "1", CHAIN_TTL, False)
    return response


@csrf_protect
def frame_ticket(request: HttpRequest) -> HttpResponse:
    """POST ?usersync_sso=1&issue=1 from the frames (CSRF-protected): a ticket for one peer's
    frame, bound to the hash that frame sent, as JSON."""
    st = state(request)
    if request.method != "POST" or st is None:
        return JsonResponse({}, status=403)
    peer = request.POST.get("peer", "")
    ticket = mint(st, peer, _TOKEN.sub("", request.POST.get("bnd", "")), None) if peer in login_peers(conf.context()) else None
    if ticket is None:
        return JsonResponse({}, status=404)
    response = JsonResponse({"accept": ticket["accept"], "ticket": ticket["message"]})
    add_never_cache_headers(response)
    return response


def post_page(ticket: Dict[str, str], back: str) -> HttpResponse:
    """A top-level POST of a ticket to a peer (the chain); ``back`` is where a refusal returns."""
    body = format_html(
        '<meta name="referrer" content="no-referrer"><title>Signing you in…</title>'
        '<form id="usersync-post" method="post" action="{}">'
        '<input type="hidden" name="ticket" value="{}"><input type="hidden" name="mode" value="chain">'
        '<input type="hidden" name="return" value="{}"><noscript><button>Continue</button></noscript></form>',
        ticket["accept"], ticket["message"], back)
    return page(body + script_tag("sso-post"))


def frames_markup(request: HttpRequest, peers: List[str], done: Optional[str]) -> str:
    """The hidden frames for ``peers`` and the script that drives them (sso-frames.js): each
    frame gets a bound ticket; ``done`` is where the page goes when all have answered (None: it
    stays)."""
    context = conf.context()
    config: Dict[str, Any] = {
        "peers": {}, "ticket": sso_url(issue="1"), "csrf": get_token(request), "done": done,
        "chain": sso_url() + "&chain=", "site": conf.site_id(), "fallback": mode() == "auto", "timeout": FRAME_TIMEOUT_MS,
    }
    frames = []
    for peer in peers:
        info = peer_info(context, peer)
        if info is None:
            continue
        name = "usersync_" + hashlib.md5(peer.encode()).hexdigest()
        config["peers"][peer] = {"origin": info["origin"], "frame": name}
        frames.append((name, bind_url(context, peer, "frame")))
    return (format_html('<div id="usersync-sso" hidden data-config="{}"></div>', json.dumps(config))
            + format_html_join("", '<iframe name="{}" src="{}" hidden></iframe>', frames) + script_tag("sso-frames"))


def frames_page(request: HttpRequest, st: Dict[str, Any]) -> HttpResponse:
    """The interstitial for a destination that is not this site's: frames, then the destination."""
    body = '<meta name="referrer" content="no-referrer"><title>Signing you in…</title><p>Signing you in on the linked sites…</p>'
    return page(body + frames_markup(request, login_peers(conf.context()), str(st["dest"])))


def with_frames(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """The first HTML page this browser gets after its login here carries the frames that sign it
    in on the peers, while the user already reads it."""
    if (getattr(response, "streaming", False) or response.status_code != 200
            or not response.get("Content-Type", "").startswith("text/html")):
        return response
    st = state(request)
    if st is None or not st.get("frames"):
        return response
    peers = [p for p in login_peers(conf.context()) if p in st["frames"]]
    st["frames"] = []  # one page signs them in; the chain takes over for those that cannot
    request.session[STATE_KEY] = st
    if not peers:
        return response
    charset = response.charset or "utf-8"
    content = response.content.decode(charset)
    at = content.lower().rfind("</body>")
    markup = frames_markup(request, peers, None)
    content = content[:at] + markup + content[at:] if at >= 0 else content + markup
    response.content = content.encode(charset)
    if response.has_header("Content-Length"):
        response["Content-Length"] = str(len(response.content))
    return response


# ---- a peer's browser signs in here -------------------------------------------------------------


def answer_page(peer_origin: str, mode: str, message: Dict[str, Any]) -> HttpResponse:
    """Answers a peer's page with one message, readable by that peer's origin only: to its
    credentialed request ("fetch": JSON, CORS allowing that one origin), or as a page in its
    frame that posts the message to it ("frame")."""
    if mode != "fetch":
        return frame_message(peer_origin, message)
    response = JsonResponse(message)
    add_never_cache_headers(response)
    response["Access-Control-Allow-Origin"] = peer_origin
    response["Access-Control-Allow-Credentials"] = "true"
    response["Vary"] = "Origin"
    return response


def frame_message(peer_origin: str, message: Dict[str, Any]) -> HttpResponse:
    """A page in a peer's frame that posts one message to the peer's origin, and nothing else."""
    body = format_html('<div id="usersync-message" data-origin="{}" data-message="{}"></div>', peer_origin, json.dumps(message))
    return page(body + script_tag("sso-frame"), [peer_origin])


def bind(request: HttpRequest) -> HttpResponse:
    """GET ?usersync_sso_bind=1&from=PEER&mode=fetch|frame|chain: the first step of a peer's single
    sign-on here. Sets a fresh binding cookie and hands its hash back to the peer. The value
    itself never leaves this site."""
    context = conf.context()
    peer = peer_info(context, request.GET.get("from", ""))
    if peer is None:
        return HttpResponseBadRequest("unknown peer")
    value = usersync.secret.nonce(43)
    bnd = usersync.secret.binding_hash(value)
    if request.GET.get("mode") in IN_PAGE:
        response = answer_page(str(peer["origin"]), request.GET["mode"], {"usersync": "bind", "bnd": bnd})
    else:
        back = checked(str(peer["url"]).rstrip("/") + "/?" + urlencode({"usersync_sso": "1", "bound": conf.site_id(), "bnd": bnd}))
        response = redirect(back or site_url() + "/")
    set_cookie(response, request, BIND_COOKIE, value, BIND_TTL, True)
    return response


def login_refused(user: Any) -> Optional[str]:
    """Whether this site refuses the account a login now, asked as Django's own login asks
    (``ModelBackend.user_can_authenticate``: an inactive account logs in nowhere here)."""
    return None if getattr(user, "is_active", True) else "inactive_account"


def accept(request: HttpRequest) -> HttpResponse:
    """POST ?usersync_sso_accept=1 with a ticket: the library decides; Django signs the browser
    in. (No CSRF token: the ticket is the credential, bound to this browser by its cookie.)"""
    how = request.POST.get("mode", "chain")
    in_page = how in IN_PAGE  # answered to the peer's page, not a redirect
    back = checked(request.POST["return"]) if "return" in request.POST else None
    raw_binding = request.COOKIES.get(BIND_COOKIE)
    binding = _TOKEN.sub("", raw_binding) if raw_binding is not None else None
    opened: Optional[Dict[str, Any]] = None
    reason = ""
    try:
        context = conf.context()
        opened = dict(context.open_ticket(request.POST.get("ticket", "")))
        with transaction.atomic():
            facts, user = links.facts(opened, binding)
            context.check_target(opened, facts)
            # Single use: its (iss, jti) is recorded, whatever this site says next.
            until = datetime.fromtimestamp(int(opened["exp"]) + conf.setting("CLOCK_SKEW", 60), timezone.utc)
            refusal = None if record_once(opened["iss"], opened["jti"], until) else "ticket already used"
            refusal = refusal or login_refused(user)
            if refusal is None:
                log_in(request, user, opened)
        if refusal is not None:
            raise Refused(refusal)
        log.add("in", opened["iss"], "login", str(opened["data"]["login"]), "applied", how if in_page else "chain")
        ok = True
    except (usersync.Error, Refused) as e:
        reason = e.reason if isinstance(e, usersync.Error) else str(e)
        data = (opened or {}).get("data", {})
        log.add("in", str((opened or {}).get("iss", "")), "login", str(data.get("login", "")), "refused", reason)
        ok = False
    if in_page:
        # The peer's page gets the answer at once. A refusal for want of the binding cookie means
        # the browser blocks this site's cookies there: the chain may work. Only a configured
        # peer gets an answer.
        peer = peer_info(conf.context(), str((opened or {}).get("iss") or request.POST.get("from", "")))
        if peer is None:
            response: HttpResponse = HttpResponseBadRequest("unknown peer")
        else:
            response = answer_page(str(peer["origin"]), how, {"usersync": "sso", "ok": ok, "retry": not ok and reason == "wrong_browser"})
        if ok and request.is_secure():
            cross_site_session_cookie(request, response)
    else:
        # The chain goes on: to the ticket's return URL (checked by the library), else where the form said.
        response = redirect(str((opened or {}).get("data", {}).get("return") or back or site_url() + "/"))
    clear_cookie(response, request, BIND_COOKIE, True)  # single use, whatever happened
    return response


def log_in(request: HttpRequest, user: Any, opened: Dict[str, Any]) -> None:
    """Signs the browser in the way Django's login view does (``auth.login``: a new session key,
    ``user_logged_in``), the session noting the peer and peer session it came from."""
    request.usersync_from = {"iss": str(opened["iss"]), "sid": str(opened["data"].get("sid", ""))}  # type: ignore[attr-defined]
    backend = next(iter(settings.AUTHENTICATION_BACKENDS), "django.contrib.auth.backends.ModelBackend")
    auth.login(request, user, backend=backend)
    if not opened["data"].get("remember"):
        request.session.set_expiry(0)  # until the browser closes, as the peer's session


def cross_site_session_cookie(request: HttpRequest, response: HttpResponse) -> None:
    """Set from another site's page, the session cookie must be SameSite=None (a cross-site
    Lax cookie is not stored): saved and sent here, as SessionMiddleware would, with that one
    difference."""
    session = request.session
    session.save()
    age = None if session.get_expire_at_browser_close() else session.get_expiry_age()
    response.set_cookie(settings.SESSION_COOKIE_NAME, str(session.session_key), max_age=age,
                        domain=settings.SESSION_COOKIE_DOMAIN, path=settings.SESSION_COOKIE_PATH, secure=True,
                        httponly=settings.SESSION_COOKIE_HTTPONLY, samesite="None")
    session.modified = False  # SessionMiddleware: saved, and its cookie is set
