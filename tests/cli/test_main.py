"""The ``instyle`` entry point: help, version, usage errors (exit 2, one line, no traceback)."""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest

import instyle
from helpers import instyle_cmd, run_instyle

from ._helpers import run_cli


def assert_one_line_error(err: str) -> None:
    assert err.startswith("instyle: error:"), err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err


def test_help_exits_0_and_lists_commands(capsys):
    code, out, err = run_cli(["--help"], capsys)
    assert code == 0
    for cmd in ("optimize", "evaluate", "demo"):
        assert cmd in out
    assert err == ""


def test_version(capsys):
    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0
    assert out.strip() == f"instyle {instyle.__version__}"


def test_no_command_exits_2_with_usage(capsys):
    code, out, err = run_cli([], capsys)
    assert code == 2
    assert "usage: instyle" in err
    assert out == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["frobnicate"],
        ["--bogus"],
        ["optimize"],
        ["optimize", "c.png", "s.png"],
        ["evaluate", "--size"],
        ["demo", "--steps", "0"],
    ],
)
def test_usage_errors_are_one_line_exit_2(argv, capsys):
    code, out, err = run_cli(argv, capsys)
    assert code == 2
    assert_one_line_error(err)
    assert out == ""


def test_unknown_command_names_choices(capsys):
    code, _, err = run_cli(["frobnicate"], capsys)
    assert code == 2
    assert "frobnicate" in err and "optimize" in err


@pytest.mark.parametrize(
    "cmd, options",
    [
        (
            "optimize",
            [
                "--output",
                "--size",
                "--steps",
                "--optimizer",
                "--lr",
                "--init",
                "--style-layers",
                "--style-weight",
                "--color",
                "--save-every",
                "--intermediate-dir",
                "--overwrite",
                "--json",
                "--quiet",
                "STYLE[:WEIGHT]",
            ],
        ),
        ("evaluate", ["--content", "--style", "--pairs", "--size", "--output", "--overwrite", "--json"]),
        ("demo", ["--output", "--size", "--steps", "--json", "--quiet"]),
    ],
)
def test_subcommand_help(cmd, options, capsys):
    code, out, err = run_cli([cmd, "--help"], capsys)
    assert code == 0
    assert out.startswith(f"usage: instyle {cmd}")
    for opt in options:
        assert opt in out, f"{cmd} --help does not mention {opt}"
    assert err == ""


@pytest.mark.slow
def test_python_dash_m_runs_the_cli():
    r = run_instyle(["--version"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"instyle {instyle.__version__}"


@pytest.mark.slow
def test_entry_exits_quickly_after_flushing_joining_and_atexit():
    # entry() skips the interpreter's teardown (os._exit) but nothing a user sees may change:
    # output flushed, exit status kept, atexit handlers run, running threads joined first
    probe = (
        "import atexit, sys, threading, time\n"
        "atexit.register(lambda: print('atexit ran'))\n"
        "threading.Thread(target=lambda: (time.sleep(0.3), print('thread joined'))).start()\n"
        "sys.argv = ['instyle'] + sys.argv[1:]\n"
        "from instyle.cli.main import entry\n"
        "entry()\n"
    )
    ok = subprocess.run([sys.executable, "-c", probe, "--version"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    # the thread may print before the version on a busy machine (its 0.3 s against the import)
    lines = ok.stdout.splitlines()
    assert sorted(lines[:2]) == sorted([f"instyle {instyle.__version__}", "thread joined"]), lines
    assert lines[2:] == ["atexit ran"], lines
    bad = subprocess.run(
        [sys.executable, "-c", probe, "stylize", "missing.png", "--style", "candy", "-o", "x.png"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and "atexit ran" in bad.stdout
    assert_one_line_error(bad.stderr)
    # a reader that stops early: no "Exception ignored … BrokenPipeError" noise at exit
    head = subprocess.run(
        f"{shlex.join(instyle_cmd(['styles']))} | head -c 1", shell=True, capture_output=True, text=True, timeout=120
    )
    assert "Exception ignored" not in head.stderr and "Traceback" not in head.stderr, head.stderr


@pytest.mark.slow
def test_subprocess_usage_error_exit_code():
    r = run_instyle(
        ["optimize", "a.png", "b.png", "-o", "x.png", "--size", "abc"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2
    assert_one_line_error(r.stderr)
    assert "--size" in r.stderr and "abc" in r.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "code",
    [
        "import instyle; instyle.InstyleError; instyle.choose_method",
        "from instyle.cli.main import main; main(['--help'])",
        "from instyle.cli.main import main; main(['stylize', '--help'])",
        "from instyle.cli.main import main; main(['train', 'adain', '--help'])",
    ],
)
def test_import_and_help_do_not_import_torch(code):
    """The package API is lazy (PEP 562) and the CLI builds its parser from torch-free modules."""
    probe = f"import sys\ntry:\n    {code}\nexcept SystemExit:\n    pass\nprint('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "False"
