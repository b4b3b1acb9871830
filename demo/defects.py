"""Defects drawn on a metal surface: scratches, dents, stains, cracks, with tight boxes."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

Array = np.ndarray
# A drawn change smaller than this (grey levels) is not part of the defect's box.
VISIBLE = 3.0


@dataclass(frozen=True)
class Defect:
    """One drawn defect: category id (1-based) and box edges x1 y1 x2 y2 in pixels."""

    category_id: int
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class Patch:
    """A defect not yet drawn: its box and the change to add at (ox, oy)."""

    defect: Defect
    ox: int
    oy: int
    delta: Array

    def draw(self, img: Array) -> None:
        """Add the change to the image in place."""
        ch, cw = self.delta.shape[:2]
        img[self.oy : self.oy + ch, self.ox : self.ox + cw] += self.delta


def _patch(category_id: int, effect: Array, ox: int, oy: int, delta: Array) -> Patch | None:
    """A patch whose box is where effect (grey levels) is visible; None if nothing shows."""
    box = visible_box(effect, ox, oy)
    return None if box is None else Patch(Defect(category_id, box), ox, oy, delta)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: tuple[int, int]) -> Array:
    """Low-frequency noise: a small random grid upsampled bicubically to shape (h, w)."""
    small = rng.normal(0.0, 1.0, cells).astype(np.float32)
    return np.asarray(Image.fromarray(small).resize((shape[1], shape[0]), Image.Resampling.BICUBIC))


def visible_box(effect: Array, ox: int, oy: int) -> tuple[int, int, int, int] | None:
    """Tight box (pixel edges, image coordinates) around where effect is visible."""
    peak = float(effect.max())
    if peak < VISIBLE * 2:
        return None
    ys, xs = np.nonzero(effect > max(VISIBLE, 0.15 * peak))
    if len(xs) == 0:
        return None
    return (ox + int(xs.min()), oy + int(ys.min()), ox + int(xs.max()) + 1, oy + int(ys.max()) + 1)


def stroke_mask(
    polylines: list[tuple[Array, Array, float]], ox: int, oy: int, cw: int, ch: int
) -> Array:
    """Anti-aliased mask (0..1) of polylines (points, per-segment intensity, width)."""
    ss = 3
    canvas = Image.new("L", (cw * ss, ch * ss), 0)
    draw = ImageDraw.Draw(canvas)
    for pts, strength, width in polylines:
        local = (pts - np.array([ox, oy])) * ss
        lw = max(1, round(width * ss))
        for i in range(len(local) - 1):
            (x0, y0), (x1, y1) = local[i], local[i + 1]
            draw.line((x0, y0, x1, y1), fill=int(255 * strength[i]), width=lw)
    small = canvas.resize((cw, ch), Image.Resampling.BILINEAR)
    return np.asarray(small, dtype=np.float32) / 255.0


def window(pts: Array, pad: float, h: int, w: int) -> tuple[int, int, int, int] | None:
    """Integer window (ox, oy, cw, ch) around points, or None if it leaves the image."""
    lo, hi = pts.min(0) - pad, pts.max(0) + pad
    if lo[0] < 1 or lo[1] < 1 or hi[0] > w - 1 or hi[1] > h - 1:
        return None
    ox, oy = int(lo[0]), int(lo[1])
    return ox, oy, int(math.ceil(hi[0])) - ox, int(math.ceil(hi[1])) - oy


def stroke_patch(category_id: int, mask: Array, ox: int, oy: int, level: float) -> Patch | None:
    """A patch adding level grey levels where mask is 1."""
    delta = np.repeat((mask * level)[..., None], 3, axis=2)
    return _patch(category_id, np.abs(mask * level), ox, oy, delta)


def _scratch(rng: np.random.Generator, img: Array, long: float) -> Patch | None:
    """A thin long line or gentle arc, bright or dark, fading at its ends."""
    h, w = img.shape[:2]
    for _ in range(40):
        length = long * rng.uniform(0.15, 0.45)
        theta = rng.uniform(0, math.pi)
        d = np.array([math.cos(theta), math.sin(theta)])
        n = np.array([-d[1], d[0]])
        c = np.array([rng.uniform(0, w), rng.uniform(0, h)])
        sag = length * rng.uniform(-0.2, 0.2)
        p0, p2, p1 = c - d * length / 2, c + d * length / 2, c + 2 * sag * n
        t = np.linspace(0.0, 1.0, 40)[:, None]
        pts = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2
        width = max(0.8, long / 320 * rng.uniform(0.6, 1.9))
        win = window(pts, width + 3, h, w)
        span = pts.max(0) - pts.min(0)
        if win is not None and span.min() >= 0.04 * long:
            break
    else:
        return None
    tt = (np.arange(39) + 0.5) / 39
    fade = np.clip(np.minimum(tt, 1 - tt) / rng.uniform(0.05, 0.25), 0.2, 1.0)
    strength = fade * (0.8 + 0.2 * np.sin(tt * rng.uniform(3, 15) + rng.uniform(0, 6)))
    mask = stroke_mask([(pts, strength, width)], *win)
    sign = 1.0 if rng.random() < 0.6 else -1.0
    return stroke_patch(1, mask, win[0], win[1], sign * rng.uniform(18, 75))


def _dent(rng: np.random.Generator, img: Array, long: float) -> Patch | None:
    """A round or elliptic depression shaded by a directional light, with a faint rim."""
    h, w = img.shape[:2]
    r = long * rng.uniform(0.022, 0.065)
    a, b = r, r * rng.uniform(0.55, 1.0)
    ext = int(math.ceil(a * 1.3)) + 2
    if 2 * ext + 2 >= min(h, w):
        return None
    cx, cy = rng.uniform(ext + 1, w - ext - 1), rng.uniform(ext + 1, h - ext - 1)
    ox, oy = int(cx) - ext, int(cy) - ext
    yy, xx = np.mgrid[0 : 2 * ext, 0 : 2 * ext].astype(np.float32)
    dx, dy = xx + ox + 0.5 - cx, yy + oy + 0.5 - cy
    phi = rng.uniform(0, math.pi)
    u = (dx * math.cos(phi) + dy * math.sin(phi)) / a
    v = (-dx * math.sin(phi) + dy * math.cos(phi)) / b
    rho = np.sqrt(u**2 + v**2)
    depth = -np.where(rho < 1, (1 - rho**2) ** 2, 0.0)
    depth += rng.uniform(0.0, 0.25) * np.exp(-(((rho - 1.05) / 0.08) ** 2))
    gy, gx = np.gradient(depth)
    light = rng.uniform(0, 2 * math.pi)
    shade = gx * math.cos(light) + gy * math.sin(light)
    shade /= max(float(np.abs(shade).max()), 1e-6)
    if rng.random() < 0.3:  # a shallow dent: mostly a dark smudge, easily taken for a stain
        amp, dark_level = rng.uniform(6, 16), rng.uniform(15, 35)
    else:
        amp, dark_level = rng.uniform(18, 55), rng.uniform(0, 18)
    dark = dark_level * np.clip(1 - rho**2, 0, 1) ** rng.uniform(0.5, 1.5)
    change = (amp * shade - dark).astype(np.float32)
    return _patch(2, np.abs(change), ox, oy, np.repeat(change[..., None], 3, axis=2))


STAIN_COLOURS = np.array(
    [[140, 85, 45], [50, 46, 44], [185, 175, 140], [160, 140, 70], [95, 95, 105]], np.float32
)


def _stain(rng: np.random.Generator, img: Array, long: float) -> Patch | None:
    """An irregular translucent blotch (rust, oil, dried water), sometimes ringed."""
    h, w = img.shape[:2]
    rad = long * rng.uniform(0.035, 0.10)
    ext = int(math.ceil(rad * 1.6)) + 2
    if 2 * ext + 2 >= min(h, w):
        return None
    cx, cy = rng.uniform(ext + 1, w - ext - 1), rng.uniform(ext + 1, h - ext - 1)
    ox, oy = int(cx) - ext, int(cy) - ext
    size = 2 * ext
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    compact = rng.random() < 0.25  # a round, ringed spot, easily taken for a dent
    for _ in range(1 if compact else int(rng.integers(3, 8))):
        bx, by = ext + rng.normal(0, 0.05 if compact else 0.3 * rad, 2)
        rx, ry = rad * rng.uniform(0.3, 0.65), rad * rng.uniform(0.3, 0.65)
        draw.ellipse((bx - rx, by - ry, bx + rx, by + ry), fill=255)
    blur = max(1, int(rad * 0.35))
    blurred = canvas.reduce(blur).resize((size, size), Image.Resampling.BICUBIC)
    m = np.asarray(blurred, np.float32) / 255
    m = m * (0.7 + 0.3 * smooth_noise(rng, (size, size), (5, 5)))
    alpha = np.clip((m - 0.25) / 0.35, 0, 1)
    ring = rng.uniform(0.4, 0.9) if compact else rng.uniform(0, 0.7)
    alpha += ring * np.clip(1 - np.abs(m - 0.3) / 0.1, 0, 1)
    alpha = np.clip(alpha, 0, 1) * rng.uniform(0.22, 0.6)
    colour = STAIN_COLOURS[int(rng.integers(len(STAIN_COLOURS)))] * rng.uniform(0.85, 1.15)
    delta = alpha[..., None] * (colour - img[oy : oy + size, ox : ox + size])
    return _patch(3, np.abs(delta).mean(-1), ox, oy, delta.astype(np.float32))


def _walk(
    rng: np.random.Generator, start: Array, heading: float, length: float, step: float
) -> Array:
    """A jagged path: steps of fixed length whose heading wanders around its start heading."""
    n = max(3, int(length / step))
    turns = heading + np.cumsum(rng.normal(0, 0.45, n)) * 0.35 + rng.normal(0, 0.4, n)
    steps = np.stack([np.cos(turns), np.sin(turns)], 1) * step
    return np.concatenate([start[None], start + np.cumsum(steps, 0)])


def _crack(rng: np.random.Generator, img: Array, long: float) -> Patch | None:
    """A dark jagged line with one to three thinner branches."""
    h, w = img.shape[:2]
    for _ in range(40):
        length = long * rng.uniform(0.1, 0.28)
        step = max(2.0, long * rng.uniform(0.008, 0.016))
        heading = rng.uniform(0, 2 * math.pi)
        start = np.array([rng.uniform(0, w), rng.uniform(0, h)])
        main = _walk(rng, start, heading, length, step)
        paths = [main]
        for _ in range(int(rng.integers(1, 4))):
            at = main[int(rng.integers(len(main) // 4, len(main)))]
            turn = rng.choice([-1, 1]) * rng.uniform(0.5, 1.2)
            paths.append(_walk(rng, at, heading + turn, length * rng.uniform(0.15, 0.45), step))
        width = max(0.8, long / 320 * rng.uniform(0.7, 1.5))
        win = window(np.concatenate(paths), width + 3, h, w)
        if win is not None:
            break
    else:
        return None
    strokes = []
    for i, p in enumerate(paths):
        tt = np.linspace(0, 1, len(p) - 1)
        strength = (
            np.clip((1 - tt) * 3, 0.3, 1.0) if i else np.clip(np.minimum(tt, 1 - tt) * 8, 0.4, 1)
        )
        strokes.append((p, strength, width if i == 0 else width * 0.7))
    mask = stroke_mask(strokes, *win)
    return stroke_patch(4, mask, win[0], win[1], -rng.uniform(45, 100))


DRAWERS = (_scratch, _dent, _stain, _crack)
