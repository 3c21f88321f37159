"""_lib.py — loads libferc.so with ctypes and declares the C functions the
package calls, with their argument and result types.

Why ctypes.CDLL (not PyDLL): CDLL releases the GIL for the length of every
call, so a long detection or prediction in one thread does not stop the
others. Where the library comes from, first match wins:
  1. $FERC_LIBRARY (an explicit path; the tests point it at a fresh build),
  2. libferc.so bundled next to this file (a wheel built by setup.py),
  3. ctypes.util.find_library("ferc") (an installed `make install`).
"""
import ctypes
import ctypes.util
import os

c_int, c_float, c_char_p, c_void_p, c_size_t = (ctypes.c_int, ctypes.c_float, ctypes.c_char_p,
                                                 ctypes.c_void_p, ctypes.c_size_t)
P_U8 = ctypes.POINTER(ctypes.c_uint8)
P_F32 = ctypes.POINTER(ctypes.c_float)


class Error(ctypes.Structure):
    """ferc_error: a status and a one-line message."""
    _fields_ = [("status", c_int), ("msg", ctypes.c_char * 1024)]


class Box(ctypes.Structure):
    _fields_ = [("x", c_int), ("y", c_int), ("w", c_int), ("h", c_int)]


class Faces(ctypes.Structure):
    """ferc_faces: buffers owned by the library, freed by ferc_faces_free."""
    _fields_ = [("n", c_int), ("boxes", ctypes.POINTER(Box)), ("probs", P_F32), ("cap", c_int),
                ("confidence", P_F32), ("neighbors", ctypes.POINTER(c_int))]


class Image(ctypes.Structure):
    _fields_ = [("w", c_int), ("h", c_int), ("c", c_int), ("data", P_U8)]


def _candidates():
    env = os.environ.get("FERC_LIBRARY")
    if env:
        return [env]  # explicit: never fall back silently to another copy
    here = os.path.dirname(os.path.abspath(__file__))
    found = [os.path.join(here, name) for name in ("libferc.so", "libferc.so.0")
             if os.path.exists(os.path.join(here, name))]
    system = ctypes.util.find_library("ferc")
    return found + ([system] if system else [])


def _load():
    tried = _candidates()
    errors = []
    for path in tried:
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            errors.append(str(e))
    why = "; ".join(errors) if errors else "no candidate found"
    raise OSError("ferc: cannot load libferc.so (set FERC_LIBRARY=/path/to/libferc.so, "
                  "or `make install` ferc, or install the wheel that bundles it): " + why)


lib, path = _load()

_SIGNATURES = {
    "ferc_status_name": (c_char_p, [c_int]),
    "ferc_model_load": (c_int, [c_char_p, ctypes.POINTER(c_void_p), ctypes.POINTER(Error)]),
    "ferc_model_free": (None, [c_void_p]),
    "ferc_model_arch": (c_char_p, [c_void_p]),
    "ferc_model_input_size": (c_int, [c_void_p]),
    "ferc_model_num_classes": (c_int, [c_void_p]),
    "ferc_model_class_name": (c_char_p, [c_void_p, c_int]),
    "ferc_model_predict_faces": (c_int, [c_void_p, P_U8, c_int, c_int, c_int, P_F32, c_int,
                                         ctypes.POINTER(Error)]),
    "ferc_cascade_load": (c_int, [c_char_p, ctypes.POINTER(c_void_p), ctypes.POINTER(Error)]),
    "ferc_cascade_free": (None, [c_void_p]),
    "ferc_find_faces": (c_int, [c_void_p, c_void_p, P_U8, c_int, c_int, c_int, c_void_p,
                                ctypes.POINTER(Faces), ctypes.POINTER(Error)]),
    "ferc_faces_free": (None, [ctypes.POINTER(Faces)]),
    "ferc_classify_faces": (c_int, [c_void_p, P_U8, c_int, c_int, c_int, ctypes.POINTER(Box), c_int, c_float,
                                    P_F32, ctypes.POINTER(Error)]),
    "ferc_rgb_to_gray": (None, [P_U8, c_size_t, P_U8]),
    "ferc_image_load": (c_int, [c_char_p, c_int, ctypes.POINTER(Image), ctypes.POINTER(Error)]),
    "ferc_image_free": (None, [ctypes.POINTER(Image)]),
}

for _name, (_res, _args) in _SIGNATURES.items():
    _fn = getattr(lib, _name)  # AttributeError here: a libferc.so older than this package
    _fn.restype, _fn.argtypes = _res, _args
