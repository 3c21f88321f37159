"""test_video.py — ferc.Video: frames decoded by ffmpeg reach the library,
`every` picks frames 0, N, 2N..., times follow the frame rate, and the
faces of a still video are the faces of its photo."""
import os

import pytest

import ferc
from conftest import make_video


def test_video_analyze_every_second_frame(photo, seed2, tmp_path):
    path = make_video(photo, str(tmp_path / "still.mp4"), seconds=1, fps=5)
    v = ferc.Video(path, model=seed2)
    assert (v.width, v.height) == (512, 512) and abs(v.fps - 5) < 1e-6
    rows = v.analyze(every=2)
    assert sorted({r["frame"] for r in rows}) == [0, 2, 4]
    still = ferc.FER(seed2).detect_emotions(ferc.imread(photo))[0]
    for r in rows:
        assert r["face"] >= 1 and abs(r["time"] - r["frame"] / 5) < 1e-6
        first = [q for q in rows if q["frame"] == r["frame"] and q["face"] == 1][0]
        assert all(abs(a - b) <= 4 for a, b in zip(first["box"], still["box"]))  # video compression moves it little
        top = max(first["emotions"], key=first["emotions"].get)
        assert top == max(still["emotions"], key=still["emotions"].get)
    assert len(v.analyze(every=1)) >= 5


def test_video_errors(tmp_path, seed2):
    with pytest.raises(ferc.FercError, match="no such file"):
        ferc.Video(str(tmp_path / "nothing.mp4"))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(os.urandom(2000))
    if not __import__("shutil").which("ffprobe"):
        pytest.skip("ffmpeg absent")
    with pytest.raises(ferc.FercError, match="junk.mp4"):
        ferc.Video(str(junk), model=seed2)
    with pytest.raises(ValueError):
        ferc.Video.analyze(object.__new__(ferc.Video), every=0)
