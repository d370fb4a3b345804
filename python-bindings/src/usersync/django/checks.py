"""``manage.py check``: a configuration the library refuses is reported at start-up, with the
library's reason naming the field (never a secret), not at the first user change."""

from __future__ import annotations

from typing import Any, List

from django.core.checks import CheckMessage, Error, register

import usersync

from . import conf


@register()
def usersync_configuration(app_configs: Any = None, **kwargs: Any) -> List[CheckMessage]:
    if not conf.configured():
        return []
    try:
        conf.context()
    except usersync.Error as e:
        return [Error(f"usersync: {e}", hint="Fix the USERSYNC setting (or the USERSYNC_SECRETS_* environment).",
                      id="usersync.E001")]
    return []
