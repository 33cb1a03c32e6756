"""Every command, run as its own process, through one corpus of odd inputs, outputs and option values.

Each case asserts what a user may rely on: exit status 0 with a readable result of the right size,
or exit status 1 or 2 with exactly one line on stderr, never a traceback, never a hang, and
nothing new left behind (no output, not even a temporary file) after a failure.

Commands run through a fork server (forkserver.py): real processes, minus two seconds of
``import torch`` each; :func:`test_fork_server_matches_a_fresh_process` checks that a fresh
interpreter gives the same exit status and output. Paths everywhere contain spaces and non-ASCII
letters. Cases that train or optimize are marked ``slow``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import write_images

from .corpus import Entry, build_corpus
from .forkserver import ForkServer, Result

pytestmark = pytest.mark.slow  # subprocesses

CORPUS = build_corpus()
ENTRIES = {e.id: e for e in CORPUS}
GOOD = ENTRIES["size-5x4"]  # the legal input that output and option cases use
PHOTO_SIZE = (24, 20)
UNWRITABLE = Path("/proc/instyle-fuzz ✓")  # no one, not even root, can create anything there
TINY = ["--size", "16"]
TRAIN_TINY = ["--steps", "1", "--batch-size", "1", "--image-size", "16", "--crop", "16", "-q", "--sample-every", "0"]
# Option values nobody should type but somebody will. Numbers at the edges of float parsing, an
# empty string, and a name with spaces and non-ASCII letters.
ODD_VALUES = ("nan", "inf", "-0", "1e308", "-1", "9" * 30, "", " ün ✓ ")


# --------------------------------------------------------------------------- fixtures


@dataclass
class Resources:
    photo: Path
    style: Path
    content_dir: Path
    style_dir: Path
    johnson: Path
    texture: Path


@pytest.fixture(scope="session")
def server():
    srv = ForkServer()
    yield srv
    srv.close()


@pytest.fixture(scope="session")
def res(tmp_path_factory) -> Resources:
    import torch

    from instyle.checkpoint import save_model
    from instyle.models import JohnsonConfig, JohnsonNet, TextureNet, TextureNetConfig

    root = tmp_path_factory.mktemp("fuzz resources ✓")
    photo, style = (
        write_images(root / "photo", 1, size=PHOTO_SIZE)[0],
        write_images(root / "style", 1, size=(20, 24), seed=1)[0],
    )
    torch.manual_seed(0)
    johnson = save_model(root / "johnson net.safetensors", JohnsonNet(JohnsonConfig(width=0.125, residual_blocks=1)))
    texture = save_model(root / "texture net.safetensors", TextureNet(TextureNetConfig(scales=3, channels=2)))
    return Resources(
        photo=photo,
        style=style,
        content_dir=write_images(root / "contents", 2, size=(24, 20))[0].parent,
        style_dir=write_images(root / "styles", 2, size=(20, 24), seed=2)[0].parent,
        johnson=Path(johnson),
        texture=Path(texture),
    )


# --------------------------------------------------------------------------- commands


@dataclass
class Ctx:
    """Paths of one case: ``inp`` is how the command is given the entry (a path, a folder or -)."""

    work: Path
    inp: str
    out: Path
    res: Resources


def _target(size: tuple[int, int], longer: int) -> tuple[int, int]:
    w, h = size
    return (longer, max(1, round(h * longer / w))) if w >= h else (max(1, round(w * longer / h)), longer)


@dataclass(frozen=True)
class Variant:
    """A command as the suite runs it.

    ``argv(ctx)``: the arguments; ``given``: how the entry reaches the command (``arg``: its path,
    ``folder``: a folder holding it, ``stdin``: piped in); ``output``: what success leaves at
    ``ctx.out`` (``image``, ``folder`` of one image, ``stdout-json``, ``preset``, ``run``);
    ``size(entry size)``: the expected image size, or None for any; ``out_option``: the option naming
    the output; ``reads_entry_as``: which image of the command the entry is (for messages).
    """

    id: str
    argv: Callable[[Ctx], list[str]]
    output: str
    given: str = "arg"
    size: Callable[[tuple[int, int]], tuple[int, int]] | None = None
    out_option: str | None = "-o"
    slow: bool = False
    env: Callable[[Ctx], dict[str, str]] = lambda ctx: {}
    # whether the command must accept the entry (True), refuse it (False) or may do either (None)
    accepts: Callable[[Entry], bool | None] = lambda entry: entry.readable


def _same(size):
    return size


VARIANTS = [
    Variant("stylize-fast", lambda c: ["stylize", c.inp, "--style", "candy", "-o", c.out], "image", size=_same),
    Variant(
        "stylize-fast-blend",
        lambda c: [
            "stylize",
            c.inp,
            "--style",
            "candy:0.3",
            "--style",
            "wave:0.7",
            "--color",
            "luminance",
            "-o",
            c.out,
        ],
        "image",
        size=_same,
    ),
    Variant(
        "stylize-adain-preset",
        lambda c: ["stylize", c.inp, "--style", "wave", "--method", "adain", "--alpha", "0.8", "-o", c.out],
        "image",
        size=_same,
    ),
    Variant(
        "stylize-adain-style-image",
        lambda c: ["stylize", c.res.photo, "--style", c.inp, "--color", "match", "-o", c.out],
        "image",
        size=lambda s: PHOTO_SIZE,
    ),
    Variant(
        "stylize-model-johnson",
        lambda c: ["stylize", c.inp, "--model", c.res.johnson, "-o", c.out],
        "image",
        size=_same,
    ),
    Variant(
        "stylize-model-texture",
        lambda c: ["stylize", c.inp, "--model", c.res.texture, "-o", c.out],
        "image",
        size=_same,
    ),
    Variant(
        "stylize-folder",
        lambda c: ["stylize", c.inp, "--style", "candy", "-o", c.out],
        "folder",
        given="folder",
        size=_same,
    ),
    Variant(
        "stylize-onnxruntime",
        lambda c: [
            "stylize",
            c.inp,
            "--style",
            "candy:0.3",
            "--style",
            "wave",
            "--backend",
            "onnxruntime",
            "-o",
            c.out,
        ],
        "image",
        size=_same,
    ),
    Variant("export-given-an-image", lambda c: ["export", c.inp, "-o", c.out], "onnx", accepts=lambda e: False),
    # a still image is not a video; an animation may be one (FFmpeg decodes GIF and APNG, not animated WebP)
    Variant(
        "video-given-an-image",
        lambda c: ["video", c.inp, "--style", "candy", "-o", c.out],
        "video",
        accepts=lambda e: None if e.readable and e.frames > 1 else False,
    ),
    Variant(
        "video-frames-folder", lambda c: ["video", c.inp, "--style", "candy", "-o", c.out], "video", given="folder"
    ),
    Variant(
        "stylize-stdin", lambda c: ["stylize", "-", "--style", "candy", "-o", c.out], "image", given="stdin", size=_same
    ),
    Variant("sheet", lambda c: ["sheet", c.inp, "-o", c.out, "--styles", "candy,wave", *TINY], "image"),
    Variant(
        "optimize",
        lambda c: ["optimize", c.inp, c.res.style, "-o", c.out, "--steps", "2", *TINY],
        "image",
        size=lambda s: _target(s, 16),
        slow=True,
    ),
    Variant(
        "optimize-style-image",
        lambda c: ["optimize", c.res.photo, c.inp, "-o", c.out, "--steps", "2", *TINY],
        "image",
        size=lambda s: _target(PHOTO_SIZE, 16),
        slow=True,
    ),
    Variant(
        "evaluate",
        lambda c: ["evaluate", c.inp, "--content", c.res.photo, "--style", c.res.style, *TINY, "--json", "-o", c.out],
        "json",
    ),
    Variant(
        "styles-save",
        lambda c: ["styles", "save", "fuzz", c.inp, "--style-size", "16"],
        "preset",
        out_option=None,
        env=lambda c: {"INSTYLE_HOME": str(c.out)},
    ),
    Variant(
        "train-adain",
        lambda c: ["train", "adain", "--content", c.inp, "--style", c.res.style_dir, "--out", c.out, *TRAIN_TINY],
        "run",
        given="folder",
        out_option="--out",
        slow=True,
    ),
    Variant(
        "train-fast-style-image",
        lambda c: [
            "train",
            "fast",
            "--style",
            c.inp,
            "--content",
            c.res.content_dir,
            "--out",
            c.out,
            "--style-size",
            "16",
            "--width",
            "0.125",
            *TRAIN_TINY,
        ],
        "run",
        out_option="--out",
        slow=True,
    ),
    Variant(
        "train-distill",
        lambda c: [
            "train",
            "distill",
            "--teacher",
            c.res.johnson,
            "--content",
            c.inp,
            "--out",
            c.out,
            "--width",
            "0.125",
            *TRAIN_TINY,
        ],
        "run",
        given="folder",
        out_option="--out",
        slow=True,
    ),
]
# the base of the export command's option cases (not a corpus variant: it reads no image)
EXPORT_BUILTIN = Variant("export-builtin", lambda c: ["export", "-o", c.out], "onnx", slow=True)
VARIANT = {v.id: v for v in [*VARIANTS, EXPORT_BUILTIN]}


def _output_path(v: Variant, work: Path) -> Path:
    base = work / "out put ✓"
    return {
        "image": base / "styled ✓.png",
        "folder": base,
        "json": base / "scores ✓.json",
        "preset": base / "home",
        "run": base / "run",
        "onnx": base / "net ✓.onnx",
        "video": base / "clip ✓.mp4",
    }[v.output]


# --------------------------------------------------------------------------- running and checking


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every entry under ``root`` (not following links): relative path -> (mode, size)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_mode, st.st_size if not p.is_dir() else 0)
    return out


def _prepare(v: Variant, entry: Entry, work: Path, res: Resources) -> tuple[Ctx, Path | None]:
    inputs = work / "in put ✓"
    stdin = None
    if v.given == "folder":
        folder = inputs / "images ✓"
        folder.mkdir(parents=True)
        entry.make(folder)
        inp = str(folder)
    elif v.given == "stdin":
        stdin = entry.make(inputs)
        inp = "-"
    else:
        inp = str(entry.make(inputs))
    return Ctx(work=work, inp=inp, out=_output_path(v, work), res=res), stdin


def _run(server: ForkServer, v: Variant, ctx: Ctx, argv: list[str], stdin: Path | None) -> Result:
    env = {"INSTYLE_HOME": str(ctx.work / "home"), **v.env(ctx)}
    return server.run(argv, cwd=ctx.work, env=env, stdin=stdin, timeout=60)


def _check_refusal(r: Result, before: dict, ctx: Ctx, what: str) -> None:
    assert r.rc in (1, 2), f"{what}: exit status {r.rc}, stderr: {r.stderr!r}"
    lines = r.stderr.rstrip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("instyle: "), f"{what}: stderr is not one line: {r.stderr!r}"
    after = _snapshot(ctx.work)
    new = sorted(set(after) - set(before))
    assert not new, f"{what}: left behind after the failure: {new}"


def _check_image(path: Path, size: tuple[int, int] | None, what: str) -> None:
    assert path.is_file(), f"{what}: no output at {path}"
    with Image.open(path) as im:
        im.load()
        if size is not None:
            assert im.size == size, f"{what}: output is {im.size}, expected {size}"


def _check_success(
    v: Variant, ctx: Ctx, r: Result, in_size: tuple[int, int], what: str, out: Path | None = None
) -> None:
    out = out or ctx.out
    want = v.size(in_size) if v.size else None
    if v.output == "image":
        _check_image(out, want, what)
    elif v.output == "folder":
        files = [p for p in out.iterdir()]
        assert len(files) == 1, f"{what}: expected one output in {out}, found {files}"
        _check_image(files[0], want, what)
    elif v.output == "json":
        report = json.loads(r.stdout)
        assert json.loads(out.read_text()) == report, f"{what}: the JSON file and stdout differ"
        for row in report["rows"]:
            for metric in report["metrics"]:
                assert math.isfinite(row[metric]), f"{what}: {metric} = {row[metric]}"
    elif v.output == "preset":
        preset = out / "styles" / "fuzz.safetensors"  # INSTYLE_HOME=out: presets.user_dir()
        assert preset.is_file(), f"{what}: no preset at {preset}"
    elif v.output == "run":
        from instyle import load_model

        model, _ = load_model(out / "model.safetensors")
        assert all(bool(p.isfinite().all()) for p in model.parameters()), f"{what}: non-finite weights"
    elif v.output == "onnx":
        from instyle.onnx_runtime import OnnxFastStylizer

        assert OnnxFastStylizer(out).styles is not None, f"{what}: the ONNX file does not load"
    elif v.output == "video":
        from instyle.video.io import frame_times

        assert frame_times(out), f"{what}: the video has no frames"
    else:  # pragma: no cover
        raise AssertionError(v.output)


def _params():
    out = []
    for v in VARIANTS:
        marks = [pytest.mark.slow] if v.slow else []
        out += [
            pytest.param(v.id, e.id, id=f"{v.id}:{e.id}", marks=marks)
            for e in CORPUS
            if v.given != "stdin" or e.bytes_only
        ]
    return out


# --------------------------------------------------------------------------- the corpus


@pytest.mark.parametrize("variant_id, entry_id", _params())
def test_corpus(server, res, tmp_path, variant_id, entry_id):
    v, entry = VARIANT[variant_id], ENTRIES[entry_id]
    ctx, stdin = _prepare(v, entry, tmp_path / "wörk dir ✓", res)
    before = _snapshot(ctx.work)
    r = _run(server, v, ctx, [str(a) for a in v.argv(ctx)], stdin)
    what = f"{variant_id} on {entry_id}"
    assert not r.timed_out, f"{what}: hung"
    assert "Traceback" not in r.stderr, f"{what}: {r.stderr}"
    accepts = v.accepts(entry)
    if accepts or (accepts is None and r.rc == 0):
        assert r.rc == 0, f"{what}: refused a legal image: {r.stderr!r}"
        _check_success(v, ctx, r, entry.size, what)
        if entry.frames > 1 and v.output != "video":
            assert "first frame" in r.stderr, f"{what}: used one frame of {entry.frames} without saying so"
    else:
        _check_refusal(r, before, ctx, what)


# --------------------------------------------------------------------------- outputs


def _occupy(v: Variant, ctx: Ctx) -> Path:
    """Put a user's file where ``v`` would write; returns it."""
    if v.output == "folder":
        target = ctx.out / "size 5x4.png"
    elif v.output == "preset":
        target = ctx.out / "styles" / "fuzz.safetensors"
    elif v.output == "run":
        target = ctx.out / "checkpoint.pt"
    else:
        target = ctx.out
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"the user's own file")
    return target


def _redirect(v: Variant, ctx: Ctx, argv: list[str], new: Path) -> tuple[list[str], dict[str, str]]:
    """argv (and env) with the output moved to ``new``."""
    if v.output == "preset":
        return argv, {"INSTYLE_HOME": str(new)}
    i = argv.index(v.out_option)
    return argv[: i + 1] + [str(new)] + argv[i + 2 :], {}


OUTPUT_CASES = ("exists", "unwritable-folder", "parent-is-a-file", "read-only-folder")


@pytest.mark.parametrize("case", OUTPUT_CASES)
@pytest.mark.parametrize(
    "variant_id", [pytest.param(v.id, marks=[pytest.mark.slow] if v.slow else []) for v in [*VARIANTS, EXPORT_BUILTIN]]
)
def test_output(server, res, tmp_path, variant_id, case):
    v = VARIANT[variant_id]
    ctx, stdin = _prepare(v, GOOD, tmp_path / "wörk dir ✓", res)
    argv, env = [str(a) for a in v.argv(ctx)], {}
    what = f"{variant_id} with {case} output"
    if case == "exists":
        kept = _occupy(v, ctx)
    elif case == "unwritable-folder":
        argv, env = _redirect(v, ctx, argv, UNWRITABLE / ctx.out.name)
    elif case == "parent-is-a-file":
        blocker = ctx.work / "a file ✓.txt"
        blocker.write_text("not a folder")
        argv, env = _redirect(v, ctx, argv, blocker / ctx.out.name)
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders; the /proc case covers unwritable folders")
        folder = ctx.work / "read only ✓"
        folder.mkdir()
        argv, env = _redirect(v, ctx, argv, folder / ctx.out.name)
        folder.chmod(0o555)
    before = _snapshot(ctx.work)
    try:
        r = server.run(
            argv,
            cwd=ctx.work,
            env={"INSTYLE_HOME": str(ctx.work / "home"), **v.env(ctx), **env},
            stdin=stdin,
            timeout=60,
        )
    finally:
        if case == "read-only-folder":
            (ctx.work / "read only ✓").chmod(0o755)
    assert not r.timed_out and "Traceback" not in r.stderr, f"{what}: {r.stderr}"
    _check_refusal(r, before, ctx, what)
    if case == "exists":
        assert kept.read_bytes() == b"the user's own file", f"{what}: the user's file was changed"


# --------------------------------------------------------------------------- option values


def _subparser(parser, path: tuple[str, ...]):
    import argparse

    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


def _options(path: tuple[str, ...]) -> list[str]:
    """The long name of every option of ``instyle *path`` that takes a value."""
    from instyle.cli.main import build_parser

    out = []
    for a in _subparser(build_parser(), path)._actions:
        if a.option_strings and a.nargs != 0 and not any(s in ("-h", "--help") for s in a.option_strings):
            out.append(max(a.option_strings, key=len))
    return out


# command -> (its parser path, the variant whose argv is the base)
OPTION_BASES = {
    "stylize": (("stylize",), "stylize-fast"),
    "stylize-adain": (("stylize",), "stylize-adain-preset"),
    "sheet": (("sheet",), "sheet"),
    "optimize": (("optimize",), "optimize"),
    "evaluate": (("evaluate",), "evaluate"),
    "styles-save": (("styles", "save"), "styles-save"),
    "train-adain": (("train", "adain"), "train-adain"),
    "train-fast": (("train", "fast"), "train-fast-style-image"),
    "train-distill": (("train", "distill"), "train-distill"),
    "demo": (("demo",), None),
    "export": (("export",), "export-builtin"),
    "stylize-onnxruntime": (("stylize",), "stylize-onnxruntime"),
    "video": (("video",), "video-frames-folder"),
}


def _with_option(argv: list[str], opt: str, value: str, aliases: list[str]) -> list[str]:
    """``argv`` with every occurrence of ``opt`` (or an alias) replaced by one ``opt value``."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] in aliases:
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out + [opt, value]


def _option_params():
    params = []
    for command, (path, base) in OPTION_BASES.items():
        slow = base is not None and VARIANT[base].slow
        for opt in _options(path):
            for value in ODD_VALUES:
                marks = [pytest.mark.slow] if slow or command == "demo" else []
                params.append(pytest.param(command, opt, value, id=f"{command}:{opt}={value!r}", marks=marks))
    return params


@pytest.mark.parametrize("command, opt, value", _option_params())
def test_option_value(server, res, tmp_path, command, opt, value):
    from instyle.cli.main import build_parser

    path, base = OPTION_BASES[command]
    work = tmp_path / "wörk dir ✓"
    action = next(a for a in _subparser(build_parser(), path)._actions if opt in a.option_strings)
    if base is None:  # demo: no input
        v = Variant("demo", lambda c: ["demo", "-o", c.out], "image")
        work.mkdir(parents=True)
        ctx, stdin = Ctx(work=work, inp="", out=work / "out put ✓" / "demo ✓.png", res=res), None
    else:
        v = VARIANT[base]
        ctx, stdin = _prepare(v, GOOD, work, res)
    argv = _with_option([str(a) for a in v.argv(ctx)], opt, value, list(action.option_strings))
    before = _snapshot(ctx.work)
    r = _run(server, v, ctx, argv, stdin)
    what = f"{command} {opt} {value!r}"
    assert not r.timed_out, f"{what}: hung"
    assert "Traceback" not in r.stderr, f"{what}: {r.stderr}"
    if r.rc != 0:
        _check_refusal(r, before, ctx, what)
        return
    out = None
    if opt in (v.out_option, "--output"):
        out = ctx.work / value
    if v.output == "image" and out is None and base is None:
        _check_image(ctx.out, None, what)
        return
    _check_success(v, ctx, r, GOOD.size, what, out=out)


# --------------------------------------------------------------------------- the fork server itself


@pytest.mark.slow
@pytest.mark.parametrize(
    "variant_id, entry_id",
    [
        ("stylize-fast", "size-1x1"),
        ("stylize-fast", "truncated-png"),
        ("stylize-adain-preset", "anim-gif"),
        ("evaluate", "fifo"),
    ],
)
def test_fork_server_matches_a_fresh_process(server, res, tmp_path, variant_id, entry_id):
    """A fresh interpreter gives the same exit status, stdout and stderr as a forked child."""
    v, entry = VARIANT[variant_id], ENTRIES[entry_id]
    results = []
    for how in ("fork", "fresh"):
        ctx, stdin = _prepare(v, entry, tmp_path / how / "wörk dir ✓", res)
        argv = [str(a) for a in v.argv(ctx)]
        if how == "fork":
            r = _run(server, v, ctx, argv, stdin)
            results.append((r.rc, r.stdout, r.stderr))
        else:
            env = dict(os.environ, INSTYLE_HOME=str(ctx.work / "home"), **v.env(ctx))
            with open(stdin or os.devnull, "rb") as f:
                p = subprocess.run(
                    [sys.executable, "-m", "instyle", *argv],
                    cwd=ctx.work,
                    env=env,
                    stdin=f,
                    capture_output=True,
                    timeout=60,
                )
            results.append((p.returncode, p.stdout.decode(), p.stderr.decode()))
    norm = [
        (rc, out.replace(str(tmp_path / how), "<tmp>"), err.replace(str(tmp_path / how), "<tmp>"))
        for (rc, out, err), how in zip(results, ("fork", "fresh"))
    ]
    assert norm[0][0] == norm[1][0]
    assert norm[0][2] == norm[1][2]
    # stdout may hold timings: compare its shape
    assert [ln.split(" (")[0] for ln in norm[0][1].splitlines()] == [
        ln.split(" (")[0] for ln in norm[1][1].splitlines()
    ]


def test_corpus_is_complete():
    """The corpus holds every class docs/cli.md's "Input and output rules" promise."""
    ids = set(ENTRIES)
    modes = {"1", "L", "LA", "P", "PA", "I", "I16", "F", "RGB", "RGBA", "CMYK", "YCbCr"}
    assert {f"mode-{m}" for m in modes} <= ids
    assert {f"exif-{o}" for o in range(1, 9)} <= ids
    assert {
        "anim-gif",
        "anim-webp",
        "bomb-png",
        "bomb-jpeg",
        "bomb-webp",
        "bomb-tiff",
        "empty",
        "truncated-png",
        "png-named-jpg",
        "text-named-jpg",
        "dir-named-png",
        "symlink-loop",
        "fifo",
        "size-1x1",
        "size-1x1000",
        "size-1000x1",
    } <= ids
    assert np.prod(ENTRIES["size-1x1000"].size) == 1000
