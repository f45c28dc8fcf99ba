"""`SamAutomaticMaskGenerator` against the official one (segment-anything 1.0) driving the same
samdec `Sam`, its helpers against `segment_anything.utils.amg` and independent references, and its
refusals of bad input.

The official generator imports torchvision (`batched_nms`, `box_area`; its predictor `resize`,
`to_pil_image`), which is not installable: the tests stand in for them with small references
written here (a plain greedy NMS, PIL's bilinear resize as the official predictor uses it), never
with samdec's own code. `min_mask_region_area` needs OpenCV in the official code: there, OpenCV's
connected components are stood in for by samdec's, which are checked against a flood fill here.
"""

import importlib
import sys
import types
from collections import deque

import numpy as np
import PIL.Image
import pytest
import torch
from conftest import randomize_

import samdec
from samdec import amg
from samdec.automatic_mask_generator import SamAutomaticMaskGenerator
from samdec.evaluation import segment_everything
from samdec.sam import Sam, build_sam
from samdec.world import generate_scene

# A small Sam (a 256 input, a 16 x 16 embedding grid) keeps the tests fast; the generator does not
# depend on the size. With random weights every mask covers most of the image (its box the whole
# image, give or take a few rows); with these random weights (seed 8) the predicted IoUs straddle
# 0.5 and the stability scores 0.995, so the thresholds below keep some masks and drop others at
# every stage (test_every_filter_drops_some_masks checks it).
FILTERING = {"pred_iou_thresh": 0.5, "stability_score_thresh": 0.995, "box_nms_thresh": 0.99}
NO_FILTERS = {"pred_iou_thresh": 0.0, "stability_score_thresh": 0.0, "box_nms_thresh": 1.0}


class CentredMasksSam(Sam):
    """A Sam whose mask logits are lowered by a bowl around the image's centre (random weights give
    logits of about +-1000), so its masks are blobs of different sizes in the middle of the image
    or crop it is given: masks a crop does not cut off, and boxes that differ."""

    def postprocess_masks(self, masks, input_size, original_size):
        logits = super().postprocess_masks(masks, input_size, original_size)
        h, w = original_size
        ys = (torch.arange(h) + 0.5) / h - 0.5
        xs = (torch.arange(w) + 0.5) / w - 0.5
        return logits - 12000 * (ys[:, None] ** 2 + xs[None, :] ** 2)


@pytest.fixture(scope="module")
def sam():
    return randomize_(build_sam(image_size=256), seed=8).eval()


@pytest.fixture(scope="module")
def centred_sam(sam):
    return CentredMasksSam(sam.image_encoder, sam.prompt_encoder, sam.mask_decoder).eval()


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return generate_scene(3, size=(256, 384)).render(1.0).image


# --- independent references for what the official code takes from torchvision and OpenCV ---------


def reference_batched_nms(boxes, scores, categories, iou_threshold):
    """Greedy NMS in plain Python: in order of decreasing score (ties in input order), a box is kept
    unless it overlaps a kept box of its category by an IoU above the threshold (two empty boxes
    have no IoU, NaN, and do not suppress each other)."""
    boxes, scores, categories = (
        np.asarray(t, dtype=np.float64) for t in (boxes, scores, categories)
    )

    def iou(a, b):
        width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = width * height
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union if union else float("nan")

    kept = []
    for i in sorted(range(len(scores)), key=lambda i: -scores[i]):
        same = [j for j in kept if categories[j] == categories[i]]
        if not any(iou(boxes[i], boxes[j]) > iou_threshold for j in same):
            kept.append(i)
    return torch.tensor(kept, dtype=torch.long)


def reference_box_area(boxes):
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def pil_resize(image, size):
    """torchvision's `resize` on a PIL image, as the official predictor calls it: bilinear."""
    return image.resize((size[1], size[0]), PIL.Image.BILINEAR)


def flood_fill_regions(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected regions by breadth-first search from each unlabelled pixel in raster order."""
    regions = np.zeros(mask.shape, np.int64)
    sizes = []
    for start in zip(*np.nonzero(mask), strict=True):
        if regions[start]:
            continue
        sizes.append(0)
        regions[start] = len(sizes)
        queue = deque([start])
        while queue:
            y, x = queue.popleft()
            sizes[-1] += 1
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    ny, nx = y + dy, x + dx
                    inside = 0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1]
                    if inside and mask[ny, nx] and not regions[ny, nx]:
                        regions[ny, nx] = len(sizes)
                        queue.append((ny, nx))
    return regions, np.array(sizes, dtype=np.int64)


def samdec_connected_components_with_stats(image, connectivity):
    """cv2.connectedComponentsWithStats's return layout, from samdec's connected regions."""
    assert connectivity == 8
    regions, sizes = amg.connected_regions(image.astype(bool))
    stats = np.zeros((len(sizes) + 1, 5), np.int64)
    stats[0, 4] = (regions == 0).sum()
    stats[1:, 4] = sizes
    return len(sizes) + 1, regions, stats, None


@pytest.fixture
def official_amg(official, monkeypatch):
    """The official `segment_anything.automatic_mask_generator` with the stand-ins above in
    `sys.modules` for torchvision and OpenCV; the official modules imported here are dropped
    afterwards."""
    stand_ins = {
        "torchvision": {},
        "torchvision.transforms": {},
        "torchvision.transforms.functional": {
            "resize": pil_resize,
            "to_pil_image": PIL.Image.fromarray,
        },
        "torchvision.ops": {},
        "torchvision.ops.boxes": {
            "batched_nms": reference_batched_nms,
            "box_area": reference_box_area,
        },
        "cv2": {"connectedComponentsWithStats": samdec_connected_components_with_stats},
    }
    for name, attributes in stand_ins.items():
        module = types.ModuleType(name)
        for attribute, value in attributes.items():
            setattr(module, attribute, value)
        monkeypatch.setitem(sys.modules, name, module)
    imported_before = set(sys.modules)
    yield importlib.import_module("segment_anything.automatic_mask_generator")
    for name in set(sys.modules) - imported_before:
        if name.startswith("segment_anything."):
            del sys.modules[name]


def official_generator(official_amg, sam, **kwargs):
    generator = official_amg.SamAutomaticMaskGenerator(sam, **kwargs)
    # The official predictor hands the model a uint8 image and relies on the official Sam's
    # preprocess promoting it; samdec's preprocess asks for floats, so it gets them (exactly).
    set_torch_image = generator.predictor.set_torch_image
    generator.predictor.set_torch_image = lambda image, size: set_torch_image(image.float(), size)
    return generator


def assert_same_records(actual: list[dict], expected: list[dict]) -> None:
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        assert got.keys() == want.keys()
        for key in want:
            if isinstance(want[key], np.ndarray):
                assert got[key].dtype == want[key].dtype
                np.testing.assert_array_equal(got[key], want[key])
            else:
                assert got[key] == want[key], key


# --- parity with the official generator ---------------------------------------------------------

PARITY_CASES = {
    "every filter": ("centred", {"points_per_side": 4, **FILTERING, "box_nms_thresh": 0.9}),
    "nothing filtered, uncompressed rle": (
        "random",
        {"points_per_side": 4, "output_mode": "uncompressed_rle", **NO_FILTERS},
    ),
    "crops": (
        "centred",
        {
            "points_per_side": 2,
            "crop_n_layers": 1,
            "crop_nms_thresh": 0.1,
            "crop_overlap_ratio": 0.25,
            **FILTERING,
            "box_nms_thresh": 0.8,
        },
    ),
    "point grids, uneven batches": (
        "centred",
        {
            "points_per_side": None,
            "point_grids": [np.array([[0.1, 0.1], [0.5, 0.5], [0.9, 0.2], [0.3, 0.8], [0.7, 0.7]])],
            "points_per_batch": 2,
            **FILTERING,
            "stability_score_thresh": 0.99,
            "box_nms_thresh": 0.9,
        },
    ),
    "small regions removed": (
        "random",
        {"points_per_side": 3, "min_mask_region_area": 400, **FILTERING},
    ),
}


@pytest.mark.parametrize("case", PARITY_CASES.values(), ids=PARITY_CASES.keys())
def test_matches_the_official_generator(official_amg, sam, centred_sam, image, case):
    model, kwargs = case
    model = centred_sam if model == "centred" else sam
    expected = official_generator(official_amg, model, **kwargs).generate(image)
    actual = SamAutomaticMaskGenerator(model, **kwargs).generate(image)
    assert len(expected) > 1  # the case is not vacuous
    if kwargs.get("crop_n_layers"):
        assert len({tuple(record["crop_box"]) for record in expected}) > 1
    assert_same_records(actual, expected)


@pytest.fixture(scope="module")
def unfiltered(centred_sam, image) -> list[dict]:
    return SamAutomaticMaskGenerator(centred_sam, points_per_side=4, **NO_FILTERS).generate(image)


def test_every_filter_drops_some_masks(unfiltered):
    """The thresholds of the parity case "every filter" are not vacuous: each stage drops some of
    the 48 masks and keeps some."""
    _, kwargs = PARITY_CASES["every filter"]
    iou_kept = [r for r in unfiltered if r["predicted_iou"] > kwargs["pred_iou_thresh"]]
    stable = [r for r in iou_kept if r["stability_score"] >= kwargs["stability_score_thresh"]]
    boxes = torch.tensor([[x, y, x + w, y + h] for x, y, w, h in (r["bbox"] for r in stable)])
    scores = torch.tensor([r["predicted_iou"] for r in stable])
    distinct = amg.box_nms(boxes, scores, kwargs["box_nms_thresh"])
    assert 4 * 4 * 3 == len(unfiltered) > len(iou_kept) > len(stable) > len(distinct) > 1


def test_records(unfiltered, image):
    grid = {(x, y) for x in (48.0, 144.0, 240.0, 336.0) for y in (32.0, 96.0, 160.0, 224.0)}
    for record in unfiltered:
        mask = record["segmentation"]
        assert mask.shape == image.shape[:2] and mask.dtype == bool
        assert record["area"] == mask.sum()
        ys, xs = np.nonzero(mask)
        assert record["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min()]
        assert record["crop_box"] == [0, 0, 384, 256]
        assert tuple(record["point_coords"][0]) in grid
        assert isinstance(record["predicted_iou"], float)
        assert 0 <= record["stability_score"] <= 1
    scores = [record["predicted_iou"] for record in unfiltered]
    assert scores == sorted(scores, reverse=True)


# --- the helpers against the official ones -------------------------------------------------------


@pytest.fixture(scope="module")
def official_utils(official):
    return importlib.import_module("segment_anything.utils.amg")


def assert_equal(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """Same dtype, shape and values (NaN equal to NaN)."""
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    assert torch.equal(actual.nan_to_num(-1), expected.nan_to_num(-1)), (actual, expected)


def random_masks(n: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """Blobs and specks, some masks empty, some full."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 1, h // 4 + 1, w // 4 + 1, generator=generator)
    smooth = torch.nn.functional.interpolate(coarse, (h, w), mode="bilinear")[:, 0]
    masks = smooth > torch.linspace(0, 1, n)[:, None, None]
    masks[0] = False
    masks[-1] = True
    return masks


@pytest.mark.parametrize("n_per_side", [1, 2, 5, 32])
def test_point_grid(official_utils, n_per_side):
    np.testing.assert_allclose(
        amg.build_point_grid(n_per_side), official_utils.build_point_grid(n_per_side), atol=1e-15
    )


@pytest.mark.parametrize("size", [(256, 384), (1024, 700), (333, 333)])
@pytest.mark.parametrize("n_layers", [0, 1, 2])
def test_crop_boxes(official_utils, size, n_layers):
    for ratio in (512 / 1500, 0.0, 0.5):
        expected = official_utils.generate_crop_boxes(size, n_layers, ratio)
        assert amg.generate_crop_boxes(size, n_layers, ratio) == expected
    assert amg.build_layer_point_grids(10, n_layers, 2)[-1].shape == (
        official_utils.build_all_layer_point_grids(10, n_layers, 2)[-1].shape
    )


def test_stability_score(official_utils):
    logits = torch.randn(6, 30, 40, generator=torch.Generator().manual_seed(0)) * 3
    for offset in (0.0, 0.5, 1.0):
        assert_equal(
            amg.stability_score(logits, 0.0, offset),
            official_utils.calculate_stability_score(logits, 0.0, offset),
        )


def test_masks_to_boxes(official_utils):
    masks = random_masks(8, 30, 50)
    masks[1] = False
    masks[1, 7, 9] = True  # a single pixel: the box (9, 7, 9, 7)
    boxes = amg.masks_to_boxes(masks)
    assert_equal(boxes, official_utils.batched_mask_to_box(masks))
    assert boxes[1].tolist() == [9, 7, 9, 7] and boxes[0].tolist() == [0, 0, 0, 0]
    assert amg.box_xyxy_to_xywh(boxes[1]) == [9, 7, 0, 0]


def test_rle(official_utils):
    masks = random_masks(6, 20, 30)
    expected = official_utils.mask_to_rle_pytorch(masks)
    for mask, rle in zip(masks.numpy(), expected, strict=True):
        assert amg.mask_to_rle(mask) == rle
        np.testing.assert_array_equal(amg.rle_to_mask(rle), mask)
        assert amg.area_from_rle(rle) == official_utils.area_from_rle(rle) == mask.sum()


def test_box_near_crop_edge(official_utils):
    boxes = torch.tensor([[0, 0, 50, 50], [90, 10, 130, 40], [10, 10, 110, 50], [150, 60, 199, 99]])
    crop_box, image_box = [0, 0, 120, 100], [0, 0, 200, 100]
    expected = official_utils.is_box_near_crop_edge(boxes, crop_box, image_box)
    assert_equal(amg.is_box_near_crop_edge(boxes, crop_box, image_box), expected)
    assert expected.tolist() == [False, True, True, False]


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.7, 1.0])
def test_box_nms(threshold):
    generator = torch.Generator().manual_seed(1)
    corners = torch.randint(0, 60, (80, 2, 2), generator=generator)
    boxes = torch.cat([corners.min(dim=1).values, corners.max(dim=1).values], dim=1)
    scores = torch.randint(0, 10, (80,), generator=generator).float()  # ties, in input order
    expected = reference_batched_nms(boxes, scores, torch.zeros(80), threshold)
    assert_equal(amg.box_nms(boxes, scores, threshold), expected)


def test_box_iou_by_hand():
    square = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    others = torch.tensor([[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 2.0, 2.0], [5.0, 5.0, 6.0, 6.0]])
    assert_equal(amg.box_iou(square, others), torch.tensor([[1 / 7, 1.0, 0.0]]))


def test_box_nms_of_nothing():
    assert amg.box_nms(torch.zeros(0, 4), torch.zeros(0), 0.5).tolist() == []


@pytest.mark.parametrize("seed", range(4))
def test_connected_regions_match_a_flood_fill(seed):
    masks = random_masks(4, 37, 53, seed=seed).numpy()
    masks |= np.random.default_rng(seed).random(masks.shape) < 0.15  # specks, diagonal contacts
    for mask in masks:
        regions, sizes = amg.connected_regions(mask)
        expected_regions, expected_sizes = flood_fill_regions(mask)
        np.testing.assert_array_equal(regions, expected_regions)
        np.testing.assert_array_equal(sizes, expected_sizes)


def test_remove_small_regions():
    mask = np.zeros((20, 20), bool)
    mask[2:12, 2:12] = True
    mask[5, 5] = False  # a one-pixel hole
    mask[15:17, 15:17] = True  # an island of 4
    mask[14, 14] = True  # touches the island diagonally: an island of 5 together
    holes_filled, changed = amg.remove_small_regions(mask, 5, "holes")
    assert changed and holes_filled[5, 5] and holes_filled.sum() == mask.sum() + 1
    cleaned, changed = amg.remove_small_regions(holes_filled, 5, "islands")
    assert not changed and (cleaned == holes_filled).all()  # 5 is not smaller than 5
    cleaned, changed = amg.remove_small_regions(holes_filled, 6, "islands")
    assert changed and cleaned.sum() == 100

    specks = np.zeros((10, 10), bool)
    specks[1, 1:4] = True
    specks[6:8, 6:9] = True
    largest, changed = amg.remove_small_regions(specks, 10, "islands")  # all small: the largest
    assert changed and largest.sum() == 6 and largest[6:8, 6:9].all()
    with pytest.raises(ValueError, match="mode"):
        amg.remove_small_regions(specks, 10, "specks")


# --- refusals --------------------------------------------------------------------------------

BAD_IMAGES = {
    "grey": (np.zeros((32, 48), np.uint8), ValueError, "H x W x 3"),
    "rgba": (np.zeros((32, 48, 4), np.uint8), ValueError, "H x W x 3"),
    "float": (np.zeros((32, 48, 3), np.float32), TypeError, "uint8"),
    "tensor": (torch.zeros(32, 48, 3, dtype=torch.uint8), TypeError, "numpy"),
}


@pytest.mark.parametrize("case", BAD_IMAGES.values(), ids=BAD_IMAGES.keys())
def test_refuses_an_image_that_is_not_rgb(sam, case):
    image, error, message = case
    with pytest.raises(error, match=f"image must .*{message}"):
        SamAutomaticMaskGenerator(sam, points_per_side=1).generate(image)


BAD_ARGUMENTS = {
    "points_per_side and point_grids": (
        {"points_per_side": 4, "point_grids": [amg.build_point_grid(2)]},
        "exactly one of points_per_side and point_grids",
    ),
    "neither": ({"points_per_side": None}, "exactly one of points_per_side and point_grids"),
    "pred_iou_thresh above 1": ({"pred_iou_thresh": 1.5}, r"pred_iou_thresh .*\[0, 1\]"),
    "stability_score_thresh below 0": (
        {"stability_score_thresh": -0.1},
        r"stability_score_thresh .*\[0, 1\]",
    ),
    "box_nms_thresh not a number": ({"box_nms_thresh": "0.7"}, r"box_nms_thresh .*\[0, 1\]"),
    "crop_nms_thresh nan": ({"crop_nms_thresh": float("nan")}, r"crop_nms_thresh .*\[0, 1\]"),
    "negative stability_score_offset": ({"stability_score_offset": -1.0}, "stability_score_offset"),
    "zero points_per_side": ({"points_per_side": 0}, "points_per_side must be an integer >= 1"),
    "zero points_per_batch": ({"points_per_batch": 0}, "points_per_batch must be an integer"),
    "negative min_mask_region_area": ({"min_mask_region_area": -1}, "min_mask_region_area"),
    "coco_rle": ({"output_mode": "coco_rle"}, "pycocotools"),
    "unknown output_mode": ({"output_mode": "polygons"}, "output_mode must be one of"),
    "grid out of [0, 1]": (
        {"points_per_side": None, "point_grids": [np.array([[0.5, 1.5]])]},
        r"point_grids\[0\] .*\[0, 1\]",
    ),
    "grid not N x 2": (
        {"points_per_side": None, "point_grids": [np.zeros((4, 3))]},
        r"point_grids\[0\] must be an N x 2",
    ),
    "a grid per crop layer": (
        {"points_per_side": None, "point_grids": [amg.build_point_grid(2)], "crop_n_layers": 1},
        "one grid per crop layer",
    ),
}


@pytest.mark.parametrize("case", BAD_ARGUMENTS.values(), ids=BAD_ARGUMENTS.keys())
def test_refuses_bad_arguments(sam, case):
    kwargs, message = case
    with pytest.raises(ValueError, match=message):
        SamAutomaticMaskGenerator(sam, **kwargs)


def test_is_exported():
    assert samdec.SamAutomaticMaskGenerator is SamAutomaticMaskGenerator


# --- figures and the picture -----------------------------------------------------------------


def test_ground_truth_levels():
    rendered = generate_scene(19).render(0.25)
    truth = segment_everything.ground_truth(rendered, min_area=20)
    objects = [o for o in np.unique(rendered.object_id) if o >= 0]
    assert len(truth["whole"]) == sum(rendered.mask(o).sum() >= 20 for o in objects)
    for level in ("part", "subpart"):
        assert len(truth[level]) > 0
        for mask in truth[level]:
            (o,) = np.unique(rendered.object_id[mask])  # inside one object
            assert len(np.unique(rendered.part_id[rendered.object_id == o])) > 1 or level != "part"
            assert mask.sum() >= 20
    for mask in truth["subpart"]:
        assert len(np.unique(rendered.subpart_id[mask])) == 1 and rendered.subpart_id[mask][0] >= 0


def test_best_ious():
    generated = random_masks(5, 24, 32, seed=1).numpy()
    targets = random_masks(4, 24, 32, seed=2).numpy()[1:]  # not empty
    expected = [max((g & t).sum() / max((g | t).sum(), 1) for g in generated) for t in targets]
    np.testing.assert_allclose(segment_everything.best_ious(generated, targets), expected)
    np.testing.assert_array_equal(segment_everything.best_ious(generated, generated[1:]), 1.0)
    assert segment_everything.best_ious(generated[:0], targets).tolist() == [0.0] * 3


def test_figures_and_their_table(sam):
    figures = segment_everything.segment_everything_figures(
        sam, range(1), points_per_side=2, points_per_batch=3, **NO_FILTERS
    )
    assert figures["counts"]["images"] == 1 and figures["masks_per_image"] == 12
    assert figures["counts"]["whole"] > 0
    for level in segment_everything.LEVELS:
        assert set(figures["recall"][level]) == {0.5, 0.75}
    table = segment_everything.format_segment_everything(figures)
    assert "| whole objects |" in table and "| subparts |" in table
    assert "12.0 masks and" in table and "2 x 2 points, 3 per batch" in table


def test_picture_is_reproducible_and_counts_its_masks(centred_sam, tmp_path):
    kwargs = {"scale": 0.25, "points_per_side": 2, **NO_FILTERS, "box_nms_thresh": 0.9}
    records = segment_everything.draw_segment_everything(centred_sam, tmp_path / "a.png", **kwargs)
    again = segment_everything.draw_segment_everything(centred_sam, tmp_path / "b.png", **kwargs)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert len(records) == len(again) > 1
    image = np.asarray(PIL.Image.open(tmp_path / "a.png"))
    assert image.shape[1] == 1000  # 10 inches at 100 dpi
    scene = generate_scene(segment_everything.PICTURE_SEED).render(0.25)
    figure = segment_everything.segment_everything_picture(scene.image, records)
    titles = [axes.get_title() for axes in figure.axes]
    assert titles == ["the photo", f"{len(records)} masks"]
