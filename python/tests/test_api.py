"""test_api.py — ferc.Model, ferc.FER and ferc.imread on their own: shapes,
class names from the model, errors carrying the library's message, and that
calls release the GIL (CDLL, not PyDLL)."""
import ctypes
import os
import subprocess
import sys

import numpy as np
import pytest

import ferc
from conftest import MODELS, REPO


def test_model_predict_shapes_and_probabilities(seed2):
    m = ferc.Model(seed2)
    rng = np.random.default_rng(1)
    faces = rng.integers(0, 256, size=(5, 48, 48), dtype=np.uint8)
    p = m.predict(faces)
    assert p.shape == (5, len(m.classes)) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    assert (p >= 0).all()
    # one face alone gives the same row as in a batch (no cross-talk between faces)
    np.testing.assert_allclose(m.predict(faces[3]), p[3:4], atol=1e-6)
    # different faces, different probabilities: the pixels reach the network
    assert np.abs(p[0] - p[1]).max() > 1e-4
    assert m.predict(np.zeros((0, 48, 48), np.uint8)).shape == (0, len(m.classes))


def test_class_names_come_from_the_model(seed2):
    m = ferc.Model(seed2)
    lib = ferc._lib.lib
    n = lib.ferc_model_num_classes(m._h)
    assert n == len(m.classes) > 1
    assert m.classes == [lib.ferc_model_class_name(m._h, i).decode() for i in range(n)]
    assert lib.ferc_model_class_name(m._h, n) is None and lib.ferc_model_class_name(m._h, -1) is None
    assert len(set(m.classes)) == n


def test_predict_any_face_size_matches_the_model_input(seed2):
    """A 40x40 face for seed2 (input 40) goes in untouched; the same face
    resized by the library from 80x80 (pixel-doubled) is close to it."""
    m = ferc.Model(seed2)
    rng = np.random.default_rng(2)
    face = rng.integers(0, 256, size=(40, 40), dtype=np.uint8)
    big = np.kron(face, np.ones((2, 2), np.uint8))
    a, b = m.predict(face), m.predict(big)
    assert a.shape == b.shape == (1, len(m.classes))
    assert a.argmax() == b.argmax() or np.abs(a - b).max() < 0.2


def test_errors_carry_the_library_message(tmp_path, seed2):
    with pytest.raises(ferc.FercError) as e:
        ferc.Model(str(tmp_path / "missing.ferc"))
    assert "missing.ferc" in str(e.value) and e.value.status == "io error"
    bad = tmp_path / "bad.ferc"
    bad.write_bytes(b"not a model at all" * 10)
    with pytest.raises(ferc.FercError) as e:
        ferc.Model(str(bad))
    assert "bad.ferc" in str(e.value) and e.value.status == "format error"
    m = ferc.Model(seed2)
    with pytest.raises(TypeError):
        m.predict(np.zeros((2, 48, 48), np.float32))
    with pytest.raises(ValueError):
        m.predict(np.zeros((2, 2, 48, 48), np.uint8))
    with pytest.raises(ferc.FercError, match="positive"):
        m.predict(np.zeros((2, 0, 48), np.uint8))
    fer = ferc.FER(m)
    with pytest.raises(ValueError):
        fer.detect_emotions(np.zeros((10, 10, 2), np.uint8))
    with pytest.raises(ferc.FercError):
        ferc.FER(m, cascade=str(tmp_path / "no-cascade.xml"))
    with pytest.raises(ferc.FercError, match="nope.png"):
        ferc.imread(str(tmp_path / "nope.png"))


def test_calls_release_the_gil():
    lib = ferc._lib.lib
    assert isinstance(lib, ctypes.CDLL) and not isinstance(lib, ctypes.PyDLL)
    assert not lib.ferc_find_faces._flags_ & ctypes._FUNCFLAG_PYTHONAPI


def test_library_not_found_is_a_clear_error(tmp_path):
    env = dict(os.environ, FERC_LIBRARY=str(tmp_path / "libnothere.so"), PYTHONPATH=os.path.join(REPO, "python"))
    p = subprocess.run([sys.executable, "-c", "import ferc"], env=env, capture_output=True, text=True)
    assert p.returncode != 0 and "cannot load libferc.so" in p.stderr and "FERC_LIBRARY" in p.stderr


def test_imread_matches_opencv(photo):
    cv2 = pytest.importorskip("cv2")
    a = ferc.imread(photo)
    assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3
    np.testing.assert_array_equal(a, cv2.imread(photo))


def test_gray_and_bgr_inputs_agree(photo, seed2):
    """A BGR image and its gray version (the library's conversion, as
    `ferc predict` loads it) give the same faces."""
    fer = ferc.FER(seed2)
    bgr = ferc.imread(photo)
    gray = ferc._to_gray(bgr)
    assert gray.shape == bgr.shape[:2]
    assert fer.detect_emotions(bgr) == fer.detect_emotions(gray)
    assert fer.detect_emotions(np.zeros((300, 400, 3), np.uint8)) == []
    assert fer.top_emotion(np.zeros((300, 400), np.uint8)) == (None, None)


def test_default_model_is_found(monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("FERC_MODEL", raising=False)
    assert os.path.samefile(ferc.default_model_path(), os.path.join(MODELS, "seed2.ferc"))
    monkeypatch.setenv("FERC_MODEL", os.path.join(MODELS, "seed.ferc"))
    assert ferc.FER().model.arch == "seed"
