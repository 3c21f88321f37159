"""setup.py — builds the `ferc` Python package, offline, with Debian's
setuptools and wheel:

    pip install --no-build-isolation --no-index ./python        # from the repo root
    pip wheel --no-deps --no-build-isolation --no-index -w dist ./python  # a wheel

The package bundles libferc.so (and the shipped seed2/seed models) so that a
wheel works on its own: the library is $FERC_LIBRARY when set, else the
repository's build/libferc.so, built with `make shared` when missing. Set
FERC_NO_BUNDLE=1 to bundle nothing and use an installed libferc.so
(`make install`) through ctypes.util.find_library instead.
"""
import os
import re
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def version():
    try:
        with open(os.path.join(REPO, "include", "ferc.h")) as f:
            return re.search(r'#define FERC_VERSION_STRING "([^"]+)"', f.read()).group(1)
    except (OSError, AttributeError):
        return "0.0.0"


def library():
    env = os.environ.get("FERC_LIBRARY")
    if env:
        return os.path.realpath(env)
    built = os.path.join(REPO, "build", "libferc.so")
    if not os.path.exists(built) and os.path.exists(os.path.join(REPO, "Makefile")):
        subprocess.check_call(["make", "-C", REPO, "shared"])
    if not os.path.exists(built):
        raise SystemExit("setup.py: no libferc.so: run `make shared` in the repository or set FERC_LIBRARY")
    return os.path.realpath(built)


class BuildWithLibrary(build_py):
    """build_py that also copies libferc.so and the default models into the
    package folder of the build (never into the source tree)."""

    def run(self):
        super().run()
        if os.environ.get("FERC_NO_BUNDLE"):
            return
        dest = os.path.join(self.build_lib, "ferc")
        shutil.copyfile(library(), os.path.join(dest, "libferc.so"))
        models = os.path.join(dest, "models")
        os.makedirs(models, exist_ok=True)
        for name in ("seed2.ferc", "seed.ferc"):
            src = os.path.join(REPO, "models", name)
            if os.path.exists(src):
                shutil.copyfile(src, os.path.join(models, name))


class BinaryDistribution(Distribution):
    """The wheel holds a compiled library: tag it for this platform."""

    def has_ext_modules(self):
        return not os.environ.get("FERC_NO_BUNDLE")


setup(
    name="ferc",
    version=version(),
    description="Facial emotion recognition: Python bindings of libferc (ctypes), fer-style API",
    packages=["ferc"],
    python_requires=">=3.9",
    install_requires=["numpy"],
    cmdclass={"build_py": BuildWithLibrary},
    distclass=BinaryDistribution,
)
