"""The predictor's geometry against the official `ResizeLongestSide` and `Sam.postprocess_masks`."""

import types

import numpy as np
import pytest
import torch

from samdec import postprocess_masks, resized_shape, transform_boxes, transform_coords

# (H, W): the example's landscape photo, its portrait twin, squares, sizes whose rounding differs
# between the two sides, a side landing on exactly half a pixel (500.5: rounds up, not to even),
# and images smaller than the 1024 frame
ORIGINAL_SIZES = [
    (1500, 2250),
    (2250, 1500),
    (800, 800),
    (1024, 1024),
    (480, 640),
    (333, 1000),
    (1000, 333),
    (601, 1201),
    (1001, 2048),
    (100, 60),
]


def size_id(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def random_points(original_size: tuple[int, int], *batch: int) -> np.ndarray:
    """(x, y) points spread over an image of `original_size` (H, W)."""
    unit = np.random.default_rng(0).random((*batch, 2))
    return unit * np.array(original_size[::-1])


def random_boxes(original_size: tuple[int, int], count: int) -> np.ndarray:
    corners = np.sort(random_points(original_size, count, 2), axis=1)
    return corners.reshape(count, 4)


@pytest.mark.parametrize("original_size", ORIGINAL_SIZES, ids=size_id)
def test_resized_shape(official_predictor_api, original_size):
    expected = official_predictor_api.ResizeLongestSide.get_preprocess_shape(*original_size, 1024)
    assert resized_shape(original_size) == expected
    assert max(resized_shape(original_size)) == 1024


@pytest.mark.parametrize("long_side", [256, 512])
def test_resized_shape_to_another_long_side(official_predictor_api, long_side):
    expected = official_predictor_api.ResizeLongestSide.get_preprocess_shape(333, 1000, long_side)
    assert resized_shape((333, 1000), long_side) == expected


@pytest.mark.parametrize("original_size", ORIGINAL_SIZES, ids=size_id)
@pytest.mark.parametrize("batch", [(5,), (2, 3)], ids=["points", "batched-points"])
def test_transform_coords(official_predictor_api, original_size, batch):
    coords = random_points(original_size, *batch)
    expected = official_predictor_api.ResizeLongestSide(1024).apply_coords(coords, original_size)
    actual = transform_coords(torch.from_numpy(coords), original_size)
    assert actual.dtype == torch.float32
    torch.testing.assert_close(actual, torch.from_numpy(expected).float())


@pytest.mark.parametrize("original_size", ORIGINAL_SIZES, ids=size_id)
def test_transform_boxes(official_predictor_api, original_size):
    boxes = random_boxes(original_size, 4)
    expected = official_predictor_api.ResizeLongestSide(1024).apply_boxes(boxes, original_size)
    actual = transform_boxes(torch.from_numpy(boxes), original_size)
    torch.testing.assert_close(actual, torch.from_numpy(expected).float())


def test_transform_boxes_keeps_the_batch_shape():
    """[B, 1, 4] (a single box per prompt set) stays [B, 1, 4]; corners move as points do."""
    boxes = torch.from_numpy(random_boxes((1500, 2250), 3)).unsqueeze(1)
    moved = transform_boxes(boxes, (1500, 2250))
    assert moved.shape == (3, 1, 4)
    corners = transform_coords(boxes.reshape(3, 2, 2), (1500, 2250))
    torch.testing.assert_close(moved, corners.reshape(3, 1, 4), rtol=0, atol=0)


def test_transform_coords_takes_integer_pixels():
    as_float = transform_coords(torch.tensor([[1300.0, 800.0]]), (1500, 2250))
    as_int = transform_coords(torch.tensor([[1300, 800]]), (1500, 2250))
    torch.testing.assert_close(as_int, as_float, rtol=0, atol=0)


def test_transform_coords_leaves_its_input_alone():
    coords = torch.tensor([[1300.0, 800.0]], dtype=torch.float64)
    transform_coords(coords, (1500, 2250))
    assert coords.tolist() == [[1300.0, 800.0]]


@pytest.mark.parametrize(
    "original_size", [(1500, 2250), (2250, 1500), (800, 800), (100, 60)], ids=size_id
)
def test_postprocess_masks(official, original_size):
    low_res_masks = torch.randn((2, 3, 256, 256), generator=torch.Generator().manual_seed(0))
    input_size = resized_shape(original_size)
    sam_like = types.SimpleNamespace(image_encoder=types.SimpleNamespace(img_size=1024))
    expected = official.Sam.postprocess_masks(sam_like, low_res_masks, input_size, original_size)

    actual = postprocess_masks(low_res_masks, input_size, original_size)
    assert actual.shape == (2, 3, *original_size)
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)
