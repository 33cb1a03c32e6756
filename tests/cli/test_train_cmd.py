"""``instyle train adain``: a tiny run end to end, and one clear error line for bad input."""

from __future__ import annotations

import json

import pytest
import torch

from helpers import TINY_TRAIN, train_adain_argv, write_images
from instyle.checkpoint import load_model

from ._helpers import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]  # slow: training runs


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("train_cli")
    write_images(root / "content", 2, seed=1)  # few images: the end-of-run sample grid is 2x1
    write_images(root / "style", 1, seed=2)
    return root


def _argv(folders, out, *extra, content=None):
    return train_adain_argv(content or folders / "content", folders / "style", out, *extra)


def _one_error_line(err):
    assert err.startswith("instyle: error:"), err
    assert err.count("\n") == 1 and "Traceback" not in err, err


def test_train_end_to_end(folders, tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, err = run_cli(_argv(folders, out, "--steps", "2", "--json"), capsys)
    assert code == 0, err
    res = json.loads(stdout)
    assert res["step"] == 2 and res["run_dir"] == str(out) and res["stopped_early"] is False
    assert res["model"] == str(out / "model.safetensors")
    assert set(res["losses"]) == {"loss", "content", "style", "tv", "color"} and res["losses"]["loss"] > 0
    model, _ = load_model(res["model"], expect="adain_decoder")
    assert model.config.width == 0.25
    assert (out / "samples" / "step_00000002.jpg").exists() and (out / "loss.png").exists()

    # continue to step 3 (a human summary on stderr this time)
    code, stdout, err = run_cli(_argv(folders, out, "--steps", "3", "--resume"), capsys)
    assert code == 0, err
    assert stdout == "" and "resuming" in err and "step 3/3" in err and "model.safetensors" in err
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 3

    # the folder now holds a run: a new one needs --overwrite
    code, _, err = run_cli(_argv(folders, out, "--steps", "1"), capsys)
    assert code == 1
    _one_error_line(err)
    assert "already holds a training run" in err and "--resume" in err and "--overwrite" in err
    code, _, err = run_cli(_argv(folders, out, "--steps", "1", "--resume", "--overwrite"), capsys)
    assert code == 2 and "cannot be used together" in err
    # a changed setting on resume
    code, _, err = run_cli(_argv(folders, out, "--steps", "4", "--resume", "--style-weight", "3"), capsys)
    assert code == 1 and "cannot resume" in err and "style_weight" in err
    _one_error_line(err)


@pytest.mark.parametrize(
    "extra, code, message",
    [
        (["--steps", "-1"], 2, "--steps"),
        (["--steps", "0"], 2, "--steps"),
        (["--steps", "2.5"], 2, "--steps"),
        (["--batch-size", "0"], 2, "--batch-size"),
        (["--lr", "nan"], 2, "--lr"),
        (["--crop", "64"], 2, "crop"),  # bigger than --image-size 48
        (["--crop", "8", "--image-size", "8"], 2, "crop"),
        (["--device", "tpu9"], 2, "unknown device"),
        (["--precision", "fp16"], 2, "fp16 training needs a CUDA GPU"),
        (["--schedule", "step"], 2, "--schedule"),
        (["--style-layers", "relu5_1"], 2, "style layers"),
        (["--style-layers", ""], 2, "--style-layers: expected a value, got an empty string"),
        (["--width", "5"], 2, "width"),
        (["--max-minutes", "0"], 2, "--max-minutes"),
        (["--resume"], 1, "nothing to resume"),
        (["--distill-weight", "1"], 2, "--distill-weight trains the light network: add --arch light"),
        (["--recon-weight", "2"], 2, "--recon-weight trains the light network"),
        (["--arch", "light", "--distill-weight", "-1"], 2, "--distill-weight"),
        (["--arch", "light", "--width", "1.5"], 2, "width"),
        (["--arch", "tiny"], 2, "--arch"),
        (["--upsample", "bilinear"], 2, "--upsample trains the light network: add --arch light"),
        (["--upsample", "nearest"], 2, "--upsample trains the light network: add --arch light"),
        (["--arch", "light", "--upsample", "sideways"], 2, "--upsample"),
        (["--balance", "bogus"], 2, "--balance"),
        (["--color-weight", "-1"], 2, "--color-weight"),
    ],
)
def test_bad_values(folders, tmp_path, capsys, extra, code, message):
    if "--precision" in extra and torch.cuda.is_available():
        pytest.skip("fp16 is allowed where CUDA is")
    out = tmp_path / "run"
    got, _stdout, err = run_cli(_argv(folders, out, "--steps", "1", *extra), capsys)
    assert got == code, err
    _one_error_line(err)
    assert message in err
    assert not out.exists()


def test_train_energy_balance_with_colour_term(folders, tmp_path, capsys):
    out = tmp_path / "energy"
    extra = ["--steps", "1", "--json", "--balance", "energy", "--color-weight", "0.5"]
    code, stdout, err = run_cli(_argv(folders, out, *extra), capsys)
    assert code == 0, err
    losses = json.loads(stdout)["losses"]
    assert losses["color"] > 0 and 0 < losses["style"] < 10  # balanced: scale-free, not Caffe-scale
    task_config = json.loads((out / "config.json").read_text())["task_config"]
    assert task_config["balance"] == "energy" and task_config["color_weight"] == 0.5
    # the balance is part of the run: it cannot change on resume
    code, _, err = run_cli(_argv(folders, out, "--steps", "2", "--resume", "--color-weight", "0.5"), capsys)
    assert code == 1 and "cannot resume" in err and "balance" in err
    _one_error_line(err)


def test_train_light_end_to_end_and_stylize_with_it(folders, tmp_path, capsys):
    out = tmp_path / "light"
    distil = ["--arch", "light", "--style-weight", "0", "--content-weight", "0"]
    code, stdout, err = run_cli(_argv(folders, out, "--steps", "2", "--json", *distil), capsys)
    assert code == 0, err
    res = json.loads(stdout)
    assert set(res["losses"]) == {"loss", "distill", "recon", "content", "style", "tv", "color"}
    model, _ = load_model(res["model"], expect="adain_light")
    assert model.config.width == 0.25
    assert model.config.padding == "reflect" and model.config.upsample == "bilinear"  # new runs' defaults
    # the second segment starts from the first
    code, stdout, err = run_cli(
        _argv(folders, tmp_path / "light2", "--steps", "1", "--json", "--arch", "light", "--init-from", res["model"]),
        capsys,
    )
    assert code == 0, err
    # and the network stylizes (a file says what it is: no --arch needed)
    photo = next((folders / "content").iterdir())
    style = next((folders / "style").iterdir())
    code, _, err = run_cli(
        ["stylize", photo, "--style", style, "--decoder", res["model"], "-o", tmp_path / "o.png", "-q"], capsys
    )
    assert code == 0, err and (tmp_path / "o.png").exists()


def test_train_light_with_nearest_upsampling(folders, tmp_path, capsys):
    out = tmp_path / "nearest"
    light = ["--arch", "light", "--style-weight", "0", "--content-weight", "0", "--upsample", "nearest"]
    code, stdout, err = run_cli(_argv(folders, out, "--steps", "1", "--json", *light), capsys)
    assert code == 0, err
    model, _ = load_model(json.loads(stdout)["model"], expect="adain_light")
    assert model.config.upsample == "nearest"
    assert [m.mode for m in model.decoder.modules() if isinstance(m, torch.nn.Upsample)] == ["nearest"] * 3
    assert json.loads((out / "config.json").read_text())["task_config"]["upsample"] == "nearest"
    # the upsampling is part of the run: it cannot change on resume (the default is bilinear)
    code, _, err = run_cli(_argv(folders, out, "--steps", "2", "--resume", *light[:-2]), capsys)
    assert code == 1 and "cannot resume" in err and "upsample" in err
    _one_error_line(err)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu(folders, tmp_path, capsys):
    code, _, err = run_cli(_argv(folders, tmp_path / "run", "--device", "cuda"), capsys)
    assert code == 2 and "no CUDA GPU" in err
    _one_error_line(err)


def test_bad_folders(folders, tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = run_cli(_argv(folders, out, content=tmp_path / "missing"), capsys)
    assert code == 1 and "does not exist" in err
    _one_error_line(err)

    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images")
    code, _, err = run_cli(_argv(folders, out, content=tmp_path / "empty"), capsys)
    assert code == 1 and "holds no images" in err
    _one_error_line(err)

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.jpg").write_bytes(b"garbage" * 30)
    argv = _argv(folders, out, content=broken)
    i = argv.index("--workers")
    del argv[i : i + 2]  # the default: one data-loading process on a CPU
    code, _, err = run_cli(argv, capsys)
    assert code == 1 and "none of the 1 content images" in err
    _one_error_line(err)
    assert not out.exists()


@pytest.mark.parametrize("argv", [["train"], ["train", "adain", "--style", "s", "--out", "o"]])
def test_usage_errors(capsys, argv):
    code, _, err = run_cli(argv, capsys)
    assert code == 2
    _one_error_line(err)


def test_train_fast_end_to_end_resume_and_add_a_style(folders, tmp_path, capsys, builtin_net):
    write_images(tmp_path / "styles", 2, seed=3)
    styles = sorted((tmp_path / "styles").iterdir())
    fast = [
        "train",
        "fast",
        "--content",
        folders / "content",
        "--style",
        styles[0],
        "--style",
        styles[1],
        "--style-name",
        "one",
        "--style-name",
        "two",
        "--style-size",
        "32",
        *TINY_TRAIN,
        "--json",
    ]
    out = tmp_path / "cin"
    code, stdout, err = run_cli([*fast, "--out", out, "--steps", "3"], capsys)
    assert code == 0, err
    assert json.loads(stdout)["step"] == 3
    code, stdout, err = run_cli([*fast, "--out", out, "--steps", "4", "--resume"], capsys)
    assert code == 0, err
    net, _ = load_model(out / "model.safetensors", expect="johnson")
    assert net.config.styles == ("one", "two") and net.config.norm == "conditional_instance"
    # teach the (stand-in) built-in network a new style: the result has all four
    more = tmp_path / "more"
    code, stdout, err = run_cli(
        [
            "train",
            "fast",
            "--add-to",
            "builtin",
            "--content",
            folders / "content",
            "--style",
            styles[0],
            "--style-name",
            "mine",
            "--style-size",
            "32",
            *TINY_TRAIN,
            "--out",
            more,
            "--steps",
            "1",
        ],
        capsys,
    )
    assert code == 0, err
    net, _ = load_model(more / "model.safetensors", expect="johnson")
    assert net.config.styles == ("alpha", "beta", "gamma", "mine")
    code, _, err = run_cli(
        [
            "train",
            "fast",
            "--add-to",
            out / "model.safetensors",
            "--content",
            folders / "content",
            "--style",
            styles[0],
            "--style-name",
            "two",
            *TINY_TRAIN,
            "--out",
            tmp_path / "clash",
            "--steps",
            "1",
        ],
        capsys,
    )
    assert code == 2 and "already has a style named 'two'" in err
    _one_error_line(err)


def test_train_distill_end_to_end_and_stylize_with_the_student(folders, tmp_path, capsys, builtin_net):
    out = tmp_path / "student"
    argv = [
        "train",
        "distill",
        "--teacher",
        "builtin",
        "--content",
        folders / "content",
        "--out",
        out,
        *TINY_TRAIN,
        "--residual-blocks",
        "0",
        "--steps",
        "2",
        "--json",
    ]
    code, stdout, err = run_cli(argv, capsys)
    assert code == 0, err
    assert json.loads(stdout)["step"] == 2
    net, _ = load_model(out / "model.safetensors", expect="johnson")
    assert net.config.styles == ("alpha", "beta", "gamma") and net.config.residual_blocks == 0
    code, _, err = run_cli(
        [
            "stylize",
            folders / "content" / sorted(p.name for p in (folders / "content").iterdir())[0],
            "--model",
            out / "model.safetensors",
            "--style",
            "beta",
            "-o",
            tmp_path / "o.png",
        ],
        capsys,
    )
    assert code == 0, err
    assert (tmp_path / "o.png").exists()
    code, _, err = run_cli(
        [
            "train",
            "distill",
            "--teacher",
            folders / "content",
            "--content",
            folders / "content",
            "--out",
            tmp_path / "bad",
            *TINY_TRAIN,
        ],
        capsys,
    )
    assert code != 0
    _one_error_line(err)
