import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

import pytest

import xai_gan as xg
from conftest import write_fake_fashion
from xai_gan import cli

SMALL = ["--profile", "ci", "--cnn-epochs", "1", "--n-train", "64", "--cnn-batch-size", "32",
         "--image-size", "32"]


def gan_dir(*argv):
    """The GAN folder that ``xai-gan train-gan *argv`` trains in."""
    args = cli.parse(["train-gan", *argv])
    args.pop("command")
    return cli.run_config(args).gan_dir


def test_train_classifiers_writes_checkpoints_and_resumes(tmp_path):
    argv = ["train-classifiers", "--run-dir", str(tmp_path), "--models", "vgg", "mobilenet",
            *SMALL]
    assert cli.main(argv) == 0
    table = pd.read_csv(tmp_path / "classifiers" / "classifiers.csv")
    assert table["model"].tolist() == ["vgg", "mobilenet"]
    assert table["test_accuracy"].between(0, 1).all()
    assert (table["n_test"] == xg.profiles.PROFILES["ci"]["n_eval"]).all()
    checkpoint = tmp_path / "classifiers" / "vgg.pt"
    stamp = checkpoint.stat().st_mtime_ns
    assert cli.main(argv) == 0  # a finished stage is not trained again
    assert checkpoint.stat().st_mtime_ns == stamp
    again = pd.read_csv(tmp_path / "classifiers" / "classifiers.csv")
    pd.testing.assert_frame_equal(table, again)


def stamps(root):
    """Modification times of every checkpoint, store chunk and finished-result marker."""
    return {p: p.stat().st_mtime_ns for p in root.rglob("*")
            if p.suffix in (".pt", ".npy") or p.name == "settings.json"}


def test_main_job_runs_every_stage_survives_an_interruption_and_resumes(tmp_path, monkeypatch,
                                                                        capsys):
    fashion = tmp_path / "fashion"
    write_fake_fashion(fashion, 5000 + 48, 40)  # the last 5000 training images are val
    monkeypatch.setenv(xg.data.FASHION_MNIST_ENV, str(fashion))
    run_dir = tmp_path / "run"
    argv = ["run", "--run-dir", str(run_dir), "--models", "vgg", "mobilenet", "--k", "4",
            "--n-eval", "24", "--n", "3", "--methods", "gradcam", "gan", "--gan-seconds", "3",
            "--study-seconds", "2", *SMALL]
    real_transfer = xg.interpret.transfer

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(xg.interpret, "transfer", killed)  # killed during the studies
    with pytest.raises(KeyboardInterrupt):
        cli.main(argv)
    assert not (run_dir / "report.html").exists()
    before = stamps(run_dir)
    assert before and (run_dir / "evaluation" / "vgg" / "settings.json") in before
    monkeypatch.setattr(xg.interpret, "transfer", real_transfer)
    capsys.readouterr()
    assert cli.main(argv) == 0
    assert re.search(r"the main job took \d+ min \d+ s", capsys.readouterr().out)
    after = stamps(run_dir)
    assert {p: after[p] for p in before} == before  # nothing finished was redone

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["profile"] == "ci" and summary["config"]["k"] == 4
    assert summary["config"]["teacher"] == "gradcam"  # similarity metrics: the teacher
    assert set(summary["studies"].values()) == {"done"}
    assert [(r["model"], r["split"], r["n"]) for r in summary["representations"]][:3] == [
        ("vgg", "train", 64), ("vgg", "val", 24), ("vgg", "test", 24)]
    evaluation = pd.read_csv(run_dir / "evaluation" / "mobilenet" / "summary.csv")
    assert set(evaluation.method) == {"gradcam", "gan"}
    assert {"deletion_auc", "iou", "max_sensitivity", "randomisation_ssim", "pearson",
            "ms_per_image"} <= set(evaluation.metric)
    loo = pd.read_csv(run_dir / "studies" / "cross-architecture" / "transfer.csv")
    assert sorted(zip(loo.gan, loo.tested_on)) == [
        ("without mobilenet", "mobilenet"), ("without mobilenet", "vgg"),
        ("without vgg", "mobilenet"), ("without vgg", "vgg")]
    # two CNNs: "without vgg" trains on mobilenet alone, yet never reuses the run's own GAN
    own = {p.parent for p in (run_dir / "gan").glob("*/best.pt")}
    left_out = {p.parent for p in (run_dir / "studies" / "cross-architecture" / "gan").glob(
        "without-*/best.pt")}
    assert {p.name.rsplit("-", 1)[0] for p in left_out} == {"without-vgg", "without-mobilenet"}
    assert not own & left_out
    cross = pd.read_csv(run_dir / "studies" / "cross-dataset" / "transfer.csv")
    assert set(cross.tested_on) == {"shapes", "fashion-mnist"} and len(cross) == 4
    relevance = pd.read_csv(run_dir / "studies" / "condition-relevance" / "per_image.csv")
    assert set(relevance.condition) == {0, 1, 2, 3} and set(relevance.model) == {"vgg",
                                                                                "mobilenet"}
    html = (run_dir / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 2 * 3 + 3  # examples, ranks, bars; studies
    for heading in ("Timings", "Classifiers", "GAN training", "Every explainer x every metric",
                    "Condition relevance", "Cross-architecture", "Cross-dataset",
                    "Configuration"):
        assert heading in html
    assert "| gan |" in (run_dir / "results.md").read_text()
    timings = json.loads((run_dir / "timings.json").read_text())
    # the interrupted run timed the stages it finished, not the one it was killed in
    assert timings["evaluate"]["runs"] == 2 and timings["studies"]["runs"] == 1

    assert cli.main(argv) == 0  # a third run only reads what is there
    assert stamps(run_dir) == after
    assert json.loads((run_dir / "timings.json").read_text())["train-gan"]["runs"] == 3


def test_a_study_that_cannot_run_is_recorded_not_fatal(tmp_path, monkeypatch):
    monkeypatch.setenv(xg.data.FASHION_MNIST_ENV, str(tmp_path / "none"))
    config = xg.pipeline.RunConfig(run_dir=tmp_path, models=["vgg"], profile="ci",
                                   studies=["cross-architecture", "cross-dataset"])
    splits = {"test": xg.data.load("shapes", "test", 32, n=4)}
    results = xg.studies.run(config, splits)
    assert "at least two --models" in results["cross-architecture"]
    assert "apt-get install dataset-fashion-mnist" in results["cross-dataset"]
    told = xg.studies.run(config.with_gan(condition_on_class=True), splits)
    assert "no meaning for" in told["cross-dataset"]
    with pytest.raises(ValueError, match=r"unknown studies \['nope'\]; choose from"):
        xg.studies.run(config.replace(studies=["condition-relevance", "nope"]), splits)


def test_config_file_sets_defaults_that_flags_override(tmp_path, capsys):
    path = tmp_path / "job.json"
    path.write_text(json.dumps({"models": ["vgg", "resnet"], "k": 4, "gan-seconds": 30,
                                "run_dir": "runs/x"}))
    args = cli.parse(["run", "--config", str(path), "--k", "6"])
    assert (args["models"], args["k"], args["gan.max_seconds"]) == (["vgg", "resnet"], 6, 30)
    assert cli.run_config({k: v for k, v in args.items() if k != "command"}).gan.max_seconds == 30
    assert str(args["run_dir"]) == "runs/x"
    path.write_text(json.dumps({"modles": ["vgg"]}))
    assert cli.main(["run", "--config", str(path)]) == 2
    assert "unknown settings ['modles']" in capsys.readouterr().err
    path.write_text("{models: vgg")
    assert cli.main(["run", "--config", str(path)]) == 2
    assert "is not valid JSON" in capsys.readouterr().err


def test_fashion_mnist_runs_take_the_first_n_images_converted(tmp_path, monkeypatch):
    write_fake_fashion(tmp_path, 5000 + 30, 20)
    monkeypatch.setenv(xg.data.FASHION_MNIST_ENV, str(tmp_path))
    config = xg.pipeline.RunConfig(dataset="fashion-mnist", n_train=12, n_eval=8, channels=3,
                                   image_size=48, profile="ci")
    splits = xg.pipeline.datasets(config)
    assert {s: len(d) for s, d in splits.items()} == {"train": 12, "val": 8, "test": 8}
    assert splits["test"][0]["image"].shape == (3, 48, 48)
    whole = xg.pipeline.datasets(xg.pipeline.RunConfig(dataset="fashion-mnist", profile="ci"))
    assert {s: len(d) for s, d in whole.items()} == {"train": 30, "val": 5000, "test": 20}


def test_every_dataset_gets_the_run_seed_root_and_sizes(tmp_path):
    from PIL import Image

    for c, name in enumerate(("cats", "dogs")):
        (tmp_path / name).mkdir()
        for i in range(10):
            Image.new("RGB", (8 + i, 8), (200 * c, 0, 0)).save(tmp_path / name / f"{i}.png")
    config = xg.pipeline.RunConfig(dataset="imagefolder", data_root=str(tmp_path), n_train=5,
                                   image_size=32, profile="ci")
    splits = xg.pipeline.datasets(config)
    assert len(splits["train"]) == 5 and len(splits["val"]) == 2
    # seed 0, the run's default, is the loader's own: the split made before runs passed seeds
    assert splits["val"].samples == xg.data.load("imagefolder", "val", root=tmp_path).samples
    shapes = xg.pipeline.RunConfig(dataset="shapes", seed=3, data_root=str(tmp_path),
                                   download=True, image_size=32, profile="ci")
    train = xg.pipeline.datasets(shapes)["train"]  # root and download: ignored, nothing read
    assert (train.seed, len(train)) == (3, shapes.n_train)


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


def test_every_run_setting_is_a_flag_with_help_and_the_profile_resolves_once(monkeypatch):
    """The CLI's flags come from RunConfig's and TrainConfig's fields, each sub-command taking
    its stage's groups; None takes the profile, 0 does not."""
    parser = cli.parser()
    for name, stage in cli.COMMANDS.items():
        dests = {a.dest: a for a in parser.stages[name]._actions}
        for dest, f, _ in cli._settings():
            if f.metadata["group"] is None or f.metadata["group"] in stage.groups:
                assert dest in dests and dests[dest].help, (name, dest)
            else:
                assert dest not in dests, (name, dest)
    monkeypatch.delenv("XAI_GAN_PROFILE", raising=False)
    config = xg.RunConfig(gan={"max_seconds": 0}, n_explain=0)
    assert config.profile == "main" and config.models == ["vgg", "resnet"]
    assert config.gan.max_seconds == 0 and config.n_explain == 0  # given, not "unset"
    assert config.gan.epochs == xg.profiles.PROFILES["main"]["gan_epochs"]
    assert config.study_n == xg.profiles.PROFILES["main"]["n_study"]
    derived = config.replace(models=["vgg"], seed=3)
    assert derived.models == ["vgg"] and derived.image_size == config.image_size
    assert derived.gan.seed == 3 and derived.gan.max_seconds == 0  # the run's seed reaches it
    args = cli.parse(["train-gan", "--teacher", "sise", "--gan-seconds", "5"])
    assert args["teacher"] == "sise" and args["gan.max_seconds"] == 5.0
    assert args["profile"] is None and args["gan.distributed"] is None
    assert cli.parse(["train-gan", "--distributed"])["gan.distributed"]
    assert "--teacher" in cli.parser().stages["build-representations"].format_help()
    assert "--generator" not in cli.parser().stages["build-representations"].format_help()
    with pytest.raises(ValueError, match=r"unknown GAN settings \['epoch'\]"):
        xg.RunConfig(gan={"epoch": 3})


def test_a_gan_folder_is_named_by_every_setting_of_its_identity():
    """Two runs share a GAN folder exactly when they would train the same GAN."""
    base = xg.RunConfig(profile="ci", models=["vgg"])
    same = [base.with_gan(epochs=99, max_seconds=1), base.replace(n_explain=3)]
    assert {c.gan_dir for c in same} == {base.gan_dir}
    changed = [base.with_gan(lr=1e-3), base.with_gan(gan_loss="hinge"), base.replace(seed=1),
               base.with_gan(distil_weight=10.0), base.replace(k=4), base.replace(map_size=16),
               base.replace(teacher="sise"), base.with_gan(generator="gsft")]
    dirs = {c.gan_dir for c in changed}
    assert len(dirs) == len(changed) and base.gan_dir not in dirs
    # settings a distilled GAN never uses do not make another folder
    assert base.with_gan(deletion_weight=1.0).gan_dir == base.gan_dir
    faithful = base.with_gan(objective="faithful")
    assert faithful.with_gan(deletion_weight=1.0).gan_dir != faithful.gan_dir


def test_every_flag_the_docs_give_is_one_the_cli_takes():
    root = Path(__file__).resolve().parents[1]
    known = {"--help", "--config", "--out", "--model", "--target", "--methods"}
    for p in cli.parser().stages.values():
        known |= {o for a in p._actions for o in a.option_strings}
    texts = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    for path in texts:
        text = path.read_text().replace("\\\n", " ")  # a command continued on the next line
        for command in re.findall(r"xai-gan [a-z-]+[^\n`]*", text):
            flags = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", command))
            assert flags <= known, (path.name, command, sorted(flags - known))


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "xai_gan", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "train-classifiers" in out and "run" in out


def test_a_log_written_to_a_file_gets_lines_not_progress_bar_redraws(tmp_path):
    log = tmp_path / "log.txt"
    with log.open("w") as out:
        subprocess.run([sys.executable, "-m", "xai_gan", "train-classifiers", "--run-dir",
                        str(tmp_path), "--models", "vgg", *SMALL], stdout=out,
                       stderr=subprocess.STDOUT, check=True)
    text = log.read_text()
    assert "\r" not in text and "it/s" not in text
    assert "vgg: test accuracy" in text
    lines = text.splitlines()
    assert len(lines) < 20, lines


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
            "--teacher", "gradcam", "--n", "3", *SMALL]
    assert cli.main(argv) == 0
    out = tmp_path / "evaluation" / "untrained"
    assert {p.name for p in out.iterdir()} == {"per_image.csv", "summary.csv", "settings.json",
                                              "metric_bars.png", "rank_table.png",
                                              "examples.png"}
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


def test_train_gan_then_evaluate_it_with_the_baselines(tmp_path, capsys, monkeypatch):
    common = ["--run-dir", str(tmp_path), "--models", "vgg", "--k", "4", *SMALL]
    assert cli.main(["train-gan", *common]) == 2  # no stores yet: says which command makes them
    assert "xai-gan build-representations" in capsys.readouterr().err
    assert cli.main(["train-classifiers", *common]) == 0
    assert cli.main(["build-representations", *common, "--shard", "2/2"]) == 2
    assert "shard i/n needs 0 <= i < n, got '2/2'" in capsys.readouterr().err
    # two processes' shares of the stores (one after the other here): 64 train images make
    # one chunk, so share 1 of 2 has nothing to build and leaves the store to share 0
    assert cli.main(["build-representations", *common, "--shard", "1/2"]) == 0
    assert "vgg train: shard 1/2 done, others still to finish" in capsys.readouterr().out
    assert cli.main(["build-representations", *common, "--shard", "0/2"]) == 0
    assert len(xg.store.RepresentationStore(tmp_path / "representations/gradcam/vgg/train")) == 64
    no_adversary = ["--adversarial-weight", "0", "--augment", "flip"]
    assert cli.main(["train-gan", *common, "--gan-epochs", "1", *no_adversary]) == 0
    trained = gan_dir(*common, *no_adversary)  # the epochs are not part of its identity
    assert trained == gan_dir(*common, *no_adversary, "--gan-epochs", "1")
    assert trained.name.startswith("msft-tiny-gradcam-vgg-distil-")
    assert trained != gan_dir(*common, "--adversarial-weight", "0")
    assert (trained / "best.pt").exists() and (trained / "history.csv").exists()
    assert xg.io.load_torch(trained / "last.pt")["config"]["augment"] == "flip"
    recorded = json.loads((trained / "config.json").read_text())
    assert recorded["train"]["augment"] == "flip" and recorded["run"]["models"] == ["vgg"]
    assert cli.main(["evaluate", *common, *no_adversary, "--n", "2",
                     "--metrics", "iou", "ms_per_image"]) == 0
    summary = pd.read_csv(tmp_path / "evaluation" / "vgg" / "summary.csv")
    assert {"gan", "gradcam", "sise"} <= set(summary.method)
    # a GAN by its folder's tag, beside the baselines; a missing one is named
    tagged = ["evaluate", *common, "--n", "2", "--metrics", "iou", "--methods", "gradcam",
              f"gan:{trained.name}"]
    assert cli.main(tagged) == 0
    summary_path = tmp_path / "evaluation" / "vgg" / "summary.csv"
    assert set(pd.read_csv(summary_path).method) == {"gradcam", tagged[-1]}
    stamp = summary_path.stat().st_mtime_ns
    assert cli.main(tagged) == 0 and summary_path.stat().st_mtime_ns == stamp  # skipped
    later = (trained / "best.pt").stat().st_mtime_ns + 10**9
    os.utime(trained / "best.pt", ns=(later, later))  # as if the GAN were retrained
    assert cli.main(tagged) == 0 and summary_path.stat().st_mtime_ns != stamp  # re-evaluated
    capsys.readouterr()
    assert cli.main(["evaluate", *common, "--methods", "gan:nope"]) == 2
    assert "gan/nope/best.pt does not exist" in capsys.readouterr().err
    # told the explained class too: a folder of its own, a plane per class of the CNN
    by_class = [*common, *no_adversary, "--condition-on-class"]
    assert cli.main(["train-gan", *by_class, "--gan-epochs", "1"]) == 0
    assert gan_dir(*by_class).name.startswith("msft-class-tiny-gradcam-vgg-distil-")
    assert xg.io.load_torch(gan_dir(*by_class) / "best.pt")["spec"]["classes"] == 6
    assert cli.main(["evaluate", *by_class, "--n", "2", "--metrics", "iou",
                     "--methods", "gan"]) == 0
    assert set(pd.read_csv(summary_path).method) == {"gan"}
    # a faithful GAN with baselines it must beat, trained beside it and evaluated by name
    faithful = [*common, "--objective", "faithful", "--gan-baselines", "linear", "distil",
                "--gan-epochs", "1"]
    assert cli.main(["train-gan", *faithful]) == 0
    distilled = gan_dir(*common)
    for folder in (gan_dir(*faithful), gan_dir(*faithful, "--generator", "linear"),
                   distilled):  # the GAN, linear with its objective, distilled
        assert (folder / "best.pt").exists()
    assert xg.io.load_torch(distilled / "best.pt")["teacher"] == "gradcam"
    assert cli.main(["evaluate", *faithful, "--n", "2", "--metrics", "deletion_auc"]) == 0
    assert {"gan", "gan:linear", "gan:distil", "copy"} <= set(pd.read_csv(summary_path).method)
    with pytest.raises(ValueError, match="unknown GAN baselines \\['nope'\\]"):
        xg.RunConfig(gan_baselines=["nope"])
    # a GAN that collapses: the error names it, its baselines still train, it is not scored
    monkeypatch.setattr(xg.gan.generators.MSFTGenerator, "draw", lambda self, image, c:
                        self.out.bias.view(1, 1, 1, 1).expand(len(image), 1, *image.shape[-2:]))
    # (the edge map: a teacher that depends on the image, as this CNN's Grad-CAM hardly does)
    constant = [*common, "--teacher", "edge", "--recipe", "paper", "--gan-baselines", "linear",
                "--gan-epochs", "2"]
    assert cli.main(["build-representations", *common, "--teacher", "edge"]) == 0
    assert cli.main(["train-gan", *constant]) == 2
    out, err = capsys.readouterr()
    assert f"{gan_dir(*constant).name} collapsed: at epoch 2" in err
    # linear, blind to the image, cannot draw its edges either: left out, after the GAN
    assert "GAN baseline gan:linear is left out: the generator in" in out
    linear = gan_dir(*constant, "--generator", "linear")
    assert xg.gan.collapse.recorded(linear)
    assert cli.main(["evaluate", *constant, "--n", "2", "--metrics", "iou",
                     "--methods", "gan"]) == 2
    assert "gan has no map to evaluate: the generator in" in capsys.readouterr().err
    assert [line.split(":")[0] for line in xg.report.collapses(tmp_path)] == [
        f"Generator {folder.name} collapsed and is not scored"
        for folder in (linear, gan_dir(*constant))]


def test_transfer_studies_study_a_gan_distilled_from_the_teacher(tmp_path):
    """They score closeness to the teacher's maps: a faithful run's GAN learned no teacher."""
    distilled = xg.RunConfig(run_dir=tmp_path, profile="ci")
    assert xg.studies.transfer_config(distilled) is distilled
    faithful = distilled.with_gan(objective="faithful").replace(gan_baselines=["linear"])
    study = xg.studies.transfer_config(faithful)
    assert study.gan.objective == "distil" and study.gan_baselines == []
    assert study.gan_dir == distilled.gan_dir  # the run's distil baseline, if it trained one
    assert faithful.baselines().keys() == {"gan:linear"}
    assert distilled.replace(gan_baselines=["distil", "faithful"]).baselines().keys() == {
        "gan:faithful"}  # a baseline identical to the GAN itself is left out
