"""The generated world: seeded, any size, three levels of parts, the running example's dog."""

import numpy as np
import pytest

from samdec.world import example_scene, generate_scene


def test_a_seed_is_the_same_scene_everywhere():
    first, second = (generate_scene(7).render(0.25) for _ in range(2))
    np.testing.assert_array_equal(first.image, second.image)
    np.testing.assert_array_equal(first.subpart_id, second.subpart_id)
    assert not np.array_equal(first.image, generate_scene(8).render(0.25).image)


@pytest.mark.parametrize("size", [(300, 700), (512, 512), (900, 200)])
def test_renders_at_any_size_and_scale(size):
    scene = generate_scene(3, size=size)
    for scale in (0.5, 1.0):
        rendered = scene.render(scale)
        expected = tuple(round(side * scale) for side in size)
        assert rendered.image.shape == (*expected, 3) and rendered.image.dtype == np.uint8
        assert rendered.object_id.shape == expected


def test_levels_nest_and_objects_do_not_overlap():
    rendered = generate_scene(11).render(0.5)
    objects = [o for o in np.unique(rendered.object_id) if o >= 0]
    assert len(objects) >= 2
    masks = np.stack([rendered.mask(o) for o in objects])
    assert masks.sum(axis=0).max() == 1  # occlusion: a pixel shows one object
    ys, xs = np.nonzero(rendered.subpart_id >= 0)
    assert len(xs) > 0
    whole, part, subpart = rendered.hierarchy_at(xs[0], ys[0])
    assert subpart.sum() < part.sum() < whole.sum()
    assert not (subpart & ~part).any() and not (part & ~whole).any()


def test_the_running_example():
    """2250 x 1500, a dog whose box is (700, 400, 1900, 1100), the point (1300, 800) on its body:
    the point is ambiguous between the body (a part) and the dog (the whole)."""
    rendered = example_scene().render()
    assert rendered.image.shape == (1500, 2250, 3)
    dog, body = rendered.hierarchy_at(1300, 800)
    ys, xs = np.nonzero(dog)
    box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    np.testing.assert_allclose(box, [700, 400, 1900, 1100], atol=1)  # the tips are a pixel wide
    assert body.sum() < dog.sum()
    ear_tip = rendered.hierarchy_at(1680, 480)
    assert len(ear_tip) == 3  # whole, head, ear


def test_the_novel_look_differs_and_styles_are_checked():
    assert not np.array_equal(
        generate_scene(5).render(0.25).image, generate_scene(5, style="novel").render(0.25).image
    )
    with pytest.raises(ValueError, match="style"):
        generate_scene(5, style="cartoon")
