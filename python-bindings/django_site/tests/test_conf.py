import os
from unittest import mock

from django.core.checks import run_checks
from django.test import SimpleTestCase, override_settings

import usersync
from usersync.django import conf

from .helpers import SECRET, as_d, d_settings


class Configuration(SimpleTestCase):
    @as_d()
    def test_library_config_has_the_privileged_flags_and_no_app_keys(self) -> None:
        c = conf.library_config()
        self.assertEqual(c["site_id"], "d.test")
        self.assertEqual(c["privileged_roles"], ["administrator", "staff"])
        self.assertNotIn("groups", c["peers"][0])
        self.assertEqual(conf.groups("a.test"), {"subscriber": "Members", "editor": "Editors"})
        self.assertEqual(conf.groups("nobody"), {})

    def test_secrets_come_from_the_environment_when_left_out_of_settings(self) -> None:
        s = d_settings()
        del s["PEERS"][0]["secrets"]
        with override_settings(USERSYNC=s), mock.patch.dict(os.environ, {"USERSYNC_SECRETS_A_TEST": f" {SECRET} "}):
            self.assertEqual(conf.peers()[0]["secrets"], [SECRET])
            conf.context()  # the library takes it
        with override_settings(USERSYNC=s), mock.patch.dict(os.environ, {}, clear=True):
            self.assertEqual(conf.peers()[0]["secrets"], [])
            with self.assertRaises(usersync.ConfigError):
                conf.context()

    def test_a_refused_configuration_is_a_system_check_error_without_the_secret(self) -> None:
        bad = "usk1_" + "x" * 10
        with override_settings(USERSYNC=d_settings(secrets=[bad])):
            errors = [e for e in run_checks() if e.id == "usersync.E001"]
        self.assertEqual(len(errors), 1)
        self.assertIn("peers[0].secrets[0]", errors[0].msg)
        self.assertNotIn(bad, errors[0].msg)

    @override_settings(USERSYNC={})
    def test_unconfigured_is_quiet(self) -> None:
        self.assertFalse(conf.configured())
        self.assertEqual([e for e in run_checks() if e.id.startswith("usersync")], [])
