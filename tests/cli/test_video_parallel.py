"""``instyle video`` with the shipped network for video: ``--backend auto`` paints two frames at once
on onnxruntime (``--stabilize none``, ``flow``; and ``stats`` with the copy that shares statistics,
averaged through frame t − 2 as torch's side-by-side frames do); the frames come out in order and as
torch makes them."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("av")
pytest.importorskip("onnxruntime")
from PIL import Image

from video.clips import frame_pattern, write_frames

from ._helpers import run_cli

pytestmark = pytest.mark.slow  # the shipped network on every frame, twice


@pytest.mark.parametrize("mode", ["none", "flow", "stats"])
def test_frames_run_two_at_once_in_order(tmp_path, capsys, mode):
    def frame(i, w, h):  # a moving pattern, then a hard cut to another scene
        return frame_pattern(i, w, h) if i < 6 else 255 - frame_pattern(3 * i, w, h)

    src = write_frames(tmp_path / "frames", 9, (48, 40), frame=frame)
    outs, cuts = {}, {}
    for backend in ("auto", "torch"):
        out = tmp_path / backend
        argv = ["video", src, "--style", "candy", "--stabilize", mode, "--backend", backend]
        code, stdout, err = run_cli([*argv, "-o", str(out) + "/", "--json", "-q"], capsys)
        assert code == 0, err
        res = json.loads(stdout)
        assert res["frames"] == 9
        cuts[backend] = res["scene_cuts"]
        assert res["backend"] == ("onnxruntime" if backend == "auto" else "torch")
        outs[backend] = [np.asarray(Image.open(p), np.float32) for p in sorted(out.iterdir())]
    assert cuts["auto"] == cuts["torch"] == 1  # noted in stream order on both paths
    a, b = outs["auto"], outs["torch"]
    for i in range(9):  # each frame matches its own torch frame (rounding apart), not its neighbours
        assert np.abs(a[i] - b[i]).max() <= 2, i
        for j in (i - 1, i + 1):
            if 0 <= j < 9:
                assert np.abs(a[i] - b[j]).mean() > 1, (i, j)
