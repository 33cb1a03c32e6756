"""Shared by the CLI tests."""

from instyle.cli.main import main


def run_cli(argv, capsys):
    """main(argv) in-process -> (exit code, stdout, stderr); argparse's SystemExit included."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err
