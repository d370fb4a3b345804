"""The Django app passes mypy --strict with Django's types (django-stubs and its plugin reading
this project's settings)."""

import subprocess
import sys
import unittest
from pathlib import Path

from django.test import SimpleTestCase

HERE = Path(__file__).resolve().parents[1]


class Types(SimpleTestCase):
    def test_the_app_passes_mypy_strict(self) -> None:
        try:
            import mypy  # noqa: F401
            import mypy_django_plugin  # noqa: F401
        except ImportError:
            raise unittest.SkipTest("mypy and django-stubs are not installed (run-units.sh installs them)")
        out = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(HERE / "mypy.ini"), "--no-incremental",
                              "-p", "usersync.django"], capture_output=True, text=True, timeout=600)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
