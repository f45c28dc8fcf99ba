"""A world of generated scenes for training and testing SAM: photos with ground-truth masks.

Every scene is made of objects, and every object of parts on three levels: the whole object, its
parts, and the parts' subparts (a dog, its head, an ear). A point on an ear is truly ambiguous, as
in the SAM paper's whole/part/subpart figure: the ear, the head and the dog are all right answers.

A scene is geometry in its own pixel frame; `Scene.render(scale)` rasterises it at any resolution,
so the same scene gives a 1024-wide training photo and its 256-wide target masks, or the 2250 x 1500
photo of the running example. Pure numpy, seeded: `generate_scene(seed)` is the same everywhere.
"""

from dataclasses import dataclass, field

import numpy as np

from samdec.world_shapes import (
    Shape,
    blob,
    cross,
    ellipse,
    polygon,
    rectangle,
    regular_polygon,
    ring,
    star,
)

# Two looks of the world. Training sees only the "train" look; the "novel" look draws objects with
# shapes and backgrounds training never saw, to check that the model learnt objects, not a style.
STYLES = ("train", "novel")

WHOLE, PART, SUBPART = 0, 1, 2
LEVELS = ("whole", "part", "subpart")


@dataclass
class Region:
    """A shape with its look. Later regions are drawn over earlier ones."""

    shape: Shape
    colour: np.ndarray  # RGB in [0, 1]
    texture: float  # amplitude of the noise texture
    stripes: tuple[float, float, float] = (0.0, 0.0, 0.0)  # amplitude, period (px), angle


@dataclass
class Part:
    body: Region
    subparts: list[Region] = field(default_factory=list)


@dataclass
class SceneObject:
    kind: str
    parts: list[Part]


@dataclass
class Scene:
    """Geometry in pixels of a `size` = (H, W) photo: a background and objects, back to front."""

    size: tuple[int, int]
    background: dict
    objects: list[SceneObject]

    def render(self, scale: float = 1.0) -> "RenderedScene":
        """The photo and the label maps at `scale` times the scene's own size."""
        return render(self, scale)


@dataclass
class RenderedScene:
    """An HxWx3 uint8 RGB photo and, per pixel, which object, part and subpart is visible there
    (-1 where none: background, or a part's own body outside its subparts)."""

    image: np.ndarray
    object_id: np.ndarray
    part_id: np.ndarray
    subpart_id: np.ndarray

    def mask(self, object_index: int, part: int = -1, subpart: int = -1) -> np.ndarray:
        """The visible pixels of an object, or of one of its parts, or of one subpart."""
        mask = self.object_id == object_index
        if part >= 0:
            mask &= self.part_id == part
        if subpart >= 0:
            mask &= self.subpart_id == subpart
        return mask

    def crop(self, top: int, left: int, height: int, width: int) -> "RenderedScene":
        """A window of the photo and its label maps."""
        window = (slice(top, top + height), slice(left, left + width))
        return RenderedScene(
            *(a[window] for a in (self.image, self.object_id, self.part_id, self.subpart_id))
        )

    def hierarchy_at(self, x: int, y: int) -> list[np.ndarray]:
        """The masks a click at pixel (x, y) could mean, whole first: [whole, part, subpart] as far
        as the point has them. Empty on the background."""
        o, p, s = self.object_id[y, x], self.part_id[y, x], self.subpart_id[y, x]
        if o < 0:
            return []
        masks = [self.mask(o)]
        if p >= 0:
            masks.append(self.mask(o, p))
        if s >= 0:
            masks.append(self.mask(o, p, s))
        return masks


# --- the looks: colours, textures, backgrounds ---


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    hue = rng.uniform(0, 1)
    saturation = rng.uniform(0.35, 0.95)
    value = rng.uniform(0.3, 0.95)
    return _hsv_to_rgb(hue, saturation, value)


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i])


def _contrasting(rng: np.random.Generator, colour: np.ndarray, min_distance: float = 0.35):
    """A colour at least `min_distance` away (RGB, Euclidean) from `colour`: parts must be seen."""
    for _ in range(50):
        candidate = _random_colour(rng)
        if np.linalg.norm(candidate - colour) >= min_distance:
            return candidate
    return 1.0 - colour


def _region(rng: np.random.Generator, shape: Shape, colour: np.ndarray) -> Region:
    stripes = (0.0, 0.0, 0.0)
    if rng.uniform() < 0.25:
        stripes = (rng.uniform(0.05, 0.15), rng.uniform(8, 30), rng.uniform(0, np.pi))
    return Region(shape, colour, texture=rng.uniform(0.0, 0.12), stripes=stripes)


def _background(rng: np.random.Generator, style: str) -> dict:
    kinds = ("noise", "gradient", "stripes") if style == "train" else ("plain", "gradient")
    return {
        "kind": kinds[rng.integers(len(kinds))],
        "colours": (_random_colour(rng), _random_colour(rng)),
        "angle": rng.uniform(0, 2 * np.pi),
        "period": rng.uniform(20, 80),
        "noise_seed": int(rng.integers(2**31)),
    }


# --- the objects ---


def _simple_shape(rng: np.random.Generator, cx, cy, size, style: str) -> Shape:
    angle = rng.uniform(0, np.pi)
    aspect = rng.uniform(0.5, 1.0)
    if style == "novel":
        choice = rng.integers(3)
        if choice == 0:
            return star(cx, cy, size, size * rng.uniform(0.4, 0.6), int(rng.integers(5, 8)), angle)
        if choice == 1:
            return cross(cx, cy, size, size * rng.uniform(0.3, 0.45), angle)
        return blob(rng, cx, cy, size)
    choice = rng.integers(4)
    if choice == 0:
        return ellipse(cx, cy, size, size * aspect, angle)
    if choice == 1:
        return rectangle(cx, cy, 2 * size, 2 * size * aspect, angle)
    if choice == 2:
        return regular_polygon(cx, cy, size, int(rng.integers(3, 7)), angle)
    return ring(cx, cy, size, size * rng.uniform(0.45, 0.7))


def _subparts(rng: np.random.Generator, body: Shape, colour, style: str) -> list[Region]:
    """0-2 small shapes inside a part (a spot, a window, an eye), each a subpart of it."""
    subparts = []
    x0, y0, x1, y1 = body.bounds
    size = min(x1 - x0, y1 - y0)
    for _ in range(rng.choice(3, p=(0.4, 0.4, 0.2))):
        for _ in range(20):  # a centre well inside the part
            cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
            if body.contains(np.array([cx]), np.array([cy]))[0]:
                break
        else:
            continue
        shape = _simple_shape(rng, cx, cy, size * rng.uniform(0.12, 0.22), style)
        subparts.append(_region(rng, shape, _contrasting(rng, colour)))
    return subparts


def _compound_figure(rng: np.random.Generator, cx, cy, size, style: str) -> SceneObject:
    """A body with 1-3 limbs attached at its edge: each limb a part, some with subparts."""
    body_colour = _random_colour(rng)
    body_shape = _simple_shape(rng, cx, cy, size, style)
    parts = [
        Part(_region(rng, body_shape, body_colour), _subparts(rng, body_shape, body_colour, style))
    ]
    for _ in range(rng.integers(1, 4)):
        angle = rng.uniform(0, 2 * np.pi)
        distance = size * rng.uniform(0.9, 1.2)
        limb_size = size * rng.uniform(0.35, 0.6)
        lx, ly = cx + distance * np.cos(angle), cy + distance * np.sin(angle)
        limb = _simple_shape(rng, lx, ly, limb_size, style)
        colour = _contrasting(rng, body_colour, 0.3)
        parts.append(Part(_region(rng, limb, colour), _subparts(rng, limb, colour, style)))
    return SceneObject("figure", parts)


def dog(
    rng: np.random.Generator,
    box: tuple[float, float, float, float],
    facing_right: bool = True,
) -> SceneObject:
    """A dog filling `box` (x0, y0, x1, y1): body, legs, tail, and a head with ears and an eye.

    Parts: body (with a spot), head (ears, eye), four legs, tail. Its extremes touch the box: the
    tail tip and the snout the sides, the ear tips the top, the paws the bottom.
    """
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0

    def at(u: float, v: float) -> tuple[float, float]:
        """Box-relative (u, v) in [0, 1]^2 to pixels, mirrored when facing left."""
        return (x0 + (u if facing_right else 1 - u) * w, y0 + v * h)

    def poly(*uv: tuple[float, float]) -> Shape:
        return polygon(np.array([at(u, v) for u, v in uv]))

    fur = _random_colour(rng)
    darker = np.clip(fur * 0.6, 0, 1)
    body_centre = at(0.46, 0.5)
    body = ellipse(*body_centre, 0.33 * w, 0.21 * h, 0.0)
    spot = ellipse(*at(0.38, 0.46), 0.07 * w, 0.07 * h, 0.3)
    head = ellipse(*at(0.85, 0.3), 0.11 * w, 0.17 * h, 0.0)
    ears = [
        poly((0.77, 0.22), (0.80, 0.0), (0.84, 0.2)),
        poly((0.86, 0.2), (0.91, 0.0), (0.93, 0.25)),
    ]
    eye = ellipse(*at(0.89, 0.29), 0.015 * w, 0.025 * h, 0.0)
    snout = poly((0.9, 0.3), (1.0, 0.36), (0.99, 0.44), (0.88, 0.45))
    legs = [
        poly((u, 0.6), (u + 0.06, 0.6), (u + 0.06, 1.0), (u, 1.0)) for u in (0.2, 0.3, 0.55, 0.65)
    ]
    tail = poly((0.16, 0.45), (0.0, 0.2), (0.03, 0.17), (0.2, 0.4))

    ear_colour = _contrasting(rng, fur, 0.3)
    parts = [Part(Region(leg, darker, 0.05)) for leg in legs]
    parts += [
        Part(Region(tail, darker, 0.05)),
        Part(Region(body, fur, 0.08), [Region(spot, _contrasting(rng, fur), 0.03)]),
        Part(
            Region(head.union(snout), fur, 0.08),
            [Region(ear, ear_colour, 0.03) for ear in ears] + [Region(eye, np.zeros(3), 0.0)],
        ),
    ]
    return SceneObject("dog", parts)


def _random_dog(rng: np.random.Generator, cx, cy, size) -> SceneObject:
    w = 2 * size * rng.uniform(1.0, 1.4)
    h = w * rng.uniform(0.5, 0.7)
    return dog(rng, (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), bool(rng.integers(2)))


def _random_object(rng: np.random.Generator, cx, cy, size, style: str) -> SceneObject:
    kind = rng.choice(3, p=(0.3, 0.45, 0.25))
    if kind == 0:
        shape = _simple_shape(rng, cx, cy, size, style)
        colour = _random_colour(rng)
        return SceneObject(
            "shape", [Part(_region(rng, shape, colour), _subparts(rng, shape, colour, style))]
        )
    if kind == 1:
        return _compound_figure(rng, cx, cy, size, style)
    return _random_dog(rng, cx, cy, size)


def generate_scene(seed: int, size: tuple[int, int] | None = None, style: str = "train") -> Scene:
    """A random scene: 2-5 objects, some overlapping each other or the border, on a background.

    `size` (H, W) defaults to a random aspect ratio with the longest side 1024; any size works.
    """
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    rng = np.random.default_rng(seed)
    if size is None:
        aspect = rng.uniform(0.6, 1.0)
        size = (1024, int(1024 * aspect)) if rng.integers(2) else (int(1024 * aspect), 1024)
    h, w = size
    objects = []
    for _ in range(rng.integers(2, 6)):
        object_size = min(h, w) * rng.uniform(0.1, 0.22)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        objects.append(_random_object(rng, cx, cy, object_size, style))
    return Scene(size, _background(rng, style), objects)


def example_scene() -> Scene:
    """The running example: a 2250 x 1500 photo with a dog in the box (700, 400, 1900, 1100) and
    the point (1300, 800) on its body, among other objects."""
    rng = np.random.default_rng(2023)
    size = (1500, 2250)
    others = [
        _random_object(rng, 330, 300, 200, "train"),
        _random_object(rng, 2000, 1300, 180, "train"),
        _random_object(rng, 350, 1250, 190, "train"),
    ]
    example_dog = dog(rng, (700.0, 400.0, 1900.0, 1100.0), facing_right=True)
    return Scene(size, _background(rng, "train"), [*others, example_dog])


# --- rasterising ---


def _smooth_noise(seed: int, shape: tuple[int, int], cells: int = 12) -> np.ndarray:
    """Value noise in [-1, 1]: a coarse random grid, bilinearly upsampled (scale-independent)."""
    rng = np.random.default_rng(seed)
    grid = rng.uniform(-1, 1, (cells + 1, cells + 1))
    h, w = shape
    ys = np.linspace(0, cells * h / max(h, w), h)
    xs = np.linspace(0, cells * w / max(h, w), w)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    y1, x1 = np.minimum(y0 + 1, cells), np.minimum(x0 + 1, cells)
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x1] * fx
    bottom = grid[y1][:, x0] * (1 - fx) + grid[y1][:, x1] * fx
    return top * (1 - fy) + bottom * fy


def _draw_background(background: dict, xs, ys, shape, scale: float) -> np.ndarray:
    first, second = (np.asarray(c, dtype=np.float32) for c in background["colours"])
    h, w = shape
    if background["kind"] == "plain":
        return np.broadcast_to(first, (h, w, 3)).copy()
    along = xs * np.cos(background["angle"]) + ys * np.sin(background["angle"])
    if background["kind"] == "gradient":
        t = (along - along.min()) / max(np.ptp(along), 1e-6)
    elif background["kind"] == "stripes":
        t = 0.5 + 0.5 * np.sin(2 * np.pi * along / background["period"])
    else:
        t = 0.5 + 0.5 * _smooth_noise(background["noise_seed"], shape, cells=6)
    return first * (1 - t[..., None]) + second * t[..., None]


def render(scene: Scene, scale: float = 1.0) -> RenderedScene:
    h, w = (round(side * scale) for side in scene.size)
    # pixel centres, in the scene's own frame
    xs = ((np.arange(w) + 0.5) / scale)[None, :].astype(np.float32)
    ys = ((np.arange(h) + 0.5) / scale)[:, None].astype(np.float32)
    image = _draw_background(scene.background, xs, ys, (h, w), scale)
    object_id = np.full((h, w), -1, np.int16)
    part_id = np.full((h, w), -1, np.int16)
    subpart_id = np.full((h, w), -1, np.int16)
    noise = _smooth_noise(scene.size[0] * 7 + scene.size[1], (h, w), cells=40)[..., None]

    for o, scene_object in enumerate(scene.objects):
        for p, part in enumerate(scene_object.parts):
            for s, region in enumerate([part.body, *part.subparts]):
                where = _paint(image, region, xs, ys, noise)
                if where is None:
                    continue
                rows, cols = where
                object_id[rows, cols] = o
                part_id[rows, cols] = p
                subpart_id[rows, cols] = s - 1  # the part's own body is no subpart
    image = np.clip(image, 0, 1)
    return RenderedScene((image * 255 + 0.5).astype(np.uint8), object_id, part_id, subpart_id)


def _paint(image, region: Region, xs, ys, noise):
    """Paints `region` into `image` within its bounding box; returns the painted pixels' slices."""
    x0, y0, x1, y1 = region.shape.bounds
    # pixel columns/rows whose centres can lie in the bounds
    c0, c1 = np.searchsorted(xs[0], [x0, x1])
    r0, r1 = np.searchsorted(ys[:, 0], [y0, y1])
    if c0 >= c1 or r0 >= r1:
        return None
    inside = region.shape.contains(xs[:, c0:c1], ys[r0:r1])
    if not inside.any():
        return None
    colour = region.colour + region.texture * noise[r0:r1, c0:c1]
    amplitude, period, angle = region.stripes
    if amplitude:
        along = xs[:, c0:c1] * np.cos(angle) + ys[r0:r1] * np.sin(angle)
        colour = colour + amplitude * np.sin(2 * np.pi * along / period)[..., None]
    window = image[r0:r1, c0:c1]
    window[inside] = np.broadcast_to(colour, window.shape)[inside]
    rows, cols = np.nonzero(inside)
    return rows + r0, cols + c0
