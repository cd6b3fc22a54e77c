import json
import subprocess
import sys

import pandas as pd

from xai_gan import cli

SMALL = ["--profile", "ci", "--epochs", "1", "--n-train", "64", "--batch-size", "32"]


def test_train_classifiers_writes_checkpoints_and_resumes(tmp_path):
    argv = ["train-classifiers", "--run-dir", str(tmp_path), "--models", "vgg", "mobilenet",
            *SMALL]
    assert cli.main(argv) == 0
    table = pd.read_csv(tmp_path / "classifiers" / "classifiers.csv")
    assert table["model"].tolist() == ["vgg", "mobilenet"]
    assert table["test_accuracy"].between(0, 1).all() and (table["n_test"] == 120).all()
    checkpoint = tmp_path / "classifiers" / "vgg.pt"
    stamp = checkpoint.stat().st_mtime_ns
    assert cli.main(argv) == 0  # a finished stage is not trained again
    assert checkpoint.stat().st_mtime_ns == stamp
    again = pd.read_csv(tmp_path / "classifiers" / "classifiers.csv")
    pd.testing.assert_frame_equal(table, again)


def test_run_writes_a_summary(tmp_path):
    assert cli.main(["run", "--run-dir", str(tmp_path), "--models", "vgg", *SMALL]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["profile"] == "ci"
    assert [c["model"] for c in summary["classifiers"]] == ["vgg"]
    assert summary["stage_seconds"]["train-classifiers"] > 0


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
