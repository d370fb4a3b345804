"""The package version: the library's major.minor must match it (usersync.load() checks)."""

__version__ = "0.1.0"
