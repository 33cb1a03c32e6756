import torch

from instyle.sheet import contact_sheet, stack_tensors


def _img(h, w, value):
    return torch.full((1, 3, h, w), value)


def test_contact_sheet_layout_and_cells():
    grid = [[_img(20, 40, 0.0), _img(40, 20, 1.0)], [None, _img(30, 30, 0.5)]]
    sheet = contact_sheet(grid, row_labels=["a", "b"], col_labels=["x", "y"], cell=50, pad=4)
    # width = label column 120 + 2 cells of (50 + 4) + 4; height = header 22 + 2 * 54 + 4
    assert sheet.size == (120 + 2 * 54 + 4, 22 + 2 * 54 + 4)
    px = sheet.load()
    # centre of the first cell is black (value 0), the second white-ish content (1.0), the
    # blank cell stays white, the mid-grey cell is 128.
    assert px[120 + 4 + 25, 22 + 4 + 25] == (0, 0, 0)
    assert px[120 + 4 + 54 + 25, 22 + 4 + 54 + 25] == (128, 128, 128)
    assert px[120 + 4 + 25, 22 + 4 + 54 + 25] == (255, 255, 255)


def test_contact_sheet_header_row_adds_a_row():
    grid = [[_img(8, 8, 0.2)]]
    plain = contact_sheet(grid, cell=16)
    with_header = contact_sheet(grid, header=[_img(8, 8, 0.9)], cell=16)
    assert with_header.size[1] == plain.size[1] + 16 + 4


def test_stack_tensors_matches_heights():
    out = stack_tensors([_img(10, 20, 0.0), _img(20, 20, 1.0)])
    assert out.shape == (1, 3, 10, 30)
