"""test_cli_parity.py — Python and the CLI give the same answer: the boxes,
face confidences and probabilities of `ferc predict --json` and of
FER.detect_emotions on the same images (a photo, and a face crop that both
classify whole), to the digits the CLI prints."""
import json
import os
import subprocess

import numpy as np
import pytest

import ferc


def cli_faces(ferc_bin, model, image):
    p = subprocess.run([ferc_bin, "predict", "--json", "--model", model, image], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.splitlines()[0])


def assert_same(cli, py, model):
    assert len(cli["faces"]) == len(py) > 0
    for c, f in zip(cli["faces"], py):
        assert c["box"] == f["box"]
        if c["face_confidence"] is None:
            assert f["face_confidence"] is None
        else:
            assert abs(c["face_confidence"] - f["face_confidence"]) < 1e-4
        assert list(f["emotions"]) == model.classes
        for name in model.classes:
            assert abs(c["scores"][name] - f["emotions"][name]) <= 1.5e-6, name


def test_photo_same_boxes_and_probabilities(ferc_bin, photo, seed2):
    fer = ferc.FER(seed2)
    cli = cli_faces(ferc_bin, seed2, photo)
    assert cli["whole_image"] is False
    assert_same(cli, fer.detect_emotions(ferc.imread(photo)), fer.model)
    cv2 = pytest.importorskip("cv2")
    assert_same(cli, fer.detect_emotions(cv2.imread(photo)), fer.model)


def test_face_crop_classified_whole_as_the_cli_does(ferc_bin, photo, seed2, tmp_path):
    cv2 = pytest.importorskip("cv2")
    fer = ferc.FER(seed2)
    img = cv2.imread(photo)
    x, y, w, h = fer.detect_emotions(img)[0]["box"]
    crop = cv2.resize(img[y:y + h, x:x + w], (64, 64), interpolation=cv2.INTER_AREA)
    path = str(tmp_path / "crop.png")
    assert cv2.imwrite(path, crop)
    cli = cli_faces(ferc_bin, seed2, path)
    assert cli["whole_image"] is True
    py = fer.detect_emotions(cv2.imread(path))
    assert_same(cli, py, fer.model)
    # Model.predict on the gray crop is the same classification
    probs = fer.model.predict(ferc._to_gray(cv2.imread(path)))
    np.testing.assert_allclose(probs[0], [py[0]["emotions"][k] for k in fer.model.classes], atol=1e-6)


def test_second_model_too(ferc_bin, photo):
    from conftest import MODELS
    seed = os.path.join(MODELS, "seed.ferc")
    fer = ferc.FER(seed)
    assert_same(cli_faces(ferc_bin, seed, photo), fer.detect_emotions(ferc.imread(photo)), fer.model)
