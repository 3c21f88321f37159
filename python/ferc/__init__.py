"""ferc — facial emotion recognition: a thin ctypes layer over libferc.so.

The API follows the `fer` package, so that its users feel at home:

    import ferc
    fer = ferc.FER()                       # default model (seed2)
    faces = fer.detect_emotions(img)       # img: HxWx3 BGR uint8 (cv2.imread) or HxW gray
    # -> [{"box": [x, y, w, h], "emotions": {"angry": 0.01, ..., "neutral": 0.12}}, ...]
    label, score = fer.top_emotion(img)
    probs = ferc.Model("models/seed2.ferc").predict(faces48)   # (N,48,48) uint8 -> (N, classes)
    rows = ferc.Video("talk.mp4").analyze(every=2)

Every number comes from the C library, the same calls `ferc predict` and
`ferc video` make, so Python and the CLI agree to the printed digit. Class
names are read from the model file, never hard-coded here.
"""
import ctypes
import os
import threading

import numpy as np

from . import _lib
from ._lib import lib

__all__ = ["FER", "Model", "Video", "FercError", "imread", "default_model_path", "library_path"]

library_path = _lib.path


class FercError(Exception):
    """An error reported by libferc: .status is its ferc_status name
    ("io error", "format error", ...), str(e) the library's message."""

    def __init__(self, message, status="error"):
        super().__init__(message)
        self.status = status


def _check(st, err):
    if st != 0:
        name = lib.ferc_status_name(st).decode()
        msg = err.msg.decode("utf-8", "replace") or name
        raise FercError(msg, name)


def _package_models():
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")


def default_model_path():
    """The model FER() and Model() use when given none, in the CLI's order:
    $FERC_MODEL, ./models, the models bundled in this package (a wheel),
    then an installed prefix (/usr/local/share/ferc, /usr/share/ferc)."""
    env = os.environ.get("FERC_MODEL")
    if env:
        return env
    dirs = ["models", _package_models(), "/usr/local/share/ferc/models", "/usr/share/ferc/models"]
    for d in dirs:
        for name in ("seed2.ferc", "seed.ferc"):
            p = os.path.join(d, name)
            if os.access(p, os.R_OK):
                return p
    raise FercError("no model: pass model=PATH or set FERC_MODEL (looked in " + ", ".join(dirs) + ")",
                    "io error")


def _u8_ptr(a):
    return a.ctypes.data_as(_lib.P_U8)


class Model:
    """A .ferc model (or ensemble). One thread at a time runs it (the library
    reuses its buffers); calls from several threads queue on a lock, and
    each call releases the GIL while it runs."""

    def __init__(self, path=None, threads=0):
        self.path = os.fspath(path) if path is not None else default_model_path()
        self.threads = int(threads)
        self._lock = threading.Lock()
        handle, err = ctypes.c_void_p(), _lib.Error()
        _check(lib.ferc_model_load(self.path.encode(), ctypes.byref(handle), ctypes.byref(err)), err)
        self._h, self._free = handle, lib.ferc_model_free  # kept: __del__ may run at interpreter exit
        n = lib.ferc_model_num_classes(handle)
        self.classes = [lib.ferc_model_class_name(handle, i).decode() for i in range(n)]
        self.arch = lib.ferc_model_arch(handle).decode()
        self.input_size = lib.ferc_model_input_size(handle)

    def close(self):
        h, self._h = getattr(self, "_h", None), None
        if h:
            self._free(h)

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "ferc.Model(%r, arch=%r, input=%dx%d)" % (self.path, self.arch, self.input_size, self.input_size)

    def predict(self, faces):
        """faces: (N, H, W) or (H, W) uint8 gray faces (FER2013's 48x48, or any
        size: the model's own preprocessing resizes them). Returns (N, classes)
        float32 probabilities, columns in the order of self.classes."""
        a = np.asarray(faces)
        if a.dtype != np.uint8:
            raise TypeError("faces must be uint8 gray pixels (0..255), not %s" % a.dtype)
        if a.ndim == 2:
            a = a[None]
        if a.ndim != 3:
            raise ValueError("faces must be (N, H, W) or (H, W), not shape %s" % (a.shape,))
        a = np.ascontiguousarray(a)
        out = np.zeros((a.shape[0], len(self.classes)), dtype=np.float32)
        err = _lib.Error()
        with self._lock:
            st = lib.ferc_model_predict_faces(self._h, _u8_ptr(a), a.shape[0], a.shape[1], a.shape[2],
                                              out.ctypes.data_as(_lib.P_F32), self.threads, ctypes.byref(err))
        _check(st, err)
        return out


def _to_gray(img):
    """HxW gray, HxWx1, HxWx3 BGR or HxWx4 BGRA uint8 -> contiguous HxW gray,
    converted by the library's one RGB -> gray rule (BT.601, rounded as OpenCV)."""
    a = np.asarray(img)
    if a.dtype != np.uint8:
        raise TypeError("the image must be uint8 (as cv2.imread gives), not %s" % a.dtype)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 2:
        return np.ascontiguousarray(a)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError("the image must be HxW gray or HxWx3 BGR, not shape %s" % (a.shape,))
    rgb = np.ascontiguousarray(a[:, :, 2::-1])  # BGR(A) -> RGB, alpha dropped
    gray = np.empty(a.shape[:2], dtype=np.uint8)
    lib.ferc_rgb_to_gray(_u8_ptr(rgb), gray.size, _u8_ptr(gray))
    return gray


def imread(path):
    """Read a PNG or JPEG with the library's decoder (EXIF orientation
    applied) as an HxWx3 BGR uint8 array, like cv2.imread, for programs
    without OpenCV."""
    img, err = _lib.Image(), _lib.Error()
    _check(lib.ferc_image_load(os.fspath(path).encode(), 3, ctypes.byref(img), ctypes.byref(err)), err)
    try:
        rgb = np.ctypeslib.as_array(img.data, shape=(img.h, img.w, 3))
        return np.ascontiguousarray(rgb[:, :, ::-1])
    finally:
        lib.ferc_image_free(ctypes.byref(img))


class FER:
    """Find the faces in an image (OpenCV's Haar cascade, the same boxes as
    CascadeClassifier.detectMultiScale) and classify each, as `ferc predict`
    does. model: a path or a ferc.Model (default: default_model_path()).
    cascade: a Haar cascade XML (default: Debian opencv-data's)."""

    def __init__(self, model=None, cascade=None, threads=0):
        self.model = model if isinstance(model, Model) else Model(model, threads=threads)
        handle, err = ctypes.c_void_p(), _lib.Error()
        path = os.fspath(cascade).encode() if cascade is not None else None
        _check(lib.ferc_cascade_load(path, ctypes.byref(handle), ctypes.byref(err)), err)
        self._cascade = handle
        self._faces = _lib.Faces()  # reused from image to image, as the CLI does
        self._free = (lib.ferc_cascade_free, lib.ferc_faces_free)

    def close(self):
        c, self._cascade = getattr(self, "_cascade", None), None
        if c:
            self._free[0](c)
            self._free[1](ctypes.byref(self._faces))

    def __del__(self):
        self.close()

    def _emotions(self, probs):
        return {name: float(p) for name, p in zip(self.model.classes, probs)}

    def _whole(self, gray):
        """An image no larger than twice the network input is a face crop:
        classified whole, as `ferc predict` does (the detector could not find
        a face that fills the frame)."""
        h, w = gray.shape
        box, err = _lib.Box(0, 0, w, h), _lib.Error()
        probs = np.zeros(len(self.model.classes), dtype=np.float32)
        with self.model._lock:
            st = lib.ferc_classify_faces(self.model._h, _u8_ptr(gray), w, h, w, ctypes.byref(box), 1,
                                         0.0, probs.ctypes.data_as(_lib.P_F32), ctypes.byref(err))
        _check(st, err)
        return [{"box": [0, 0, w, h], "emotions": self._emotions(probs), "face_confidence": None}]

    def detect_emotions(self, img):
        """The faces of img, most confident first: a list of
        {"box": [x, y, w, h], "emotions": {class: probability}, "face_confidence": c}."""
        gray = _to_gray(img)
        h, w = gray.shape
        if h == 0 or w == 0:
            raise ValueError("the image is empty (shape %s)" % (np.asarray(img).shape,))
        if w <= 2 * self.model.input_size and h <= 2 * self.model.input_size:
            return self._whole(gray)
        err, f = _lib.Error(), self._faces
        with self.model._lock:
            st = lib.ferc_find_faces(self._cascade, self.model._h, _u8_ptr(gray), w, h, w, None,
                                     ctypes.byref(f), ctypes.byref(err))
            _check(st, err)
            k = len(self.model.classes)
            return [{"box": [f.boxes[i].x, f.boxes[i].y, f.boxes[i].w, f.boxes[i].h],
                     "emotions": self._emotions(f.probs[i * k:(i + 1) * k]),
                     "face_confidence": float(f.confidence[i])} for i in range(f.n)]

    def top_emotion(self, img):
        """(label, score) of the most confident face, (None, None) without a face."""
        faces = self.detect_emotions(img)
        if not faces:
            return None, None
        emotions = faces[0]["emotions"]
        label = max(emotions, key=emotions.get)
        return label, emotions[label]


from .video import Video  # noqa: E402  (needs FER above)
