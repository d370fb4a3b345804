from django.urls import path

from . import inbox

app_name = "usersync"
urlpatterns = [
    path("inbox", inbox.inbox, name="inbox"),
]
