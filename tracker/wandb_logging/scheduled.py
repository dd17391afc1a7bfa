"""W&B for scheduled sweeps: each run appends the series' new steps to one resumed W&B run."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from tracker.runner.scheduled import Publisher
from tracker.runner.spec import SeriesSpec, WandbConfig
from tracker.sources import Checkpoint, CheckpointSeries
from tracker.store import Journal, StepShard


def make_publisher(settings: WandbConfig, probes: list[Any]) -> Publisher:
    """Return a publisher that logs a series' new steps, in step order, to its W&B run.

    The run id is made on the first run and kept in the series' journal; later runs resume
    that run (``resume="allow"``), so cron invocations append to one history. Steps at or
    below the last one logged are never sent again (W&B would drop them anyway).
    """
    from tracker.labels import default_group
    from tracker.wandb_logging.wandb_logger import WandbStepLogger

    def publish(spec: SeriesSpec, series: CheckpointSeries, store: Path,
                shards: list[StepShard], journal: Journal) -> int:
        if not journal.wandb_run_id:
            journal.wandb_run_id = f"{spec.name[:40]}-{secrets.token_hex(4)}"
        logger = WandbStepLogger(
            series.series_id, store, project=settings.project,
            group=settings.group or default_group([series.series_id]), job_type="sweep",
            mode=settings.mode, dir=settings.dir,
            config={"tokens_per_step": int(series.tokens_per_step),
                    "provenance": series.describe()},
            keys={p.name: p.key for p in probes}, heatmaps=settings.heatmaps, artifact=False,
            tags=[p.name for p in probes], run_id=journal.wandb_run_id)
        last = journal.wandb_last_step
        try:
            for shard in sorted(shards, key=lambda s: s.step):
                ckpt = Checkpoint(shard.step, shard.revision, shard.tokens)
                logger.on_step(ckpt, shard)
                last = max(last, shard.step)
        except BaseException:
            logger.finish(exit_code=1)
            raise
        logger.finish()
        return last

    return publish
