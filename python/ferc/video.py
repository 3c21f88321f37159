"""video.py — ferc.Video: the faces and emotions of a video, frame by frame.

Frames are decoded by an `ffmpeg` child process into raw RGB in Python (as
`ferc video` does: same ffprobe probe, same -r rate, same rgb24 frames, so
both see the same pixels), and each analysed frame goes through
FER.detect_emotions, i.e. the library. Needs the Debian package ffmpeg.
"""
import os
import subprocess

import numpy as np


class Video:
    """A video file (anything ffmpeg reads). model / cascade / threads as FER."""

    def __init__(self, path, model=None, cascade=None, threads=0):
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            from . import FercError
            raise FercError("%s: no such file" % self.path, "io error")
        self._fer_args = (model, cascade, threads)
        self.width, self.height, self.rate = self._probe()
        num, _, den = self.rate.partition("/")
        self.fps = float(num) / float(den or 1)

    def _probe(self):
        from . import FercError
        cmd = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
               "stream=width,height,avg_frame_rate,r_frame_rate:stream_tags=rotate:stream_side_data=rotation",
               "-of", "default=noprint_wrappers=1", self.path]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True)
        except FileNotFoundError:
            raise FercError("ffprobe not found: install the Debian package ffmpeg", "io error") from None
        info = dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)
        w, h = int(info.get("width", 0) or 0), int(info.get("height", 0) or 0)
        if p.returncode != 0 or w <= 0 or h <= 0:
            why = (p.stderr.strip().splitlines() or ["no video stream"])[-1]
            raise FercError("%s: not a video ffmpeg can read: %s" % (self.path, why), "decode error")
        rot = int(float(info.get("TAG:rotate") or info.get("rotation") or 0))
        if abs(rot) % 180 == 90:  # ffmpeg rotates while decoding
            w, h = h, w
        rate = next((r for r in (info.get("avg_frame_rate"), info.get("r_frame_rate"))
                     if r and _positive_ratio(r) and _positive_ratio(r) <= 1000), "25")
        return w, h, rate

    def frames(self):
        """Yield (index, seconds, HxWx3 BGR uint8 frame) for every frame."""
        from . import FercError
        cmd = ["ffmpeg", "-v", "error", "-nostdin", "-i", self.path, "-map", "0:v:0", "-an", "-sn",
               "-r", self.rate, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
        size = self.width * self.height * 3
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        i = 0
        try:
            while True:
                buf = proc.stdout.read(size)
                if len(buf) < size:
                    break
                rgb = np.frombuffer(buf, dtype=np.uint8).reshape(self.height, self.width, 3)
                yield i, i / self.fps, rgb[:, :, ::-1]
                i += 1
        finally:
            proc.stdout.close()
            err = proc.stderr.read().decode("utf-8", "replace").strip()
            proc.stderr.close()
            if proc.wait() != 0 and i == 0:
                raise FercError("%s: ffmpeg failed: %s" % (self.path, (err.splitlines() or ["?"])[-1]),
                                "decode error")

    def analyze(self, every=1):
        """One dict per face per analysed frame (every `every`-th frame, from
        frame 0): {"frame", "time", "face" (1-based, most confident first),
        "box", "face_confidence", "emotions"}."""
        from . import FER
        every = int(every)
        if every < 1:
            raise ValueError("every must be >= 1, not %d" % every)
        fer = FER(*self._fer_args)
        rows = []
        for i, t, frame in self.frames():
            if i % every:
                continue
            for k, face in enumerate(fer.detect_emotions(frame)):
                rows.append(dict(frame=i, time=round(t, 6), face=k + 1, **face))
        return rows


def _positive_ratio(s):
    num, _, den = s.partition("/")
    try:
        v = float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return 0
    return v if v > 0 else 0
