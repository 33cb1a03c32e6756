"""The one training loop shared by every trainable network in instyle.

A *task* (see :class:`Task`) says what is trained and how its loss is computed; this module does
the rest, top to bottom: devices and processes, data, model and optimizer, resume, then the loop
(schedule, mixed precision, gradient accumulation, DDP), logs, sample grids and checkpoints.
"""

from __future__ import annotations

import math
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import torch
from PIL import Image
from torch import Tensor, nn

from ..atomic import first_missing, folder_lock
from ..checkpoint import config_to_dict, load_model, model_kind, save_model, storable_state
from ..data import BatchOrder, CropSpec, ImageFolder, TrainingData, collate
from ..device import describe_hardware, precision_dtype, resolve_device, resolve_precision
from ..errors import INIT_FROM, OVERWRITE, RESUME, InstyleError, OptionError
from ..pipeline import cores
from . import distributed as D
from .config import TrainConfig
from .log import CsvLog, save_plot
from .schedule import lr_at
from .state import (
    LATEST,
    check_resumable,
    find_latest,
    load_checkpoint,
    normalize,
    remove_stale_temporaries,
    save_checkpoint,
)

MODEL_FILE = "model.safetensors"


class Task(Protocol):
    """What a training run optimizes. Implemented by :class:`instyle.train.adain.AdaINTask` and
    the fast-network tasks."""

    name: str  # e.g. "adain"
    loss_names: Sequence[str]  # the loss parts it reports, e.g. ("content", "style")
    crops_per_image: int | None  # fixed crops per image (feature caching), or None

    def task_config(self) -> dict[str, Any]: ...  # settings that define the run
    def streams(self, spec: CropSpec) -> Mapping[str, ImageFolder]: ...
    def build_model(self) -> nn.Module: ...  # the trainable network (seeded)
    def prepare(self, device: torch.device, channels_last: bool) -> None: ...  # frozen parts
    def loss(self, model: nn.Module, batch: Mapping[str, Any]) -> tuple[Tensor, dict[str, Tensor]]: ...
    def samples(self, model: nn.Module) -> Image.Image | None: ...
    def model_extra(self) -> dict[str, str]: ...  # metadata for the model file

    # Optional: ``may_leave_parameters_unused = True`` when some steps do not use every parameter
    # (distributed training must then look for them).
    # Optional: ``param_groups(model)`` -> [{"params": [...], "lr_scale": float}, ...] to give parts
    # of the model their own learning-rate multiple (default: one group, scale 1).


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    elapsed_s: float
    losses: dict[str, float] = field(default_factory=dict)
    stopped_early: bool = False


def _default_workers(device: torch.device, world: int) -> int:
    return max(1, min(8, cores() // max(1, world) - 1)) if device.type == "cuda" else 1


def _to_device(batch: dict[str, Any], device: torch.device, channels_last: bool) -> dict[str, Any]:
    out = {}
    for k, v in batch.items():
        if isinstance(v, Tensor):
            v = v.to(device, non_blocking=True)
            if v.dim() == 4 and channels_last:
                v = v.contiguous(memory_format=torch.channels_last)
        out[k] = v
    return out


def train(
    task: Task,
    cfg: TrainConfig,
    out_dir: str | os.PathLike,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    stop_at: int | None = None,
    init_from: str | os.PathLike | None = None,
    say: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> TrainResult:
    """Train ``task`` with ``cfg``, writing everything into ``out_dir``.

    Writes ``checkpoint.pt`` (latest; resumable), ``checkpoints/step_N.pt`` snapshots,
    ``model.safetensors`` (fp16 weights + config), ``log.csv``, ``loss.png`` and
    ``samples/step_N.jpg``. ``resume=True`` continues from ``checkpoint.pt`` exactly as if the
    run had not stopped; ``stop_at`` ends this call after that many total steps (with a checkpoint).
    ``init_from`` starts a new run from the weights of a model file or checkpoint of the same
    model (fine-tuning, or a new recipe from a warm start); optimizer and schedule start afresh.
    Launch with ``torchrun --nproc_per_node K`` for DDP over K processes.

    A new run that fails before its first checkpoint leaves ``out_dir`` as it found it: what the
    call created there (config, log, samples, the folder itself) is removed, as nothing is resumable.
    """
    run_dir = Path(out_dir)
    new_top = first_missing(run_dir)  # the outermost folder this call will create, if any
    before = set(run_dir.rglob("*")) if run_dir.is_dir() else set()
    main = int(os.environ.get("RANK", "0")) == 0
    # one process (one DDP job) per run folder: a second would log every step twice, and its
    # --resume would sweep the first one's temporary files
    # (a --resume of a folder that is not there fails below without creating it)
    lock = folder_lock(run_dir, "run folder") if main and (run_dir.is_dir() or not resume) else nullcontext()
    try:
        with lock:
            return _train(
                task,
                cfg,
                run_dir,
                resume=resume,
                overwrite=overwrite,
                progress=progress,
                stop_at=stop_at,
                init_from=init_from,
                say=say,
            )
    except BaseException:
        if not resume and not (run_dir / LATEST).exists() and main:
            _remove_new(run_dir, new_top, before)
        raise


def _remove_new(run_dir: Path, new_top: Path | None, before: set) -> None:
    """Undo what a failed call created: the folders it made (``new_top``), or the new paths in ``run_dir``."""
    import shutil

    if new_top is not None:
        shutil.rmtree(new_top, ignore_errors=True)
        return
    for p in sorted(set(run_dir.rglob("*")) - before, key=lambda q: len(q.parts), reverse=True):
        try:
            p.rmdir() if p.is_dir() and not p.is_symlink() else p.unlink()
        except OSError:
            pass


@dataclass
class _Hardware:
    """Where the run computes: device, processes (DDP), precision."""

    device: torch.device
    info: D.DistInfo
    precision: str
    amp_dtype: torch.dtype | None  # None: fp32, no autocast


def _hardware(cfg: TrainConfig) -> _Hardware:
    device = resolve_device(cfg.device)
    info = D.init_distributed(device.type)
    if device.type == "cuda" and info.enabled:
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    precision = resolve_precision(cfg.precision, device, training=True)
    return _Hardware(device, info, precision, precision_dtype(precision) if precision != "fp32" else None)


def _open_run(
    run_dir: Path,
    task: Task,
    cfg: TrainConfig,
    hw: _Hardware,
    *,
    resume: bool,
    overwrite: bool,
    init_from: str | os.PathLike | None,
) -> dict[str, Any] | None:
    """The checkpoint to resume (checked against this run's settings), or None for a new run."""
    if resume and init_from is not None:
        raise OptionError(
            "{init_from} starts a new run; it cannot be combined with {resume}",
            init_from=("init_from", "--init-from"),
            resume=RESUME,
        )
    if not resume:
        if (run_dir / LATEST).exists() and not overwrite:
            raise OptionError(
                f"{run_dir} already holds a training run; pass {{resume}} to continue it, "
                "or {overwrite} to start over",
                exit_code=1,
                resume=RESUME,
                overwrite=OVERWRITE,
            )
        return None
    if hw.info.main:
        remove_stale_temporaries(run_dir)
    D.barrier(hw.info)
    ckpt = load_checkpoint(find_latest(run_dir))
    check_resumable(
        ckpt,
        task=task.name,
        task_config=task.task_config(),
        train_config=cfg,
        where=str(run_dir),
        task_resumable=getattr(task, "resumable_fields", ()),
    )
    return ckpt


def _data(
    task: Task, cfg: TrainConfig, ckpt: dict[str, Any] | None, say: Callable[[str], None]
) -> tuple[TrainingData, dict[str, int]]:
    """The training streams and their image counts."""
    streams = task.streams(CropSpec(cfg.image_size, cfg.crop))
    for folder in streams.values():  # a folder with no readable image fails here, in one line (not
        folder.crop(0, cfg.seed)  # later in a DataLoader worker, wrapped in its traceback)
    counts = {k: len(v) for k, v in streams.items()}
    if ckpt is not None and ckpt.get("data") and ckpt["data"] != counts:
        say(
            f"warning: the data folders changed since the checkpoint ({ckpt['data']} -> {counts} images); "
            "the data order will differ from an uninterrupted run"
        )
    return TrainingData(streams, seed=cfg.seed, crops_per_image=task.crops_per_image), counts


def _model(
    task: Task,
    cfg: TrainConfig,
    hw: _Hardware,
    ckpt: dict[str, Any] | None,
    run_dir: Path,
    init_from: str | os.PathLike | None,
    say: Callable[[str], None],
) -> nn.Module:
    """The task's network (seeded), with the checkpoint's or ``init_from``'s weights."""
    torch.manual_seed(cfg.seed)
    model = task.build_model().to(hw.device)
    kind, config = model_kind(model), config_to_dict(model.config)
    if ckpt is not None:
        if ckpt.get("model_kind") != kind or normalize(ckpt.get("model_config")) != normalize(config):
            raise InstyleError(
                f"cannot resume {run_dir}: it holds a {ckpt.get('model_kind')} "
                f"{ckpt.get('model_config')}, this run builds {kind} {config}"
            )
        model.load_state_dict(ckpt["model"])
    elif init_from is not None:
        warm, _ = load_model(init_from, expect=kind)
        warm_config = config_to_dict(warm.config)
        # another config is fine when every weight fits (e.g. a network fine-tuned to zero padding)
        shapes = {k: v.shape for k, v in model.state_dict().items()}
        if {k: v.shape for k, v in warm.state_dict().items()} != shapes:
            raise InstyleError(f"cannot start from {init_from}: it is a {kind} {warm_config}, this run builds {config}")
        model.load_state_dict(warm.state_dict())
        differs = (
            ""
            if normalize(warm_config) == normalize(config)
            else f" (a {warm_config} network; this run builds {config})"
        )
        say(f"starting from the weights of {init_from}{differs}")
    if cfg.channels_last:
        # (Module.to takes memory_format, which torch's type overloads of it leave out)
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    task.prepare(hw.device, cfg.channels_last)
    return model


@dataclass
class _Progress:
    """Where a run stands: restored from a checkpoint, or a new run at step 0."""

    start: int = 0
    elapsed_before: float = 0.0
    history: list = field(default_factory=list)  # one entry per run segment: the model card's source


def _restore(
    ckpt: dict[str, Any] | None,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    cfg: TrainConfig,
    hw: _Hardware,
    run_dir: Path,
    say: Callable[[str], None],
) -> _Progress:
    """Optimizer, loss scaler and RNG state from ``ckpt``, so the run continues exactly."""
    if ckpt is None:
        return _Progress()
    if len(ckpt["optimizer"]["param_groups"]) != len(optimizer.param_groups):
        raise InstyleError(
            f"cannot resume {run_dir}: its optimizer has {len(ckpt['optimizer']['param_groups'])} "
            f"parameter group(s), this version of the task uses {len(optimizer.param_groups)}; "
            "start a new run from its weights with {init_from}",
            init_from=INIT_FROM,
        )
    optimizer.load_state_dict(ckpt["optimizer"])
    if ckpt.get("scaler"):
        scaler.load_state_dict(ckpt["scaler"])
    torch.set_rng_state(ckpt["rng"]["torch"])
    if hw.device.type == "cuda" and ckpt["rng"].get("cuda") is not None:
        torch.cuda.set_rng_state(ckpt["rng"]["cuda"], hw.device)
    progress = _Progress(int(ckpt["step"]), float(ckpt.get("elapsed_s", 0.0)), list(ckpt.get("history") or []))
    if int(ckpt.get("world", 1)) != hw.info.world:
        say(
            f"warning: the run was trained with {ckpt.get('world', 1)} process(es), now {hw.info.world}: "
            "the effective batch and the data order change from here on"
        )
    if cfg.schedule == "cosine" and int(ckpt["train_config"].get("steps", cfg.steps)) != cfg.steps:
        say("warning: --steps changed under the cosine schedule: the learning rate follows the new length from here on")
    say(f"resuming {run_dir} at step {progress.start}")
    return progress


def _leave_signals_to_the_main_process(_worker_id: int) -> None:
    """A data-loading worker's start: SIGTERM, SIGHUP and SIGINT are the main process's to act on
    (it saves a checkpoint and shuts the workers down). A stop sent to the whole process group
    (systemd's default KillMode, ``pkill -f``, Ctrl-C) would otherwise kill a worker first, and the
    main process would fail on the dead worker instead of saving. A worker still exits when the
    main process dies (torch's worker loop watches its parent)."""
    for name in ("SIGTERM", "SIGHUP", "SIGINT"):
        signum = getattr(signal, name, None)
        if signum is not None:
            signal.signal(signum, signal.SIG_IGN)


def _loader(data: TrainingData, cfg: TrainConfig, hw: _Hardware, start: int):
    """Endless batches from step ``start`` on (the order is a pure function of the step: data.py)."""
    workers = cfg.workers if cfg.workers is not None else _default_workers(hw.device, hw.info.world)
    return iter(
        torch.utils.data.DataLoader(
            data,
            batch_sampler=BatchOrder(cfg.batch_size, start, cfg.grad_accum, hw.info.rank, hw.info.world),
            collate_fn=collate,
            num_workers=workers,
            pin_memory=hw.device.type == "cuda",
            generator=torch.Generator().manual_seed(
                cfg.seed
            ),  # its own: the global RNG (noise inputs) stays exact on resume
            persistent_workers=False,
            prefetch_factor=4 if workers else None,
            worker_init_fn=_leave_signals_to_the_main_process if workers else None,
        )
    )


class _Window:
    """Loss sums over the steps since the last log row, and the row they make."""

    def __init__(self, names: Sequence[str]):
        self.names = ["loss", *names]
        self.sums, self.steps, self.since = torch.zeros(len(self.names)), 0, time.perf_counter()

    def add(self, loss: Tensor, parts: Mapping[str, Tensor], micro_batches: int) -> None:
        """One micro-batch's losses, as its share of the step's mean."""
        self.sums += (
            torch.stack([loss.detach().float().cpu()] + [parts[n].detach().float().cpu() for n in self.names[1:]])
            / micro_batches
        )

    def row(self, info: D.DistInfo, step: int, lr: float, images_per_step: int, elapsed: float) -> dict[str, float]:
        """Means over the window (and the processes) as a log row; starts a new window."""
        now = time.perf_counter()
        sec = (now - self.since) / self.steps
        means = dict(zip(self.names, D.all_mean(self.sums / self.steps, info).tolist()))
        self.sums, self.steps, self.since = torch.zeros_like(self.sums), 0, now
        return {
            "step": step,
            "lr": lr,
            **means,
            "sec_per_step": sec,
            "images_per_sec": images_per_step / sec,
            "elapsed_s": elapsed,
        }


class _TaskLoss(nn.Module):
    """A task's loss on its model as one module's forward, so that DistributedDataParallel wraps
    every use of the model in a step. A task may call its model's parts one by one (the light AdaIN
    network: encoder, projections and decoder): DDP syncs only the gradients of work done inside
    its own forward, and its wrapper has none of the model's attributes."""

    def __init__(self, model: nn.Module, task: Task):
        super().__init__()
        self.model = model
        self._task = (task,)  # a tuple: the task's frozen networks (VGG-19) are not this module's

    def forward(self, batch: Mapping[str, Any]) -> tuple[Tensor, dict[str, Tensor]]:
        return self._task[0].loss(self.model, batch)


def _step(
    task: Task,
    net: nn.Module,
    model: nn.Module,
    batches,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    cfg: TrainConfig,
    hw: _Hardware,
    window: _Window,
    report_skipped: Callable[[Sequence[str]], None],
) -> Tensor:
    """One optimizer step over ``cfg.grad_accum`` micro-batches (mixed precision, DDP, clipping);
    returns the last micro-batch's loss."""
    for micro in range(cfg.grad_accum):
        batch = next(batches)
        report_skipped(batch["skipped"])
        batch = _to_device(batch, hw.device, cfg.channels_last)
        # distributed (hw.info.enabled): net is train()'s DistributedDataParallel wrapper
        ddp = cast("nn.parallel.DistributedDataParallel", net)
        sync = ddp.no_sync() if hw.info.enabled and micro < cfg.grad_accum - 1 else nullcontext()
        with (
            sync,
            torch.autocast(hw.device.type, dtype=hw.amp_dtype or torch.float32, enabled=hw.amp_dtype is not None),
        ):
            loss, parts = net(batch)  # task.loss(model, batch), inside DDP's forward when distributed
        scaler.scale(loss / cfg.grad_accum).backward()
        window.add(loss, parts, cfg.grad_accum)
    if cfg.clip_grad is not None:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
    return loss


def _train(
    task: Task,
    cfg: TrainConfig,
    run_dir: Path,
    *,
    resume: bool,
    overwrite: bool,
    progress: bool,
    stop_at: int | None,
    init_from: str | os.PathLike | None,
    say: Callable[[str], None],
) -> TrainResult:
    # ---- set-up: hardware, the run folder (new or resumed), data, model, optimizer
    hw = _hardware(cfg)
    info = hw.info
    quiet_say = say if info.main else (lambda m: None)
    ckpt = _open_run(run_dir, task, cfg, hw, resume=resume, overwrite=overwrite, init_from=init_from)
    data, counts = _data(task, cfg, ckpt, quiet_say)
    model = _model(task, cfg, hw, ckpt, run_dir, init_from, quiet_say)
    groups = task.param_groups(model) if hasattr(task, "param_groups") else [{"params": list(model.parameters())}]
    optimizer = torch.optim.Adam([{"lr_scale": 1.0, **g} for g in groups], lr=cfg.lr)
    scaler = torch.amp.GradScaler(hw.device.type, enabled=hw.precision == "fp16")
    done = _restore(ckpt, optimizer, scaler, cfg, hw, run_dir, quiet_say)
    del ckpt
    net: nn.Module = _TaskLoss(model, task)
    if info.enabled:
        # a task whose steps may leave parts of its model unused says so (DDP then looks for them
        # after each forward, which costs a graph traversal; otherwise it waits for their gradients)
        net = nn.parallel.DistributedDataParallel(
            net,
            device_ids=[hw.device.index] if hw.device.type == "cuda" else None,
            find_unused_parameters=getattr(task, "may_leave_parameters_unused", False),
        )
    end = cfg.steps if stop_at is None else min(cfg.steps, stop_at)
    batches = _loader(data, cfg, hw, done.start)

    # ---- logging
    log = None
    if info.main:
        log = CsvLog(
            run_dir / "log.csv",
            ["step", "lr", "loss", *task.loss_names, "sec_per_step", "images_per_sec", "elapsed_s"],
            resume_step=done.start if resume else None,
        )
        _write_config(run_dir, task, cfg, hw.precision, info.world)
    window, last = _Window(task.loss_names), {}
    skipped: dict[str, int] = {}  # reason -> times drawn

    def report_skipped(reasons: Sequence[str]) -> None:
        for reason in reasons:
            if reason not in skipped:
                quiet_say(f"warning: skipping an unreadable image ({reason}); {len(skipped) + 1} unreadable so far")
            skipped[reason] = skipped.get(reason, 0) + 1

    run_start = time.perf_counter()
    bar = _bar(done.start, cfg.steps, progress and info.main)
    step, stopped_early = done.start, False

    def state() -> dict[str, Any]:
        return {
            "task": task.name,
            "task_config": task.task_config(),
            "train_config": asdict(cfg),
            "model_kind": model_kind(model),
            "model_config": config_to_dict(model.config),
            "model_extra": task.model_extra(),
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if scaler.is_enabled() else None,
            "step": step,
            "elapsed_s": done.elapsed_before + time.perf_counter() - run_start,
            "data": counts,
            "precision": hw.precision,
            "world": info.world,
            "history": done.history
            + [
                {
                    "command": shlex.join(sys.argv),
                    "start_step": done.start,
                    "end_step": step,
                    "wall_s": round(time.perf_counter() - run_start, 1),
                    "hardware": describe_hardware(hw.device),
                    "processes": info.world,
                    "precision": hw.precision,
                }
            ],
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state(hw.device) if hw.device.type == "cuda" else None,
            },
        }

    def diverged(what: str) -> FloatingPointError:
        kept = f" (the last checkpoint in {run_dir} is intact)" if (run_dir / LATEST).exists() else ""
        return FloatingPointError(f"{what} at step {step}; lower the learning rate{kept}")

    def checkpoint() -> None:
        try:
            storable_state(model)  # checked before the checkpoint too: diverged weights are never saved
        except FloatingPointError as exc:
            raise diverged(str(exc)) from None
        if info.main:
            save_checkpoint(run_dir, state(), keep=cfg.keep_checkpoints)
            save_model(run_dir / MODEL_FILE, model, extra=task.model_extra(), overwrite=True)
            if log is not None and log.rows:
                save_plot(run_dir / "loss.png", log.rows, ["loss", *task.loss_names], f"{task.name} training")
        D.barrier(info)

    # ---- the loop
    try:
        model.train()
        while step < end:
            lr = lr_at(step, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr * group.get("lr_scale", 1.0)
            loss = _step(task, net, model, batches, optimizer, scaler, cfg, hw, window, report_skipped)
            step += 1
            window.steps += 1
            if not math.isfinite(float(loss.detach())) and not scaler.is_enabled():
                raise diverged(f"the loss became {float(loss.detach())}")

            over_time = cfg.max_minutes is not None and time.perf_counter() - run_start > 60 * cfg.max_minutes
            stopped_early = D.any_true(over_time, info, hw.device) and step < end
            if step % cfg.log_every == 0 or step == end or stopped_early:
                row = window.row(
                    info,
                    step,
                    lr,
                    cfg.batch_size * cfg.grad_accum * info.world,
                    done.elapsed_before + time.perf_counter() - run_start,
                )
                last = {k: row[k] for k in window.names}
                if log is not None:
                    log.append(row)
                bar.set_postfix_str(" ".join(f"{k} {v:.3g}" for k, v in last.items()))
            bar.update(1)

            if step % cfg.checkpoint_every == 0 or step == end or stopped_early:
                checkpoint()
            if info.main and (step == end or (cfg.sample_every and step % cfg.sample_every == 0)):
                _write_samples(run_dir, task, model, step)
                model.train()
            if stopped_early:
                quiet_say(f"stopping after {cfg.max_minutes} min at step {step}; resume with --resume")
                break
    except KeyboardInterrupt:
        if step > done.start:
            checkpoint()
            quiet_say(f"interrupted; checkpoint saved at step {step} in {run_dir}")
        raise
    finally:
        bar.close()
        del batches
        D.shutdown(info)
    return TrainResult(run_dir, step, done.elapsed_before + time.perf_counter() - run_start, last, stopped_early)


def _bar(start: int, total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=start,
        unit="step",
        file=sys.stderr,
        disable=not enabled,
        dynamic_ncols=True,
        smoothing=0.05,
    )


def _write_config(run_dir: Path, task: Task, cfg: TrainConfig, precision: str, world: int) -> None:
    import json

    from ..atomic import write_text

    text = json.dumps(
        {
            "task": task.name,
            "task_config": task.task_config(),
            "train_config": asdict(cfg),
            "precision": precision,
            "processes": world,
        },
        indent=2,
    )
    write_text(run_dir / "config.json", text + "\n", overwrite=True, what="run config")


@torch.no_grad()
def _write_samples(run_dir: Path, task: Task, model: nn.Module, step: int) -> None:
    from ..atomic import write_with

    model.eval()
    sheet = task.samples(model)
    if sheet is not None:
        write_with(
            run_dir / "samples" / f"step_{step:08d}.jpg",
            lambda f: sheet.save(f, format="JPEG", quality=90),
            overwrite=True,
            what="sample grid",
        )
