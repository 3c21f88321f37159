#!/usr/bin/python3
"""check.py — the page of `ferc serve` in headless Chromium, driven through
chromedriver's WebDriver protocol with Python's standard library only (no
selenium, no npm). Called by tests/test_serve.c (serve_page_in_chromium)
against a running server.

1. Picks a photo in the page's file input: a card per face with 7 score bars
   and a box over the photo must appear.
2. Opens the page with ?webcam=1 and Chromium's fake camera playing a Y4M
   clip made here with ffmpeg from the same photo (640x480, the face
   letterboxed): at least 3 frames must be answered, one at a time, each
   with a box where the face is and a label "EMOTION NN%".
3. Takes a screenshot and checks, in its pixels, that the box's border is
   drawn in its emotion's colour where the DOM says the box is.

usage: check.py URL PHOTO OUTDIR
exit: 0 ok, 1 a check failed (said on stderr), 77 Chromium, chromedriver or
ffmpeg missing (skip).
"""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib

COLORS = {"angry": "#dc2626", "disgust": "#65a30d", "fear": "#7c3aed", "happy": "#16a34a",
          "sad": "#2563eb", "surprise": "#ea580c", "neutral": "#6b7280"}


def fail(msg):
    print("serve-browser: " + msg, file=sys.stderr)
    sys.exit(1)


def skip(msg):
    print("serve-browser: skipped: " + msg, file=sys.stderr)
    sys.exit(77)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Driver:
    """The few WebDriver commands used here."""

    def __init__(self, port):
        self.base = "http://127.0.0.1:%d" % port
        self.sid = None

    def call(self, method, path, body=None, timeout=90):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read().decode())["value"]
        except urllib.error.HTTPError as e:
            fail("WebDriver %s %s: %s" % (method, path, e.read().decode()[:400]))

    def session(self, args):
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": shutil.which("chromium") or shutil.which("chromium-browser"), "args": args}}}}
        self.sid = self.call("POST", "/session", caps)["sessionId"]

    def s(self, method, path, body=None):
        return self.call(method, "/session/%s%s" % (self.sid, path), body)

    def run(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait_for(self, script, what, seconds=60):
        t0 = time.time()
        while time.time() - t0 < seconds:
            v = self.run(script)
            if v and v.get("ok"):
                return v
            time.sleep(0.25)
        fail("%s: not within %d s; the page shows: %s" % (what, seconds, json.dumps(v)[:600]))


STATE = """
const boxes = [...document.querySelectorAll('#overlay .box')].map(b => ({
  emotion: b.dataset.emotion, box: b.dataset.box, label: b.querySelector('span').textContent}));
const faces = [...document.querySelectorAll('#faces .face')].map(f => ({
  emotion: f.dataset.emotion, bars: f.querySelectorAll('.bar').length}));
const st = document.getElementById('status');
return {boxes, faces, frames: +st.dataset.frames, status: st.textContent, error: st.className === 'error'};
"""


def photo_check(d, url, photo):
    d.s("POST", "/url", {"url": url})
    el = d.s("POST", "/element", {"using": "css selector", "value": "#file"})
    eid = list(el.values())[0]
    d.s("POST", "/element/%s/value" % eid, {"text": photo})
    v = d.wait_for("const v = (() => {" + STATE + "})(); v.ok = v.faces.length > 0 || v.error; return v;",
                   "the photo's faces")
    if v["error"]:
        fail("the page says: " + v["status"])
    if len(v["boxes"]) < 1 or any(f["bars"] != 7 for f in v["faces"]):
        fail("photo: boxes or score bars missing: %s" % json.dumps(v))
    print("serve-browser: photo: %d face(s): %s" % (len(v["faces"]), ", ".join(b["label"] for b in v["boxes"])))


def webcam_check(d, url, want_box):
    d.s("POST", "/url", {"url": url + "?webcam=1"})
    v = d.wait_for("const v = (() => {" + STATE + "})(); v.ok = v.frames >= 3 && v.boxes.length > 0; return v;",
                   "3 webcam frames with a face")
    for i, b in enumerate(v["boxes"]):
        # "happy 97%", or "2: happy 97%" when there are several faces
        words = b["label"].split(" ")
        if len(v["boxes"]) > 1:
            if words[0] != "%d:" % (i + 1):
                fail("webcam: label %r of face %d does not start with its number" % (b["label"], i + 1))
            words = words[1:]
        if len(words) != 2 or words[0] != b["emotion"] or words[0] not in COLORS or not words[1].endswith("%") \
                or not words[1][:-1].isdigit():
            fail("webcam: label %r is not 'EMOTION NN%%'" % b["label"])
    near = [i for i, b in enumerate(v["boxes"])
            if all(abs(int(a) - e) <= 20 for a, e in zip(b["box"].split(","), want_box))]
    if not near:
        fail("webcam: no box near the face at %s: %s" % (want_box, [b["box"] for b in v["boxes"]]))
    b = v["boxes"][near[0]]
    print("serve-browser: webcam: %d frames answered; %d box(es), the face's %s labelled %r; %s" %
          (v["frames"], len(v["boxes"]), b["box"], b["label"], v["status"]))
    return near[0], b["emotion"]


def png_pixels(data):
    """RGB(A) 8-bit non-interlaced PNG -> (w, h, channels, rows of bytes)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("the screenshot is not a PNG")
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, inter = struct.unpack(">IIBBBBB", chunk)
            if depth != 8 or ctype not in (2, 6) or inter:
                fail("unexpected screenshot PNG layout")
            ch = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + n
    raw, stride, rows, prev = zlib.decompress(idat), w * ch, [], bytearray(w * ch)
    for r in range(h):
        f, line = raw[r * (stride + 1)], bytearray(raw[r * (stride + 1) + 1:(r + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - ch] if i >= ch else 0
            b, c = prev[i], prev[i - ch] if i >= ch else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, ch, rows


def screenshot_check(d, index, emotion, out):
    png = base64.b64decode(d.s("GET", "/screenshot"))
    path = os.path.join(out, "serve-page.png")
    with open(path, "wb") as f:
        f.write(png)
    rect = d.run("const r = document.querySelectorAll('#overlay .box')[arguments[0]].getBoundingClientRect();"
                 "return [r.left, r.top, r.width, r.height, window.devicePixelRatio];", index)
    w, h, ch, rows = png_pixels(png)
    left, top, bw, bh, dpr = rect
    want = tuple(int(COLORS[emotion][i:i + 2], 16) for i in (1, 3, 5))
    x, hits, tries = int((left + 1.5) * dpr), 0, 0    # inside the 3-px left border
    for k in range(10):
        y = int((top + bh * (0.1 + 0.08 * k)) * dpr)
        if 0 <= x < w and 0 <= y < h:
            px = tuple(rows[y][x * ch:x * ch + 3])
            tries += 1
            hits += all(abs(p - q) <= 24 for p, q in zip(px, want))
    if tries == 0 or hits < tries * 0.8:
        fail("screenshot %s: the box's border is not drawn in %s's colour %s at x=%d (%d of %d pixels)" %
             (path, emotion, COLORS[emotion], x, hits, tries))
    if len(png) < 20000:
        fail("screenshot %s is only %d bytes: a blank page?" % (path, len(png)))
    print("serve-browser: screenshot %dx%d, %d bytes, box border in %s's colour: %s" % (w, h, len(png), emotion, path))


def main():
    if len(sys.argv) != 4:
        print(__doc__.split("\n\n")[-2], file=sys.stderr)
        sys.exit(2)
    url, photo, out = sys.argv[1].rstrip("/") + "/", os.path.abspath(sys.argv[2]), sys.argv[3]
    for tool in ("chromedriver", "ffmpeg"):
        if not shutil.which(tool):
            skip("%s is not installed (Debian: chromium-driver, ffmpeg)" % tool)
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        skip("Chromium is not installed (Debian: apt-get install -y chromium)")
    work = tempfile.mkdtemp(prefix="ferc-serve-browser-")
    y4m = os.path.join(work, "face.y4m")
    # 640x480: the 512x512 photo at 480x480, centred (its face moves to x + 80 and scales by 0.9375)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-loop", "1", "-i", photo, "-vf",
                    "scale=480:480,pad=640:480:80:0,format=yuv420p", "-frames:v", "10", "-r", "10", y4m], check=True)
    port = free_port()
    drv = subprocess.Popen(["chromedriver", "--port=%d" % port], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    d = Driver(port)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        d.session(["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                   "--window-size=1280,1000", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                   "--use-file-for-fake-video-capture=" + y4m, "--user-data-dir=" + os.path.join(work, "profile")])
        photo_check(d, url, photo)
        # the astronaut's face, 177,66 95x95 in the photo, in the 640x480 frame
        index, emotion = webcam_check(d, url, (round(177 * 0.9375) + 80, round(66 * 0.9375), round(95 * 0.9375),
                                        round(95 * 0.9375)))
        screenshot_check(d, index, emotion, out)
    finally:
        if d.sid:
            try:
                d.call("DELETE", "/session/" + d.sid, timeout=20)
            except Exception:
                pass
        drv.terminate()
        drv.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
