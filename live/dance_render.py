"""A small numpy rasteriser for the dancer: front view, thick anti-aliased bones, beat counts.

No plotting library: a frame is an RGB ``uint8`` array drawn by stamping capsules
(distance-to-segment masks over each bone's bounding box) and 5x7 bitmap digits. A
640x480 frame costs about a millisecond, so a 10-minute song renders in well under a
minute. Used by ``live.dance_io.write_mp4``.

View: orthographic from the audience (+z toward the camera): the dancer's left (+x)
appears on screen right, y up. The camera follows the root horizontally with a slow
smoothing so a travelling dancer stays in frame; the floor (y = 0) is a fixed line.
"""

from __future__ import annotations

import numpy as np

from model.skeleton import BONES, JOINT_INDEX

# 5x7 bitmaps of the digits 0-9 and the colon (rows top to bottom, '#' = on).
_DIGITS = {
    "0": (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),
    "1": ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    "3": ("####.", "....#", "....#", ".###.", "....#", "....#", "####."),
    "4": ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    "5": ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    "6": ("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),
    "7": ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    "8": (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
    ":": (".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."),
}
_GLYPHS = {k: np.array([[c == "#" for c in row] for row in v], dtype=bool) for k, v in _DIGITS.items()}

LEFT_COLOR = np.array([255, 150, 60], np.float32)  # the dancer's left side: orange
RIGHT_COLOR = np.array([70, 190, 255], np.float32)  # right side: blue
MID_COLOR = np.array([235, 235, 235], np.float32)
BEAT_COLOR = np.array([255, 230, 90], np.float32)


def _side(j: int) -> int:
    from model.skeleton import JOINT_NAMES

    name = JOINT_NAMES[j]
    return 1 if name.startswith("left") else (-1 if name.startswith("right") else 0)


def _bone_color(a: int, b: int) -> np.ndarray:
    sa, sb = _side(a), _side(b)
    if sa == sb == 1:
        return LEFT_COLOR
    if sa == sb == -1:
        return RIGHT_COLOR
    return MID_COLOR


_BONE_COLORS = [_bone_color(a, b) for a, b in BONES]


class DancerRenderer:
    """Draws frames of one dance at ``width`` x ``height`` pixels.

    Call :meth:`render` once per frame in order (the camera follows the root smoothly).
    """

    def __init__(self, *, width: int = 640, height: int = 480, fps: int = 30) -> None:
        self.w, self.h, self.fps = int(width), int(height), int(fps)
        self.scale = self.h / 2.3  # pixels per metre: 2.3 m of height on screen
        self.floor_row = int(self.h * 0.9)
        self.cam_x = 0.0
        self._started = False
        self._flash = 0.0
        self._count = 0
        yy = np.linspace(0.0, 1.0, self.h, dtype=np.float32)[:, None, None]
        top, bottom = np.array([18, 20, 34], np.float32), np.array([40, 36, 58], np.float32)
        bg = top + (bottom - top) * yy
        bg = np.broadcast_to(bg, (self.h, self.w, 3)).copy()
        bg[self.floor_row :, :, :] = np.array([28, 28, 36], np.float32)
        bg[self.floor_row : self.floor_row + 2, :, :] = np.array([90, 90, 110], np.float32)
        self._bg = bg
        self.img = np.empty((self.h, self.w, 3), np.float32)

    # -- geometry --------------------------------------------------------------------
    def project(self, pose: np.ndarray) -> np.ndarray:
        """[17, 3] metres -> [17, 2] pixel (x, y) with the current camera."""
        px = (pose[:, 0] - self.cam_x) * self.scale + self.w / 2.0
        py = self.floor_row - pose[:, 1] * self.scale
        return np.stack([px, py], axis=1)

    def _capsule(self, p0: np.ndarray, p1: np.ndarray, radius: float, color: np.ndarray, alpha: float = 1.0) -> None:
        x0 = int(max(0, np.floor(min(p0[0], p1[0]) - radius - 1)))
        x1 = int(min(self.w, np.ceil(max(p0[0], p1[0]) + radius + 2)))
        y0 = int(max(0, np.floor(min(p0[1], p1[1]) - radius - 1)))
        y1 = int(min(self.h, np.ceil(max(p0[1], p1[1]) + radius + 2)))
        if x0 >= x1 or y0 >= y1:
            return
        xs = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5
        ys = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5
        d = p1 - p0
        ll = float(d @ d)
        if ll < 1e-9:
            t = np.zeros((y1 - y0, x1 - x0), np.float32)
        else:
            t = np.clip(((xs - p0[0]) * d[0] + (ys - p0[1]) * d[1]) / ll, 0.0, 1.0)
        dx = xs - (p0[0] + t * d[0])
        dy = ys - (p0[1] + t * d[1])
        dist = np.sqrt(dx * dx + dy * dy)
        a = np.clip(radius + 0.5 - dist, 0.0, 1.0)[..., None] * alpha
        region = self.img[y0:y1, x0:x1]
        region += (color - region) * a

    def _digit(self, ch: str, x: int, y: int, px: int, color: np.ndarray, alpha: float) -> None:
        glyph = _GLYPHS[ch]
        big = np.repeat(np.repeat(glyph, px, axis=0), px, axis=1)
        h, w = big.shape
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(self.w, x + w), min(self.h, y + h)
        if x0 >= x1 or y0 >= y1:
            return
        m = big[y0 - y : y1 - y, x0 - x : x1 - x][..., None].astype(np.float32) * alpha
        region = self.img[y0:y1, x0:x1]
        region += (color - region) * m

    def text(self, s: str, x: int, y: int, *, px: int, color: np.ndarray, alpha: float = 1.0) -> None:
        """Draw the digits of ``s`` with top-left at (x, y), ``px`` pixels per bitmap cell."""
        for i, ch in enumerate(s):
            if ch in _GLYPHS:
                self._digit(ch, x + i * 6 * px, y, px, color, alpha)

    # -- frames ------------------------------------------------------------------------
    def render(self, pose: np.ndarray, *, beat_count: int = 0) -> np.ndarray:
        """One frame: pose [17, 3] (metres, y up); ``beat_count`` 1..8 on a beat frame,
        else 0. Returns uint8 [shape=(height, width, 3)] (a view of an internal buffer)."""
        pose = np.asarray(pose, np.float32)
        root_x = float(0.5 * (pose[JOINT_INDEX["left_hip"], 0] + pose[JOINT_INDEX["right_hip"], 0]))
        if not self._started:
            self.cam_x, self._started = root_x, True
        self.cam_x += (root_x - self.cam_x) * 0.05
        np.copyto(self.img, self._bg)
        pts = self.project(pose)
        r = max(2.0, self.h / 110.0)
        # shadow on the floor
        shadow = pts.copy()
        shadow[:, 1] = self.floor_row + 3
        self._capsule(shadow[15], shadow[16], r * 1.5, np.array([10, 10, 14], np.float32), 0.6)
        # draw far (negative z) bones first
        order = np.argsort([pose[a, 2] + pose[b, 2] for a, b in BONES])
        for k in order:
            a, b = BONES[k]
            depth = float(np.clip(0.5 * (pose[a, 2] + pose[b, 2]) - 0.5 * (pose[11, 2] + pose[12, 2]), -0.5, 0.5))
            shade = 0.75 + 0.5 * depth
            self._capsule(pts[a], pts[b], r, np.clip(_BONE_COLORS[k] * shade, 0, 255))
        head = pts[JOINT_INDEX["nose"]]
        self._capsule(head, head, r * 2.4, MID_COLOR)
        for j in range(len(pts)):
            self._capsule(pts[j], pts[j], r * 0.9, np.array([250, 250, 250], np.float32))
        # beat counts: the current count in the corner, a flash on every beat
        if beat_count > 0:
            self._count, self._flash = beat_count, 1.0
        if self._count:
            px = max(2, self.h // 60)
            self.text(str(self._count), 16, 16, px=px, color=BEAT_COLOR, alpha=0.35 + 0.65 * self._flash)
            if self._flash > 0.05:  # a dot beside the count that pulses on the beat
                rad = px * (1.5 + 1.5 * self._flash)
                c = np.array([16 + 5 * px + 4 * px, 16 + 3.5 * px], np.float32)
                self._capsule(c, c, rad, BEAT_COLOR, 0.8 * self._flash)
        self._flash *= 0.8
        return self.img.astype(np.uint8)
