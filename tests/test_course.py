"""The notebooks' shared setup: the helpers do what the notebooks say they do."""

import numpy as np
import pytest
import torch

from samdec import course
from samdec.example import example_modules


def test_token_names_follow_the_prompt_encoders_layout():
    assert course.token_names([1], box=True) == list(course.TOKEN_NAMES)
    assert course.token_names([1, 0], box=False)[5:] == [
        "point",
        "background point",
        "padding point",
    ]
    assert len(course.TOKEN_NAMES) == 8


def test_linear_and_heads_match_torch():
    torch.manual_seed(0)
    layer = torch.nn.Linear(256, 128)
    x = torch.randn(1, 8, 256)
    torch.testing.assert_close(course.linear(x, layer), layer(x))
    heads = course.split_heads(layer(x), 8)
    assert heads.shape == (1, 8, 8, 16)
    assert torch.equal(course.merge_heads(heads), layer(x))


def test_attention_by_hand_matches_samdecs():
    _, decoder = example_modules(seed=0)
    attn = decoder.transformer.layers[0].cross_attn_token_to_image
    generator = torch.Generator().manual_seed(0)
    q, k = torch.randn(1, 8, 256, generator=generator), torch.randn(1, 64, 256, generator=generator)
    with torch.no_grad():
        out, weights = course.attention(attn, q, k, k)
        torch.testing.assert_close(out, attn(q=q, k=k, v=k))
        torch.testing.assert_close(weights, attn.attention_weights(q, k))


def test_show_refusal_prints_the_message_without_frames(capsys):
    _, decoder = example_modules(seed=0)
    attn = decoder.transformer.layers[0].self_attn
    q, kv = torch.zeros(1, 8, 128), torch.zeros(1, 8, 256)  # q 128 wide: already projected
    assert course.show_refusal(lambda: attn(q=q, k=kv, v=kv)) is None
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("TypeCheckError: Type-check error")
    assert "parameter 'q'" in printed[1]
    assert len(printed) <= 4 and not any("Traceback" in line for line in printed)


def test_show_refusal_of_an_accepted_call_is_an_error():
    with pytest.raises(AssertionError, match="accepted"):
        course.show_refusal(lambda: None)


def test_prompts_are_drawn_at_pixel_centres():
    # pixel 0 of the photo is imshow's 0; on a grid of 16-pixel cells, pixel 7 (centre 7.5) is
    # halfway across cell 0, whose centre imshow puts at 0
    np.testing.assert_allclose(course.to_grid([0, 10]), [0, 10])
    np.testing.assert_allclose(course.to_grid([7, 23], cell=16), [-0.03125, 0.96875])


def test_frame_mask_puts_the_photo_on_the_padded_grid():
    mask = np.zeros((1500, 2250), dtype=bool)
    mask[:750, :1125] = True  # the top-left quarter of the photo
    cells = course.frame_mask(mask, 64)
    assert cells.shape == (64, 64)
    # the photo fills the top 683 of 1024 rows: its top half is ~21 of the 64 rows
    assert cells[:21, :32].all() and not cells[22:].any() and not cells[:, 33:].any()
