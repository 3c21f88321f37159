"""test_readme.py — the fer-style snippet of README.md (between the
python-snippet markers) runs as written on a real photo, in a folder that
holds models/ (a link to the repository's) and a talk.mp4 made from the
photo, and its results are what the comments say they are."""
import os
import re

import numpy as np
import pytest

from conftest import MODELS, PHOTO, REPO, make_video


def snippet():
    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read()
    m = re.search(r"<!-- python-snippet -->\s*```python\n(.*?)```\s*<!-- python-snippet-end -->", text, re.S)
    assert m, "README.md has no python-snippet block"
    return m.group(1)


def test_readme_snippet_runs_as_written(photo, tmp_path, monkeypatch):
    pytest.importorskip("cv2")
    code = snippet()
    assert PHOTO in code  # the snippet reads the photo this test provides
    os.symlink(MODELS, str(tmp_path / "models"))
    make_video(photo, str(tmp_path / "talk.mp4"), seconds=1, fps=4)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FERC_MODEL", raising=False)
    ns = {}
    exec(compile(code, "README.md:python-snippet", "exec"), ns)
    faces, label, score, probs, rows = (ns[k] for k in ("faces", "label", "score", "probs", "rows"))
    assert len(faces) >= 1 and set(faces[0]) >= {"box", "emotions"}
    assert len(faces[0]["box"]) == 4
    emotions = faces[0]["emotions"]
    assert abs(sum(emotions.values()) - 1) < 1e-4
    assert (label, score) == (max(emotions, key=emotions.get), max(emotions.values()))
    assert label == "happy" and score > 0.9  # the README's comment on this photo
    assert probs.shape == (1, len(emotions)) and probs.dtype == np.float32
    assert sorted({r["frame"] for r in rows}) == [0, 2]
    assert all(set(r) >= {"frame", "time", "box", "emotions"} for r in rows)
