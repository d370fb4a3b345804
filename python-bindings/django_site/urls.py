from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import include, path

from usersync.django import sso


def whoami(request: HttpRequest) -> JsonResponse:
    """Who this browser is logged in as (for the tests)."""
    user = request.user
    return JsonResponse({"user": user.get_username() if user.is_authenticated else None})


def profile(request: HttpRequest) -> HttpResponse:
    """An ordinary HTML page of the site (where a login lands, and single sign-on's frames run)."""
    return render(request, "profile.html")


urlpatterns = [
    path("admin/", admin.site.urls),
    # Django's LoginView, whose next= may also be a peer's page (usersync.django.sso.LoginView).
    path("accounts/login/", sso.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password_change/", auth_views.PasswordChangeView.as_view(success_url="/whoami"),
         name="password_change"),
    path("usersync/", include("usersync.django.urls")),
    path("whoami", whoami),
    path("profile", profile),
]
