"""conftest.py — what the ferc package's tests share: the repository paths,
a real photo with a face (scikit-image's astronaut, from the Debian package
python3-skimage; never a dataset image), and the ferc CLI built beside the
library under test (FERC_BIN, set by tests/test_python.c)."""
import os
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(REPO, "models")
PHOTO = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png"


@pytest.fixture
def photo():
    if not os.path.exists(PHOTO):
        pytest.skip("no %s (apt-get install python3-skimage)" % PHOTO)
    return PHOTO


@pytest.fixture
def ferc_bin():
    path = os.environ.get("FERC_BIN") or os.path.join(REPO, "build", "ferc")
    if not os.access(path, os.X_OK):
        pytest.skip("the ferc CLI is not built (make, or set FERC_BIN)")
    return os.path.abspath(path)


@pytest.fixture
def seed2():
    return os.path.join(MODELS, "seed2.ferc")


def make_video(photo, out, seconds=1, fps=5):
    """A short still video of the photo (ffmpeg), or skip without ffmpeg."""
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg absent (apt-get install ffmpeg)")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-loop", "1", "-i", photo, "-t", str(seconds), "-r", str(fps),
                    "-pix_fmt", "yuv420p", "-c:v", "libx264", "-crf", "18", out], check=True)
    return out
