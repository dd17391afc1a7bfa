"""Weights & Biases logging of series stores (wandb is imported only when used).

``make_wandb_step_logger`` feeds a live sweep's steps to W&B; ``log_store`` replays a store;
``read_offline_run`` reads back what an offline run recorded.
"""

from tracker.wandb_logging.offline import OfflineRun, read_offline_run
from tracker.wandb_logging.wandb_logger import (
    WandbStepLogger,
    import_wandb,
    log_store,
    make_wandb_step_logger,
)

__all__ = [
    "OfflineRun",
    "WandbStepLogger",
    "import_wandb",
    "log_store",
    "make_wandb_step_logger",
    "read_offline_run",
]
