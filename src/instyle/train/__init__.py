"""Training: one loop (:func:`train`) shared by every network, and the tasks it trains."""

from .adain import AdaINTask, AdaINTrainConfig
from .config import TrainConfig
from .distill import DistillConfig, DistillTask
from .fast import FastTask, FastTrainConfig
from .light import LightAdaINTask, LightTrainConfig
from .loop import MODEL_FILE, Task, TrainResult, train

__all__ = [
    "MODEL_FILE",
    "AdaINTask",
    "AdaINTrainConfig",
    "DistillConfig",
    "DistillTask",
    "FastTask",
    "FastTrainConfig",
    "LightAdaINTask",
    "LightTrainConfig",
    "Task",
    "TrainConfig",
    "TrainResult",
    "train",
]
