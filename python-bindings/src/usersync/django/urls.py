from django.urls import path

from . import inbox, sso

app_name = "usersync"
urlpatterns = [
    path("inbox", inbox.inbox, name="inbox"),
    path("<str:name>.js", sso.script, name="sso_script"),
]
