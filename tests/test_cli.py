import json
import os
import subprocess
import sys

import pandas as pd

import xai_gan as xg
from xai_gan import cli

SMALL = ["--profile", "ci", "--epochs", "1", "--n-train", "64", "--batch-size", "32",
         "--image-size", "32"]


def test_train_classifiers_writes_checkpoints_and_resumes(tmp_path):
    argv = ["train-classifiers", "--run-dir", str(tmp_path), "--models", "vgg", "mobilenet",
            *SMALL]
    assert cli.main(argv) == 0
    table = pd.read_csv(tmp_path / "classifiers" / "classifiers.csv")
    assert table["model"].tolist() == ["vgg", "mobilenet"]
    assert table["test_accuracy"].between(0, 1).all() and (table["n_test"] == 200).all()
    checkpoint = tmp_path / "classifiers" / "vgg.pt"
    stamp = checkpoint.stat().st_mtime_ns
    assert cli.main(argv) == 0  # a finished stage is not trained again
    assert checkpoint.stat().st_mtime_ns == stamp
    again = pd.read_csv(tmp_path / "classifiers" / "classifiers.csv")
    pd.testing.assert_frame_equal(table, again)


def test_run_trains_builds_and_summarises(tmp_path):
    argv = ["run", "--run-dir", str(tmp_path), "--models", "vgg", "--k", "4", *SMALL]
    assert cli.main(argv) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["profile"] == "ci" and summary["config"]["k"] == 4
    assert [c["model"] for c in summary["classifiers"]] == ["vgg"]
    assert set(summary["stage_seconds"]) == {"train-classifiers", "build-representations"}
    assert [(r["split"], r["n"], r["k"]) for r in summary["representations"]] == [
        ("train", 64, 4), ("val", 200, 4), ("test", 200, 4)]
    store = xg.representation.RepresentationStore(tmp_path / "representations/gradcam/vgg/test")
    assert store[0]["cgms"].shape == (4, 32, 32)
    chunk = tmp_path / "representations/gradcam/vgg/test/chunk-00000"
    stamp = chunk.stat().st_mtime_ns
    assert cli.main(argv) == 0  # the second run resumes: nothing is rebuilt
    assert chunk.stat().st_mtime_ns == stamp


def test_build_representations_needs_a_trained_classifier(tmp_path, capsys):
    assert cli.main(["build-representations", "--run-dir", str(tmp_path), "--models", "vgg",
                     *SMALL]) == 2
    assert "xai-gan train-classifiers --models vgg" in capsys.readouterr().err


def test_missing_dataset_is_a_clear_error(tmp_path, capsys):
    code = cli.main(["train-classifiers", "--dataset", "fashion-mnist", "--data-root",
                     str(tmp_path), "--run-dir", str(tmp_path)])
    assert code == 2
    assert "apt-get install dataset-fashion-mnist" in capsys.readouterr().err


def test_unknown_model_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["train-classifiers", "--models", "lenet", "--run-dir", str(tmp_path),
                     *SMALL]) == 2
    assert "unknown classifier 'lenet'" in capsys.readouterr().err


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "xai_gan", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "train-classifiers" in out and "run" in out


def test_bad_profile_is_refused(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("XAI_GAN_PROFILE", "huge")
    assert cli.main(["run", "--run-dir", str(tmp_path)]) == 2
    assert "unknown profile 'huge'" in capsys.readouterr().err


def test_evaluate_writes_tables_and_figures_and_skips_a_finished_model(tmp_path, capsys):
    model = xg.classifiers.build("vgg", 6, seed=0)
    checkpoint = tmp_path / "untrained.pt"
    xg.classifiers.save_checkpoint(checkpoint, model)
    argv = ["evaluate", "--run-dir", str(tmp_path), "--checkpoint", str(checkpoint),
            "--methods", "gradcam", "lrp", "--metrics", "deletion_auc", "iou", "ssim",
            "--reference", "gradcam", "--n", "3", *SMALL]
    assert cli.main(argv) == 0
    out = tmp_path / "evaluation" / "untrained"
    assert {p.name for p in out.iterdir()} == {"per_image.csv", "summary.csv", "settings.json",
                                              "metric_bars.png", "rank_table.png"}
    table = pd.read_csv(out / "per_image.csv")
    assert len(table) == 2 * 3 * 3 and set(table.metric) == {"deletion_auc", "iou", "ssim"}
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary.columns) >= {"method", "metric", "mean", "std", "n", "better", "rank"}
    assert "deletion_auc" in capsys.readouterr().out
    stamp = (out / "summary.csv").stat().st_mtime_ns
    assert cli.main(argv) == 0  # same settings: not evaluated again
    assert (out / "summary.csv").stat().st_mtime_ns == stamp
    assert cli.main([*argv[:-len(SMALL)], "--n", "2", *SMALL]) == 0  # other settings: redone
    assert len(pd.read_csv(out / "per_image.csv")) == 2 * 3 * 2
    capsys.readouterr()
    assert cli.main(["evaluate", "--run-dir", str(tmp_path), "--methods", "nope",
                     "--checkpoint", str(checkpoint), *SMALL]) == 2
    assert "unknown explainer 'nope'" in capsys.readouterr().err


def test_train_gan_then_evaluate_it_with_the_baselines(tmp_path, capsys):
    common = ["--run-dir", str(tmp_path), "--models", "vgg", "--k", "4", *SMALL]
    assert cli.main(["train-gan", *common]) == 2  # no stores yet: says which command makes them
    assert "xai-gan build-representations" in capsys.readouterr().err
    assert cli.main(["run", *common]) == 0
    assert cli.main(["train-gan", *common, "--gan-epochs", "1", "--adversarial-weight", "0"]) == 0
    gan_dir = tmp_path / "gan" / "msft-tiny-gradcam-vgg-l1only"
    assert (gan_dir / "best.pt").exists() and (gan_dir / "history.csv").exists()
    assert cli.main(["evaluate", *common, "--adversarial-weight", "0", "--n", "2",
                     "--metrics", "iou", "ms_per_image"]) == 0
    summary = pd.read_csv(tmp_path / "evaluation" / "vgg" / "summary.csv")
    assert {"gan", "gradcam", "sise"} <= set(summary.method)
    # a GAN by its folder's tag, beside the baselines; a missing one is named
    tagged = ["evaluate", *common, "--n", "2", "--metrics", "iou", "--methods", "gradcam",
              "gan:msft-tiny-gradcam-vgg-l1only"]
    assert cli.main(tagged) == 0
    summary_path = tmp_path / "evaluation" / "vgg" / "summary.csv"
    assert set(pd.read_csv(summary_path).method) == {"gradcam", "gan:msft-tiny-gradcam-vgg-l1only"}
    stamp = summary_path.stat().st_mtime_ns
    assert cli.main(tagged) == 0 and summary_path.stat().st_mtime_ns == stamp  # skipped
    later = (gan_dir / "best.pt").stat().st_mtime_ns + 10**9
    os.utime(gan_dir / "best.pt", ns=(later, later))  # as if the GAN were retrained
    assert cli.main(tagged) == 0 and summary_path.stat().st_mtime_ns != stamp  # re-evaluated
    capsys.readouterr()
    assert cli.main(["evaluate", *common, "--methods", "gan:nope"]) == 2
    assert "gan/nope/best.pt does not exist" in capsys.readouterr().err
