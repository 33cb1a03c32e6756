"""Exceptions that the CLI turns into one clear line and an exit code (no traceback)."""


class InstyleError(Exception):
    """A problem with the user's input (a file, a checkpoint, a value): exit code 1.

    A message that names an option does so through a ``{placeholder}`` with both of its spellings,
    so that it reads right where it is read: ``str(error)`` as a Python caller writes the option
    (``backend="torch"``), :meth:`for_cli` as the command line does (``--backend torch``)::

        WeightsError("no decoder; pass one with {decoder}", decoder=DECODER)
    """

    exit_code = 1

    def __init__(self, message: object = "", *, exit_code: int | None = None, **options: tuple[str, str]):
        # options: placeholder -> (the Python spelling, the command line's); exit_code: where this
        # error's class default does not fit (an OptionError about a file's state: 1)
        self.template, self.options = str(message), options
        if exit_code is not None:
            self.exit_code = exit_code
        super().__init__(self._fill(0) if options else message)

    def _fill(self, which: int) -> str:
        text = self.template
        for name, spellings in self.options.items():
            text = text.replace("{" + name + "}", spellings[which])
        return text

    def for_cli(self) -> str:
        """The message with each option spelled as a command-line flag."""
        return self._fill(1) if self.options else str(self)


class UsageError(InstyleError):
    """A bad command-line usage or option value: exit code 2."""

    exit_code = 2


class OptionError(UsageError):
    """A value, or a combination of values, that the options asked do not allow; the message names
    each option (:class:`InstyleError`'s placeholders). Exit code 2 unless told otherwise."""


#: The options the library's messages name most, as a Python caller and the command line spell them.
OVERWRITE = ("overwrite=True", "--overwrite")
RESUME = ("resume=True", "--resume")
STYLE = ("style", "--style")
METHOD_ADAIN = ('method="adain"', "--method adain")
MODEL = ("model=PATH", "--model")
DECODER = ("decoder=PATH", "--decoder")
ARCH_VGG = ('arch="vgg"', "--arch vgg")
BACKEND_TORCH = ('backend="torch"', "--backend torch")
COLOR_LUMINANCE = ('color="luminance"', "--color luminance")
COLOR_PALETTE = ('color="palette"', "--color palette")
INIT_FROM = ("init_from=PATH", "--init-from")
NORM_BATCH = ('norm="batch"', "--norm batch")
RAY = ("without Ray", "without --ray")


def exists_error(what: str, *, them: bool = False, exit_code: int = 1) -> OptionError:
    """``<what>; pass overwrite=True to replace it`` (``--overwrite`` on the command line), where
    ``what`` says what is there already ("out.png already exists")."""
    return OptionError(
        f"{what}; pass {{overwrite}} to replace {'them' if them else 'it'}", exit_code=exit_code, overwrite=OVERWRITE
    )


class ImageTooLargeError(InstyleError):
    """An image over the pixel limit, found from its header before decoding (a decompression bomb
    among them); the web server answers it with 413."""


class WeightsError(InstyleError):
    """Pretrained weights are missing, corrupt or do not match the model."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (``timeout``, systemd, ``docker stop``, a closed terminal), raised where
    the program is, like Ctrl-C: every clean-up that Ctrl-C runs (temporary files, a last training
    checkpoint) runs for it too. The CLI exits with 128 + the signal's number."""

    def __init__(self, signum: int):
        import signal

        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name


class InstyleWarning(UserWarning):
    """Something the user should know that did not stop the work (e.g. only the first frame of an
    animation was used). The CLI prints it as one ``instyle: warning: …`` line."""


def one_line(text: object) -> str:
    """``text`` as one line for a message: its first non-empty line, runs of whitespace as one
    space, control characters escaped (a file name or an OS message can hold any of them)."""
    lines = [ln for ln in str(text).splitlines() if ln.strip()]
    line = " ".join(lines[0].split()) if lines else ""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in line)


def quoted(name: str) -> str:
    """A file name quoted for a one-line message: ``'name'``, or its repr when it holds control
    characters."""
    return f"'{name}'" if all(ch.isprintable() for ch in name) else repr(name)
