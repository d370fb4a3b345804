"""usersync for Django: a Django site as a host of the usersync network (docs/protocol.md),
speaking protocol v1 through the library like the WordPress plugin.

Add ``"usersync.django"`` to ``INSTALLED_APPS``, ``path("usersync/", include("usersync.django.urls"))``
to the URLconf, ``"usersync.django.hashers.WordPressPasswordHasher"`` to the end of
``PASSWORD_HASHERS``, and a ``USERSYNC`` setting (see :mod:`usersync.django.conf`). Run
``manage.py migrate`` and ``manage.py usersync_deliver`` from cron or a systemd timer.
"""
