"""The generated world's shapes: each a bounding box and an inside test over pixel centres."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Inside = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Shape:
    """`contains(xs, ys)` is true at points inside; xs and ys broadcast (a row and a column)."""

    bounds: tuple[float, float, float, float]  # x0, y0, x1, y1
    contains: Inside

    def union(self, other: "Shape") -> "Shape":
        a, b = self.bounds, other.bounds
        bounds = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
        return Shape(bounds, lambda xs, ys: self.contains(xs, ys) | other.contains(xs, ys))


def _rotated(xs, ys, cx, cy, angle):
    """Coordinates relative to (cx, cy) in a frame rotated by `angle`."""
    dx, dy = xs - cx, ys - cy
    cos, sin = np.cos(angle), np.sin(angle)
    return dx * cos + dy * sin, -dx * sin + dy * cos


def ellipse(cx, cy, rx, ry, angle) -> Shape:
    r = max(rx, ry)

    def contains(xs, ys):
        u, v = _rotated(xs, ys, cx, cy, angle)
        return (u / rx) ** 2 + (v / ry) ** 2 <= 1.0

    return Shape((cx - r, cy - r, cx + r, cy + r), contains)


def ring(cx, cy, outer, inner) -> Shape:
    def contains(xs, ys):
        d2 = (xs - cx) ** 2 + (ys - cy) ** 2
        return (d2 <= outer**2) & (d2 >= inner**2)

    return Shape((cx - outer, cy - outer, cx + outer, cy + outer), contains)


def polygon(vertices: np.ndarray) -> Shape:
    """A simple polygon, (N, 2) vertices in order; even-odd rule."""
    vertices = np.asarray(vertices, dtype=np.float64)
    x0, y0 = vertices.min(axis=0)
    x1, y1 = vertices.max(axis=0)

    def contains(xs, ys):
        inside = np.zeros(np.broadcast_shapes(np.shape(xs), np.shape(ys)), dtype=bool)
        for (ax, ay), (bx, by) in zip(vertices, np.roll(vertices, -1, axis=0), strict=True):
            if ay == by:
                continue
            # the edge crosses the horizontal line through the point, right of the point
            spans = (ys >= min(ay, by)) & (ys < max(ay, by))
            x_cross = ax + (ys - ay) * (bx - ax) / (by - ay)
            inside ^= spans & (xs < x_cross)
        return inside

    return Shape((x0, y0, x1, y1), contains)


def rectangle(cx, cy, width, height, angle) -> Shape:
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * [width / 2, height / 2]
    cos, sin = np.cos(angle), np.sin(angle)
    rotated = corners @ np.array([[cos, sin], [-sin, cos]])
    return polygon(rotated + np.array([cx, cy]))


def regular_polygon(cx, cy, radius, sides: int, angle) -> Shape:
    t = angle + 2 * np.pi * np.arange(sides) / sides
    return polygon(np.stack([cx + radius * np.cos(t), cy + radius * np.sin(t)], axis=1))


def star(cx, cy, outer, inner, points: int, angle) -> Shape:
    t = angle + np.pi * np.arange(2 * points) / points
    radius = np.where(np.arange(2 * points) % 2 == 0, outer, inner)
    return polygon(np.stack([cx + radius * np.cos(t), cy + radius * np.sin(t)], axis=1))


def cross(cx, cy, size, arm, angle) -> Shape:
    a, s = arm / 2, size
    outline = [(-a, -s), (a, -s), (a, -a), (s, -a), (s, a), (a, a), (a, s), (-a, s), (-a, a)]
    outline += [(-s, a), (-s, -a), (-a, -a)]
    cos, sin = np.cos(angle), np.sin(angle)
    rotated = np.array(outline) @ np.array([[cos, sin], [-sin, cos]])
    return polygon(rotated + np.array([cx, cy]))


def blob(rng: np.random.Generator, cx, cy, size) -> Shape:
    """A smooth irregular outline: a circle whose radius wobbles with a few random harmonics."""
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    radius = np.ones_like(t)
    for harmonic in (2, 3, 5):
        radius += rng.uniform(0.05, 0.18) * np.cos(harmonic * t + rng.uniform(0, 2 * np.pi))
    radius *= size / radius.max()
    return polygon(np.stack([cx + radius * np.cos(t), cy + radius * np.sin(t)], axis=1))
