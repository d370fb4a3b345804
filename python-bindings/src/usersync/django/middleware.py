"""The middleware of single sign-on (sso.py): answers the plugin's endpoints at the site's root
before any view, starts single sign-on after a login here, and puts the frames that sign the
browser in on the peers into the first HTML page after it. Add it after
``AuthenticationMiddleware``::

    MIDDLEWARE = [..., "django.contrib.auth.middleware.AuthenticationMiddleware",
                  "usersync.django.middleware.SingleSignOnMiddleware", ...]
"""

from __future__ import annotations

from typing import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from . import conf, sso


class SingleSignOnMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not conf.configured():
            return self.get_response(request)
        if request.path == sso.root_path():
            q = request.GET
            if "usersync_sso_bind" in q and request.method == "GET":
                return sso.bind(request)
            if "usersync_sso_accept" in q and request.method == "POST":
                return sso.accept(request)
            if "usersync_sso" in q:
                return sso.sso_page(request)
        response = self.get_response(request)
        if getattr(request, "usersync_login", False):
            return sso.started(request, response)
        if settings.SESSION_COOKIE_NAME in request.COOKIES:  # no session, no login in progress (and no Vary: Cookie)
            return sso.with_frames(request, response)
        return response
