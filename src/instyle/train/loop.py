"""The one training loop shared by every trainable network in instyle.

A *task* (see :class:`Task`) says what is trained and how its loss is computed; this module does
the rest, top to bottom: devices and processes, data, model and optimizer, resume, then the loop
(schedule, mixed precision, gradient accumulation, DDP), logs, sample grids and checkpoints.
"""

from __future__ import annotations

import math
import os
import platform
import shlex
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Protocol, Sequence

import torch
from PIL import Image
from torch import Tensor, nn

from ..checkpoint import config_to_dict, load_model, model_kind, save_model, storable_state
from ..data import BatchOrder, CropSpec, ImageFolder, TrainingData, collate
from ..device import precision_dtype, resolve_device, resolve_precision
from ..errors import InstyleError, UsageError
from . import distributed as D
from .config import TrainConfig
from .log import CsvLog, save_plot
from .schedule import lr_at
from .state import (LATEST, check_resumable, find_latest, load_checkpoint, normalize, remove_stale_temporaries,
                    save_checkpoint)

MODEL_FILE = "model.safetensors"


class Task(Protocol):
    """What a training run optimizes. Implemented by :class:`instyle.train.adain.AdaINTask` and
    the fast-network tasks."""

    name: str                      # e.g. "adain"
    loss_names: Sequence[str]      # the loss parts it reports, e.g. ("content", "style")
    crops_per_image: Optional[int]  # fixed crops per image (feature caching), or None

    def task_config(self) -> Dict[str, Any]: ...          # settings that define the run
    def streams(self, spec: CropSpec) -> Mapping[str, ImageFolder]: ...
    def build_model(self) -> nn.Module: ...                # the trainable network (seeded)
    def prepare(self, device: torch.device, channels_last: bool) -> None: ...   # frozen parts
    def loss(self, model: nn.Module, batch: Mapping[str, Any]) -> tuple[Tensor, Dict[str, Tensor]]: ...
    def samples(self, model: nn.Module) -> Optional[Image.Image]: ...
    def model_extra(self) -> Dict[str, str]: ...           # metadata for the model file
    # Optional: ``param_groups(model)`` -> [{"params": [...], "lr_scale": float}, ...] to give parts
    # of the model their own learning-rate multiple (default: one group, scale 1).


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    elapsed_s: float
    losses: Dict[str, float] = field(default_factory=dict)
    stopped_early: bool = False


def describe_hardware(device: torch.device) -> str:
    """E.g. "NVIDIA H100 80GB HBM3" or "CPU: AMD EPYC 9B14 (2 threads)"."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.lower().startswith("model name")), cpu)
    except OSError:
        pass
    return f"CPU: {cpu} ({torch.get_num_threads()} threads)"


def _default_workers(device: torch.device, world: int) -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(8, cpus // max(1, world) - 1)) if device.type == "cuda" else 1


def _to_device(batch: Dict[str, Any], device: torch.device, channels_last: bool) -> Dict[str, Any]:
    out = {}
    for k, v in batch.items():
        if isinstance(v, Tensor):
            v = v.to(device, non_blocking=True)
            if v.dim() == 4 and channels_last:
                v = v.contiguous(memory_format=torch.channels_last)
        out[k] = v
    return out


def train(task: Task, cfg: TrainConfig, out_dir: str | os.PathLike, *, resume: bool = False,
          overwrite: bool = False, progress: bool = True, stop_at: Optional[int] = None,
          init_from: Optional[str | os.PathLike] = None,
          say: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> TrainResult:
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
    new_top = _first_missing(run_dir)  # the outermost folder this call will create, if any
    before = set(run_dir.rglob("*")) if run_dir.is_dir() else set()
    try:
        return _train(task, cfg, run_dir, resume=resume, overwrite=overwrite, progress=progress, stop_at=stop_at,
                      init_from=init_from, say=say)
    except BaseException:
        if not resume and not (run_dir / LATEST).exists() and int(os.environ.get("RANK", "0")) == 0:
            _remove_new(run_dir, new_top, before)
        raise


def _first_missing(path: Path) -> Optional[Path]:
    """The outermost of ``path`` and its parents that does not exist (None if ``path`` exists)."""
    missing = None
    for p in (path, *path.parents):
        if p.exists() or p.is_symlink():
            break
        missing = p
    return missing


def _remove_new(run_dir: Path, new_top: Optional[Path], before: set) -> None:
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


def _train(task: Task, cfg: TrainConfig, run_dir: Path, *, resume: bool, overwrite: bool, progress: bool,
           stop_at: Optional[int], init_from: Optional[str | os.PathLike], say: Callable[[str], None]) -> TrainResult:
    # ---- devices and processes
    device = resolve_device(cfg.device)
    info = D.init_distributed(device.type)
    if device.type == "cuda" and info.enabled:
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    precision = resolve_precision(cfg.precision, device, training=True)
    amp_dtype = precision_dtype(precision) if precision != "fp32" else None
    quiet_say = say if info.main else (lambda m: None)

    # ---- the run folder: new, or resumed
    ckpt: Optional[Dict[str, Any]] = None
    if resume and init_from is not None:
        raise UsageError("--init-from starts a new run; it cannot be combined with --resume")
    if resume:
        if info.main:
            remove_stale_temporaries(run_dir)
        D.barrier(info)
        ckpt = load_checkpoint(find_latest(run_dir))
        check_resumable(ckpt, task=task.name, task_config=task.task_config(),
                        train_config=cfg, where=str(run_dir),
                        task_resumable=getattr(task, "resumable_fields", ()))
    elif (run_dir / LATEST).exists() and not overwrite:
        raise InstyleError(f"{run_dir} already holds a training run; pass --resume to continue it, "
                           "or --overwrite to start over")

    # ---- data
    spec = CropSpec(cfg.image_size, cfg.crop)
    streams = task.streams(spec)
    for folder in streams.values():  # a folder with no readable image fails here, in one line (not
        folder.crop(0, cfg.seed)     # later in a DataLoader worker, wrapped in its traceback)
    data = TrainingData(streams, seed=cfg.seed, crops_per_image=task.crops_per_image)
    counts = {k: len(v) for k, v in streams.items()}
    if ckpt is not None and ckpt.get("data") and ckpt["data"] != counts:
        quiet_say(f"warning: the data folders changed since the checkpoint ({ckpt['data']} -> {counts} images); "
                  "the data order will differ from an uninterrupted run")

    # ---- model, optimizer, state
    torch.manual_seed(cfg.seed)
    model = task.build_model().to(device)
    kind = model_kind(model)
    if ckpt is not None:
        if ckpt.get("model_kind") != kind or normalize(ckpt.get("model_config")) != normalize(config_to_dict(model.config)):
            raise InstyleError(f"cannot resume {run_dir}: it holds a {ckpt.get('model_kind')} "
                               f"{ckpt.get('model_config')}, this run builds {kind} {config_to_dict(model.config)}")
        model.load_state_dict(ckpt["model"])
    elif init_from is not None:
        warm, _ = load_model(init_from, expect=kind)
        if normalize(config_to_dict(warm.config)) != normalize(config_to_dict(model.config)):
            raise InstyleError(f"cannot start from {init_from}: it is a {kind} {config_to_dict(warm.config)}, "
                               f"this run builds {config_to_dict(model.config)}")
        model.load_state_dict(warm.state_dict())
        quiet_say(f"starting from the weights of {init_from}")
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    task.prepare(device, cfg.channels_last)
    groups = task.param_groups(model) if hasattr(task, "param_groups") else [{"params": list(model.parameters())}]
    optimizer = torch.optim.Adam([{"lr_scale": 1.0, **g} for g in groups], lr=cfg.lr)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    start, elapsed_before = 0, 0.0
    history: list = []  # one entry per run segment (command, steps, wall time, hardware): the model card's source
    if ckpt is not None:
        if len(ckpt["optimizer"]["param_groups"]) != len(optimizer.param_groups):
            raise InstyleError(f"cannot resume {run_dir}: its optimizer has {len(ckpt['optimizer']['param_groups'])} "
                               f"parameter group(s), this version of the task uses {len(optimizer.param_groups)}; "
                               "start a new run from its weights with --init-from")
        optimizer.load_state_dict(ckpt["optimizer"])
        if ckpt.get("scaler"):
            scaler.load_state_dict(ckpt["scaler"])
        torch.set_rng_state(ckpt["rng"]["torch"])
        if device.type == "cuda" and ckpt["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state(ckpt["rng"]["cuda"], device)
        start, elapsed_before = int(ckpt["step"]), float(ckpt.get("elapsed_s", 0.0))
        history = list(ckpt.get("history") or [])
        if int(ckpt.get("world", 1)) != info.world:
            quiet_say(f"warning: the run was trained with {ckpt.get('world', 1)} process(es), now {info.world}: "
                      "the effective batch and the data order change from here on")
        if cfg.schedule == "cosine" and int(ckpt["train_config"].get("steps", cfg.steps)) != cfg.steps:
            quiet_say("warning: --steps changed under the cosine schedule: the learning rate follows the new "
                      "length from here on")
        quiet_say(f"resuming {run_dir} at step {start}")
    del ckpt
    net: nn.Module = model
    if info.enabled:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    end = cfg.steps if stop_at is None else min(cfg.steps, stop_at)

    workers = cfg.workers if cfg.workers is not None else _default_workers(device, info.world)
    loader = torch.utils.data.DataLoader(
        data, batch_sampler=BatchOrder(cfg.batch_size, start, cfg.grad_accum, info.rank, info.world),
        collate_fn=collate, num_workers=workers, pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(cfg.seed),  # its own: the global RNG (noise inputs) stays exact on resume
        persistent_workers=False, prefetch_factor=4 if workers else None)
    batches = iter(loader)

    columns = ["step", "lr", "loss", *task.loss_names, "sec_per_step", "images_per_sec", "elapsed_s"]
    log = CsvLog(run_dir / "log.csv", columns, resume_step=start if resume else None) if info.main else None
    if info.main:
        _write_config(run_dir, task, cfg, precision, info.world)

    # ---- the loop
    run_start = window_start = time.perf_counter()
    window_steps, sums, last = 0, torch.zeros(1 + len(task.loss_names)), {}
    skipped: Dict[str, int] = {}  # reason -> times drawn
    bar = _bar(start, cfg.steps, progress and info.main)
    step, stopped_early = start, False

    def state() -> Dict[str, Any]:
        return {"task": task.name, "task_config": task.task_config(), "train_config": asdict(cfg),
                "model_kind": kind, "model_config": config_to_dict(model.config),
                "model_extra": task.model_extra(), "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict() if scaler.is_enabled() else None,
                "step": step, "elapsed_s": elapsed_before + time.perf_counter() - run_start,
                "data": counts, "precision": precision, "world": info.world,
                "history": history + [{"command": shlex.join(sys.argv), "start_step": start, "end_step": step,
                                       "wall_s": round(time.perf_counter() - run_start, 1),
                                       "hardware": describe_hardware(device), "processes": info.world,
                                       "precision": precision}],
                "rng": {"torch": torch.get_rng_state(),
                        "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None}}

    def diverged(what: str) -> FloatingPointError:
        kept = f" (the last checkpoint in {run_dir} is intact)" if (run_dir / LATEST).exists() else ""
        return FloatingPointError(f"{what} at step {step}; lower --lr{kept}")

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

    try:
        model.train()
        while step < end:
            lr = lr_at(step, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr * group.get("lr_scale", 1.0)
            for micro in range(cfg.grad_accum):
                batch = next(batches)
                for reason in batch["skipped"]:
                    if reason not in skipped:
                        quiet_say(f"warning: skipping an unreadable image ({reason}); "
                                  f"{len(skipped) + 1} unreadable so far")
                    skipped[reason] = skipped.get(reason, 0) + 1
                batch = _to_device(batch, device, cfg.channels_last)
                sync = net.no_sync() if info.enabled and micro < cfg.grad_accum - 1 else nullcontext()
                with sync, torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                    loss, parts = task.loss(net, batch)
                scaler.scale(loss / cfg.grad_accum).backward()
                sums += torch.stack([loss.detach().float().cpu()] + [parts[n].detach().float().cpu()
                                                                     for n in task.loss_names]) / cfg.grad_accum
            if cfg.clip_grad is not None:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            window_steps += 1
            if not math.isfinite(float(loss.detach())) and not scaler.is_enabled():
                raise diverged(f"the loss became {float(loss.detach())}")

            over_time = cfg.max_minutes is not None and time.perf_counter() - run_start > 60 * cfg.max_minutes
            stopped_early = D.any_true(over_time, info, device) and step < end
            if step % cfg.log_every == 0 or step == end or stopped_early:
                means = D.all_mean(sums / window_steps, info).tolist()
                now = time.perf_counter()
                sec = (now - window_start) / window_steps
                last = dict(zip(["loss", *task.loss_names], means))
                row = {"step": step, "lr": lr, **last, "sec_per_step": sec,
                       "images_per_sec": cfg.batch_size * cfg.grad_accum * info.world / sec,
                       "elapsed_s": elapsed_before + now - run_start}
                if log is not None:
                    log.append(row)
                bar.set_postfix_str(" ".join(f"{k} {v:.3g}" for k, v in last.items()))
                window_start, window_steps, sums = now, 0, torch.zeros_like(sums)
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
        if step > start:
            checkpoint()
            quiet_say(f"interrupted; checkpoint saved at step {step} in {run_dir}")
        raise
    finally:
        bar.close()
        del batches
        D.shutdown(info)
    return TrainResult(run_dir, step, elapsed_before + time.perf_counter() - run_start, last, stopped_early)


def _bar(start: int, total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=start, unit="step", file=sys.stderr, disable=not enabled,
                dynamic_ncols=True, smoothing=0.05)


def _write_config(run_dir: Path, task: Task, cfg: TrainConfig, precision: str, world: int) -> None:
    import json

    from ..atomic import write_text

    text = json.dumps({"task": task.name, "task_config": task.task_config(), "train_config": asdict(cfg),
                       "precision": precision, "processes": world}, indent=2)
    write_text(run_dir / "config.json", text + "\n", overwrite=True, what="run config")


@torch.no_grad()
def _write_samples(run_dir: Path, task: Task, model: nn.Module, step: int) -> None:
    from ..atomic import write_with

    model.eval()
    sheet = task.samples(model)
    if sheet is not None:
        write_with(run_dir / "samples" / f"step_{step:08d}.jpg",
                   lambda f: sheet.save(f, format="JPEG", quality=90), overwrite=True, what="sample grid")
