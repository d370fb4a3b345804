from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, JsonResponse
from django.urls import include, path


def whoami(request: HttpRequest) -> JsonResponse:
    """Who this browser is logged in as (for the tests)."""
    user = request.user
    return JsonResponse({"user": user.get_username() if user.is_authenticated else None})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password_change/", auth_views.PasswordChangeView.as_view(success_url="/whoami"),
         name="password_change"),
    path("usersync/", include("usersync.django.urls")),
    path("whoami", whoami),
]
