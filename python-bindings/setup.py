"""Only the wheel's tag: the package is pure Python, but a wheel that bundles libusersync.so is
for one platform, so it is built as a platform wheel tagged py3-none-<platform> (cffi's ABI mode
needs no particular Python version or ABI)."""

from setuptools import Distribution, setup
from setuptools.command.bdist_wheel import bdist_wheel


class BundlesALibrary(Distribution):
    def has_ext_modules(self) -> bool:
        return True


class PlatformWheel(bdist_wheel):
    def get_tag(self) -> "tuple[str, str, str]":
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(distclass=BundlesALibrary, cmdclass={"bdist_wheel": PlatformWheel})
