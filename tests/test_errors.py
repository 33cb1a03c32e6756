"""The library names options as a Python caller writes them; the CLI shows the flags."""

import pickle

import pytest

from instyle import errors, shipped
from instyle.errors import DECODER, InstyleError, OptionError, WeightsError


def test_a_message_without_options_reads_the_same_everywhere():
    e = WeightsError("bad file {not an option}")
    assert str(e) == e.for_cli() == "bad file {not an option}" and e.exit_code == 1


def test_options_are_spelled_for_python_and_for_the_command_line():
    e = WeightsError("no decoder; pass one with {decoder}", decoder=DECODER)
    assert str(e) == "no decoder; pass one with decoder=PATH"
    assert e.for_cli() == "no decoder; pass one with --decoder"
    assert OptionError("x {d}", d=DECODER).exit_code == 2 and OptionError("x", exit_code=1).exit_code == 1


def test_an_error_with_options_survives_pickling_as_its_python_message():
    # errors cross process boundaries (Ray workers, the serve pool)
    e = pickle.loads(pickle.dumps(InstyleError("use {d}", d=DECODER)))
    assert type(e) is InstyleError and str(e) == "use decoder=PATH"


def test_no_library_message_names_a_flag_outright():
    # every shipped-file message goes through the placeholders: Python callers see no --flags
    with shipped.use_assets({shipped.VGG_DECODER: None}), pytest.raises(WeightsError) as info:
        shipped.default_decoder_path("vgg")
    assert "--" not in str(info.value) and "--decoder" in info.value.for_cli()


@pytest.mark.parametrize(
    "name", ["MODEL", "DECODER", "ARCH_VGG", "BACKEND_TORCH", "COLOR_LUMINANCE", "COLOR_PALETTE", "INIT_FROM", "RAY"]
)
def test_each_shared_option_has_a_python_and_a_cli_spelling(name):
    python, cli = getattr(errors, name)
    assert "--" not in python and "--" in cli
