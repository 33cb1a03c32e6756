import torch

from instyle.resize import resize_longer, resize_to


def test_resize_to_changes_size_and_keeps_constant_images():
    flat = torch.full((1, 3, 10, 20), 0.25)
    out = resize_to(flat, (5, 7))
    assert out.shape == (1, 3, 5, 7)
    torch.testing.assert_close(out, torch.full((1, 3, 5, 7), 0.25))


def test_resize_to_same_size_is_a_no_op():
    x = torch.rand(1, 3, 8, 9)
    assert resize_to(x, (8, 9)) is x


def test_resize_longer_keeps_aspect_and_at_least_one_pixel():
    assert resize_longer(torch.rand(1, 3, 40, 80), 20).shape == (1, 3, 10, 20)
    assert resize_longer(torch.rand(1, 3, 1, 100), 10).shape == (1, 3, 1, 10)
