"""The main job (``xai-gan run``): every stage of :mod:`xai_gan.pipeline` in order, the
studies, then the HTML report. Each stage skips or resumes finished work, so an interrupted
job re-run loses nothing; a GAN that collapses is reported, not scored."""
from __future__ import annotations

import time
from dataclasses import asdict

import pandas as pd

from . import gan, pipeline, report, studies
from .config import RunConfig
from .io import save_json
from .results import record_time
from .stages import MAIN_JOB, STAGES


def run(config: RunConfig) -> dict:
    """Run every stage, then write ``summary.json``, ``timings.json`` and ``report.html``
    into the run folder; returns the summary (with the report's path and the job's
    ``total_seconds``, data generation and report included)."""
    start = time.perf_counter()
    studies.check(config.studies)  # a typo stops the job now, not after the training
    splits = pipeline.datasets(config)
    seconds, results = {}, {}
    for i, stage in enumerate(MAIN_JOB, 1):
        print(f"== {i}/{len(MAIN_JOB) + 1} {stage} ==", flush=True)
        tic = time.perf_counter()
        try:
            results[stage] = STAGES[stage].run(config, splits)
        except gan.GeneratorCollapsed as err:  # recorded in its folder; the report says so
            print(f"{stage}: the run's GAN is left out: {err}", flush=True)
            results[stage] = pd.DataFrame()
        seconds[stage] = time.perf_counter() - tic
        record_time(config.run_dir, stage, seconds[stage])
    print(f"== {len(MAIN_JOB) + 1}/{len(MAIN_JOB) + 1} report ==", flush=True)
    summary = {"profile": config.profile,
               "config": {k: v for k, v in asdict(config).items() if k != "settings"},
               "stage_seconds": seconds,
               "classifiers": results["train-classifiers"].drop(columns="checkpoint")
               .to_dict("records"),
               "representations": results["build-representations"].to_dict("records"),
               "gan": results["train-gan"].to_dict("records"),
               "studies": {name: value if isinstance(value, str) else "done"
                           for name, value in results["studies"].items()}}
    save_json(summary, config.layout.summary)
    summary["report"] = str(report.write(config))
    summary["total_seconds"] = time.perf_counter() - start
    return summary
