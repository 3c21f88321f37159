#!/usr/bin/python3
"""onnx_check.py — checks an ONNX file written by `ferc export --onnx` against
the probabilities ferc itself computed for the same faces (tests/test_onnx.c
writes both), in every ONNX consumer this machine has:

  1. Debian's python3-onnx: onnx.checker (full check, with shape inference),
     the input/output names and shapes, and the class names in metadata_props;
  2. Debian's python3-opencv: cv2.dnn.readNetFromONNX runs it;
  3. onnxruntime through the npm package onnxruntime-node (tests/onnx-node/,
     installed there with `npm ci` when missing), where node, npm and the
     package are available; otherwise that part is skipped with a message.

Each runtime must give the same argmax as ferc on every face (a face whose
two best classes are closer than --tie in ferc's own probabilities counts as
a tie, not a difference) and every probability within --tol (1e-4).

usage: onnx_check.py [--labels a,b,...] [--tol 1e-4] FACES.u8 MODEL.onnx PROBS.f32 [MODEL.onnx PROBS.f32]...
  FACES.u8: N x 48 x 48 uint8 gray pixels; PROBS.f32: N x 7 float32, ferc's
  probabilities of those faces with that model (one Python start for all).
exit: 0 all passed, 1 a check failed, 77 python3-onnx or python3-opencv missing.
One line per model and check on stdout ("seed.onnx checker: ok", "seed.onnx
opencv: N faces, max |diff| ...").
"""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_DIR = os.path.join(HERE, "onnx-node")
SKIP = 77

try:
    import numpy as np
    import onnx
    import cv2
except ImportError as e:   # the C test turns this into a skip with the message
    print("skip: %s (apt-get install python3-onnx python3-opencv python3-numpy)" % e)
    sys.exit(SKIP)


def check_model(path, n_classes, labels):
    """onnx.checker plus what ferc promises about the graph's interface."""
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    g = m.graph
    problems = []
    if [i.name for i in g.input] != ["pixels"] or [o.name for o in g.output] != ["probs"]:
        problems.append("inputs %s, outputs %s" % ([i.name for i in g.input], [o.name for o in g.output]))
    dims = [d.dim_param or d.dim_value for d in g.input[0].type.tensor_type.shape.dim]
    if dims != ["N", 1, 48, 48]:
        problems.append("input shape %s, not [N, 1, 48, 48]" % dims)
    meta = {p.key: p.value for p in m.metadata_props}
    names = meta.get("labels", "").split(",")
    if len(names) != n_classes or (labels and names != labels):
        problems.append("metadata labels %r" % meta.get("labels"))
    opset = [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")]
    print("checker: ok (opset %s, %d nodes, labels %s)" % (opset, len(g.node), ",".join(names)))
    return problems


def compare(name, got, want, tol, tie):
    """Probabilities within tol; argmax equal except ferc's near-ties."""
    diff = float(np.max(np.abs(got - want))) if got.size else 0.0
    ga, wa = got.argmax(1), want.argmax(1)
    top2 = np.sort(want, 1)[:, -2:]
    tied = (top2[:, 1] - top2[:, 0]) < tie
    flips = int(np.sum((ga != wa) & ~tied))
    top = float(np.mean(want.max(1))) if want.size else 0.0   # near 1: saturated, a weak test of the numbers
    print("%s: %d faces, max |diff| %.3g, same argmax on %d (%d near-ties), %d different; mean top probability %.3f" %
          (name, len(want), diff, int(np.sum(ga == wa)), int(np.sum(tied & (ga != wa))), flips, top))
    bad = []
    if got.shape != want.shape:
        bad.append("%s: output shape %s, want %s" % (name, got.shape, want.shape))
    elif diff > tol:
        bad.append("%s: probabilities differ by %.3g > %g" % (name, diff, tol))
    if flips:
        bad.append("%s: argmax differs on %d faces" % (name, flips))
    return bad


def run_opencv(path, x):
    net = cv2.dnn.readNetFromONNX(path)
    out = []
    for i in range(0, len(x), 128):   # batches of 128: the graph takes any N
        net.setInput(x[i:i + 128])
        out.append(np.array(net.forward(), dtype=np.float32).reshape(len(x[i:i + 128]), -1))
    return np.concatenate(out) if out else np.zeros((0, 7), np.float32)


_node_state = []


def node_ready():
    """'' when onnxruntime-node can run, else why not; asked once per run."""
    if not _node_state:
        _node_state.append(node_probe())
    return _node_state[0]


def node_probe():
    """'' when onnxruntime-node loads (after npm ci when it is missing)."""
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "onnxruntime-node")):
        if os.environ.get("FERC_NO_NPM"):
            return "FERC_NO_NPM is set and tests/onnx-node/node_modules is absent"
        try:
            r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR,
                               capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            return "npm ci failed to run (%s)" % e
        if r.returncode != 0:
            return "npm ci failed: %s" % (r.stderr.strip().splitlines() or ["?"])[-1]
    try:
        r = subprocess.run(["node", "-e", "require('onnxruntime-node')"], cwd=NODE_DIR, capture_output=True,
                           text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "node did not run (%s)" % e
    return "" if r.returncode == 0 else "onnxruntime-node does not load: %s" % r.stderr.strip()[-200:]


def run_node(path, faces_path, n):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "probs.f32")
        r = subprocess.run(["node", os.path.join(NODE_DIR, "run.js"), path, faces_path, str(n), out],
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError("run.js: " + (r.stderr.strip() or r.stdout.strip()))
        return np.fromfile(out, dtype=np.float32).reshape(n, -1)


def check_one(path, faces_path, faces, probs_path, a):
    """Every check of one exported model; the list of failures."""
    name = os.path.basename(path)
    n = len(faces)
    want = np.fromfile(probs_path, dtype=np.float32)
    if want.size % max(n, 1) or (n == 0 and want.size):
        return ["%s: %d probabilities for %d faces" % (probs_path, want.size, n)]
    want = want.reshape(n, -1)
    x = faces.reshape(n, 1, 48, 48).astype(np.float32)   # the graph takes 0..255
    sys.stdout.write(name + " ")
    bad = check_model(path, want.shape[1], a.labels.split(",") if a.labels else None)
    bad += compare(name + " opencv", run_opencv(path, x), want, a.tol, a.tie)
    why = node_ready()
    if why:
        print(name + " onnxruntime-node: skipped: " + why)
    else:
        bad += compare(name + " onnxruntime-node", run_node(path, faces_path, n), want, a.tol, a.tie)
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("faces")
    ap.add_argument("pairs", nargs="+", metavar="MODEL.onnx PROBS.f32")
    ap.add_argument("--labels", default="")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--tie", type=float, default=1e-5)
    a = ap.parse_args()
    if len(a.pairs) % 2:
        print("give MODEL.onnx PROBS.f32 pairs after FACES.u8")
        return 2
    try:
        faces = np.fromfile(a.faces, dtype=np.uint8)
    except OSError as e:
        print("%s: %s" % (a.faces, e.strerror))
        return 1
    n = faces.size // (48 * 48)
    if n * 48 * 48 != faces.size:
        print("%s: %d bytes is not a whole number of 48x48 faces" % (a.faces, faces.size))
        return 1
    faces = faces.reshape(n, 48, 48)
    bad = []
    for i in range(0, len(a.pairs), 2):
        try:
            bad += check_one(a.pairs[i], a.faces, faces, a.pairs[i + 1], a)
        except Exception as e:   # a checker or runtime that refuses the file: one line, then the next model
            print()
            bad.append("%s: %s: %s" % (a.pairs[i], type(e).__name__, str(e).strip().splitlines()[-1] if str(e).strip() else ""))
    for b in bad:
        print("FAIL " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
