from django.apps import AppConfig


class UsersyncConfig(AppConfig):
    name = "usersync.django"
    label = "usersync"
    verbose_name = "usersync"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Signal receivers: user changes become outbox events; delivery after the response.
        from . import checks, events  # noqa: F401
