"""Colab: `make colab-links` points every notebook at the repository it lives in, the install
cell is a no-op wherever the package is importable, and the notebooks share one run folder
(Google Drive on Colab) that notebooks 03-07 reuse. Colab itself is faked here."""
import json
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

import xai_gan as xg
from xai_gan import pipeline

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "colab_links.py"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb"))
DRIVE_RUNS = Path("/content/drive/MyDrive/xai-gan/runs")


def run_script(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--root", str(root), *args],
                          capture_output=True, text=True)


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


@pytest.fixture
def checkout(tmp_path):
    """A copy of the notebooks and the README in a fresh git repository, on branch `work`."""
    (tmp_path / "notebooks").mkdir()
    for path in NOTEBOOKS:
        shutil.copy(path, tmp_path / "notebooks" / path.name)
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    git(tmp_path, "init", "-q")
    git(tmp_path, "checkout", "-q", "-b", "work")
    return tmp_path


def snapshot(root: Path) -> dict:
    return {p.name: p.read_bytes() for p in [*root.glob("notebooks/*.ipynb"), root / "README.md"]}


def install_cell(notebook) -> str:
    return next(c.source for c in notebook.cells if c.cell_type == "code")


def assert_points_at(root: Path, repo: str, branch: str) -> None:
    for path in sorted(root.glob("notebooks/*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        badge = notebook.cells[0].source.splitlines()[0]
        assert badge.endswith(f"(https://colab.research.google.com/github/{repo}/blob/{branch}/"
                              f"notebooks/{path.name})"), badge
        assert f'"xai-gan @ git+https://github.com/{repo}@{branch}"' in install_cell(notebook)
        text = path.read_text()
        colab = re.findall(r"colab\.research\.google\.com/github/([^/]+/[^/]+)/", text)
        assert set(colab) == {repo}
        assert set(re.findall(r"git\+https://github\.com/([^/@]+/[^/@\"]+)", text)) == {repo}
    readme = (root / "README.md").read_text()
    links = re.findall(r"colab\.research\.google\.com/github/([^/]+/[^/]+)/blob/([^/]+)/", readme)
    assert len(links) == len(NOTEBOOKS) and set(links) == {(repo, branch)}


@pytest.mark.parametrize("remote", ["git@github.com:someone/xai-gan-fork.git",
                                    "https://github.com/someone/xai-gan-fork",
                                    "ssh://git@github.com/someone/xai-gan-fork.git"])
def test_colab_links_name_the_origin_repository_and_branch(checkout, remote):
    git(checkout, "remote", "add", "origin", remote)
    before = {p.name: nbformat.read(p, as_version=4) for p in checkout.glob("notebooks/*.ipynb")}
    done = run_script(checkout)
    assert done.returncode == 0, done.stderr
    assert_points_at(checkout, "someone/xai-gan-fork", "work")
    for path in checkout.glob("notebooks/*.ipynb"):  # stored outputs are kept
        after = nbformat.read(path, as_version=4)
        assert [c.get("outputs") for c in after.cells] == \
            [c.get("outputs") for c in before[path.name].cells]
    written = snapshot(checkout)
    again = run_script(checkout)
    assert again.returncode == 0 and "no change" in again.stdout
    assert snapshot(checkout) == written


def test_an_explicit_repo_and_branch_win_over_the_remote(checkout):
    git(checkout, "remote", "add", "origin", "https://github.com/someone/else.git")
    done = run_script(checkout, "--repo", "owner/name", "--branch", "dev")
    assert done.returncode == 0, done.stderr
    assert_points_at(checkout, "owner/name", "dev")


@pytest.mark.parametrize("remote, message", [
    (None, "no git remote 'origin'"),
    ("/srv/git/xai-gan", "not a github.com repository"),
    ("https://gitlab.com/someone/xai-gan.git", "not a github.com repository"),
    ("https://user:secret-token@example.com/x/y.git", "not a github.com repository")])
def test_no_github_remote_is_a_clear_error_and_changes_nothing(checkout, remote, message):
    if remote:
        git(checkout, "remote", "add", "origin", remote)
    before = snapshot(checkout)
    done = run_script(checkout)
    assert done.returncode != 0 and message in done.stderr
    assert "REPO=owner/name" in done.stderr and "secret-token" not in done.stderr
    assert "Traceback" not in done.stderr
    assert snapshot(checkout) == before


def test_a_malformed_repo_is_refused(checkout):
    done = run_script(checkout, "--repo", "https://github.com/owner/name")
    assert done.returncode != 0 and "owner/name" in done.stderr


def test_the_committed_notebooks_are_what_the_script_writes(checkout):
    """Badges and install cells were written by `make colab-links`, not edited by hand."""
    readme = (ROOT / "README.md").read_text()
    repo, branch = re.search(r"colab\.research\.google\.com/github/([^/]+/[^/]+)/blob/([^/]+)/",
                             readme).groups()
    before = snapshot(checkout)
    done = run_script(checkout, "--repo", repo, "--branch", branch)
    assert done.returncode == 0 and "no change" in done.stdout, done.stdout + done.stderr
    assert snapshot(checkout) == before
    assert_points_at(checkout, repo, branch)


# --------------------------------------------------------------------------- the install cell

@pytest.mark.parametrize("colab", [False, True])
def test_the_install_cell_does_nothing_where_the_package_imports(monkeypatch, colab):
    """Locally (and under nbval) it does nothing; on Colab it installs only when xai_gan is not
    importable yet, with pip's only-if-needed strategy (no -U: Colab's torch stays)."""
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: calls.append(args))
    if colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    for path in NOTEBOOKS:
        exec(install_cell(nbformat.read(path, as_version=4)), {})
    assert calls == []


def test_the_install_cell_on_a_fresh_colab_upgrades_nothing(monkeypatch):
    import importlib.util

    calls = []
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: calls.append(command))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    exec(install_cell(nbformat.read(NOTEBOOKS[0], as_version=4)), {})
    (command,) = calls
    assert command[1:4] == ["-m", "pip", "install"]
    assert not {"-U", "--upgrade", "--force-reinstall"} & set(command)
    assert command[command.index("--upgrade-strategy") + 1] == "only-if-needed"


# --------------------------------------------------------------------------- the run folder

@pytest.fixture
def not_colab(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.delenv("XAI_GAN_RUNS", raising=False)


@pytest.fixture
def fake_colab(monkeypatch, not_colab):
    """``google.colab`` with a ``drive.mount`` that records its calls."""
    mounted = []
    drive = types.SimpleNamespace(mount=mounted.append)
    colab = types.ModuleType("google.colab")
    colab.drive = drive
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.drive", drive)
    return mounted


def test_the_run_folder_is_local_off_colab(not_colab):
    assert pipeline.notebook_config(profile="ci").run_dir == Path("runs/notebooks-ci")


def test_xai_gan_runs_overrides_the_folder(not_colab, monkeypatch, tmp_path):
    monkeypatch.setenv("XAI_GAN_RUNS", str(tmp_path))
    assert pipeline.notebook_config(profile="ci").run_dir == tmp_path / "notebooks-ci"


def test_on_colab_every_notebook_shares_one_folder_in_drive(fake_colab, capsys):
    config = pipeline.notebook_config(profile="ci")
    assert config.run_dir == DRIVE_RUNS / "notebooks-ci"
    assert fake_colab == ["/content/drive"]
    assert str(config.run_dir) in capsys.readouterr().out
    # notebook 02's own generator choice lands in the same folder
    assert pipeline.notebook_config(profile="ci", gan={"generator": "gsft", "preset": "paper"}
                                    ).run_dir == config.run_dir


def test_on_colab_an_explicit_folder_outside_drive_mounts_nothing(fake_colab, monkeypatch,
                                                                  tmp_path):
    monkeypatch.setenv("XAI_GAN_RUNS", str(tmp_path))
    assert pipeline.notebook_config(profile="ci").run_dir == tmp_path / "notebooks-ci"
    assert pipeline.notebook_config(profile="ci", root=tmp_path / "x").run_dir == \
        tmp_path / "x" / "notebooks-ci"
    assert fake_colab == []


def test_colab_told_by_the_environment_without_drive_falls_back_to_a_local_folder(
        not_colab, monkeypatch, capsys):
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab_20250101-060000_RC00")
    config = pipeline.notebook_config(profile="ci")
    assert config.run_dir == Path("runs/notebooks-ci")
    assert "Google Drive not mounted" in capsys.readouterr().out


# --------------------------------------------------------------------------- notebook_setup

@pytest.fixture
def stages(monkeypatch, tmp_path, not_colab):
    """notebook_setup over an empty run folder, its stages replaced by recorders."""
    monkeypatch.setenv("XAI_GAN_RUNS", str(tmp_path))
    calls = []
    splits = {"train": [], "val": [], "test": "the test split"}
    monkeypatch.setattr(pipeline, "datasets", lambda config: splits)
    for stage in ("train_classifiers", "build_representations", "train_gan"):
        monkeypatch.setattr(pipeline, stage, lambda config, splits=None, stage=stage:
                            calls.append((stage, config)))
    monkeypatch.setattr(pipeline, "load_classifier", lambda config, name: f"the {name}")
    return calls


def test_notebook_setup_makes_what_is_missing_and_names_the_notebook_that_makes_it(
        stages, capsys):
    config, splits, model, test = pipeline.notebook_setup(profile="ci")
    assert [stage for stage, _ in stages] == ["train_classifiers", "build_representations",
                                              "train_gan"]
    assert (config.gan.generator, config.gan.preset) == ("msft", "tiny")
    out = capsys.readouterr().out
    assert "notebook 01" in out and out.count("notebook 02") == 2
    assert model == "the resnet" and test == "the test split"


def test_notebook_setup_reuses_the_paper_size_gan_of_notebook_02(stages, capsys):
    paper = pipeline.notebook_config(profile="ci", gan={"generator": "gsft", "preset": "paper"})
    tiny = pipeline.notebook_config(profile="ci")
    for config in (paper, tiny):
        config.gan_dir.mkdir(parents=True)
        (config.gan_dir / "best.pt").touch()
    config = pipeline.notebook_setup(profile="ci").config
    assert (config.gan.generator, config.gan.preset) == ("gsft", "paper")
    assert config.gan_dir == paper.gan_dir
    assert "train_gan" not in [stage for stage, _ in stages]  # used as it is, never retrained
    assert str(paper.gan_dir) in capsys.readouterr().out


def test_notebook_setup_resumes_its_own_gan_quietly(stages, capsys):
    own = pipeline.notebook_config(profile="ci")
    own.gan_dir.mkdir(parents=True)
    (own.gan_dir / "best.pt").touch()
    config = pipeline.notebook_setup(profile="ci").config
    assert config.gan_dir == own.gan_dir
    assert stages[-1][0] == "train_gan"  # finishes (or no-ops on) an interrupted training
    assert "GAN" not in capsys.readouterr().out


def test_the_notebooks_call_the_shared_set_up():
    """03-07 and 09 start from notebook_setup; 00-02b and 08 (its own photos run) from
    notebook_config; 06 downloads Fashion-MNIST only on Colab; no notebook mounts Drive
    itself."""
    for path in NOTEBOOKS:
        text = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                       if c["cell_type"] == "code")
        number = int(path.name[:2])
        assert ("notebook_setup(" in text) == (3 <= number <= 7 or number == 9), path.name
        assert "notebook_config(" in text or number >= 3, path.name
        assert "drive.mount" not in text and "/content/drive" not in text, path.name
    six = next(p for p in NOTEBOOKS if p.name.startswith("06_"))
    six = "".join("".join(c["source"]) for c in json.loads(six.read_text())["cells"])
    assert 'download=online' in six and 'online = "google.colab" in sys.modules' in six


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_outputs_are_light_and_name_no_machine_paths(path):
    """A tutorial opens quickly on GitHub and in Colab: figures as JPEG where PNG is heavy,
    and no warning that names the folder of the machine that ran it."""
    assert path.stat().st_size < 1.5e6, f"{path.name}: {path.stat().st_size / 1e6:.1f} MB"
    for cell in json.loads(path.read_text())["cells"]:
        for output in cell.get("outputs", []):
            text = "".join(output.get("text", "")) + "".join(output.get("traceback", []))
            assert not re.search(r"(/work|/tmp|/home|/root|/content)/\S*\.py", text), text[:300]
