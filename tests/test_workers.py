"""Work spread over processes (:mod:`xai_gan.workers`): the results of one process, in order."""
import math
import os
import shutil

import pandas as pd
import pytest
import torch

import xai_gan as xg
from xai_gan import cli, workers


def test_results_come_back_in_task_order_from_other_processes():
    assert os.getpid() not in workers.run(os.getpid, [()] * 3, 2)
    assert workers.run(pow, [(2, i) for i in range(6)], 2) == [1, 2, 4, 8, 16, 32]
    assert workers.run(os.getpid, [()], 2) == [os.getpid()]  # one task: no other process


def test_a_task_error_is_raised_here_and_the_pool_still_works():
    with pytest.raises(ValueError, match="math domain error"):
        workers.run(math.sqrt, [(4.0,), (-1.0,)], 2)
    assert workers.run(math.sqrt, [(4.0,), (9.0,)], 2) == [2.0, 3.0]


def test_workers_draw_no_progress_bars_and_split_the_threads():
    assert workers.run(xg.progress.watched, [()] * 2, 2) == [False, False]
    share = max(1, torch.get_num_threads() // 2)
    assert workers.run(torch.get_num_threads, [()] * 2, 2) == [share, share]


def test_two_workers_only_on_a_cpu_with_two_threads_outside_jupyter(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert workers.default_workers("cpu") == 2
    assert workers.default_workers("cuda") == 1
    assert xg.RunConfig(device="cpu").worker_count() == 2
    assert xg.RunConfig(device="cpu", workers=3).worker_count() == 3
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert workers.default_workers("cpu") == 1
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    monkeypatch.setattr(xg.progress, "in_notebook", lambda: True)
    assert workers.default_workers("cpu") == 1


@pytest.fixture
def one_thread():
    """One thread here and so in each worker: the same arithmetic either way."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_evaluate_on_two_workers_scores_what_one_process_scores(tmp_path, one_thread):
    common = ["--run-dir", str(tmp_path), "--models", "vgg", "resnet", "--k", "4", "--profile",
              "ci", "--cnn-epochs", "1", "--n-train", "64", "--n-eval", "16",
              "--cnn-batch-size", "32", "--image-size", "32"]
    assert cli.main(["train-classifiers", *common]) == 0
    assert cli.main(["build-representations", *common]) == 0
    scores = {}
    for n in (1, 2):
        shutil.rmtree(tmp_path / "evaluation", ignore_errors=True)
        assert cli.main(["evaluate", *common, "--workers", str(n), "--methods", "gradcam",
                         "lrp", "random", "--metrics", "deletion_auc", "max_sensitivity",
                         "ssim", "ms_per_image", "--n", "3"]) == 0
        scores[n] = {cnn: pd.read_csv(tmp_path / "evaluation" / cnn / "per_image.csv")
                     for cnn in ("vgg", "resnet")}
        assert all((tmp_path / "evaluation" / cnn / "examples.png").exists()
                   for cnn in ("vgg", "resnet"))
    for cnn in ("vgg", "resnet"):
        one, two = (scores[n][cnn].sort_values(["method", "metric", "image"])
                    .reset_index(drop=True) for n in (1, 2))
        assert len(one) == 3 * 4 * 3 and one.method.unique().tolist() == ["gradcam", "lrp",
                                                                           "random"]
        timed = one.metric == "ms_per_image"  # timed anew: the same rows, other times
        assert (two.value[timed] > 0).all() and timed.sum() == 3 * 3
        pd.testing.assert_frame_equal(one[~timed], two[~timed])
        pd.testing.assert_frame_equal(one[timed].drop(columns="value"),
                                      two[timed].drop(columns="value"))
