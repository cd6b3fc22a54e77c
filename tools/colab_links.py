"""Point every notebook's Colab badge and install cell, and the README's badges, at this
repository: the GitHub repository of the git remote ``origin`` (or ``--repo owner/name``), at
the current branch (or ``--branch``; ``main`` on a detached HEAD).

    make colab-links                    # from `git remote get-url origin`
    make colab-links REPO=owner/name    # a fork, or a checkout whose origin is not GitHub

Rewrites only what differs, so a second run changes nothing. Standard library only: it runs
before any environment is installed.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = "notebooks/[0-9][0-9]*_*.ipynb"  # 00_..., 02b_...
BADGE = ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
         "(https://colab.research.google.com/github/{repo}/blob/{branch}/notebooks/{name})")
# a README or notebook link to a notebook on Colab, whatever repository and branch it names
BADGE_LINK = re.compile(r"https://colab\.research\.google\.com/github/[^)\s]+?/notebooks/"
                        r"(?P<name>[0-9][0-9][a-z]?_[\w.-]+\.ipynb)")
INSTALL_MARK = "# On Colab, install the package"
INSTALL = '''\
# On Colab, install the package from its repository (the badge's); anywhere else `make run` /
# `make test` already did, and this cell does nothing. pip upgrades nothing Colab ships unless
# a version bound asks for it (torch included): it only adds what is missing.
import importlib.util
import sys

if "google.colab" in sys.modules and importlib.util.find_spec("xai_gan") is None:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    "--upgrade-strategy", "only-if-needed",
                    "xai-gan @ git+https://github.com/{repo}@{branch}"], check=True)
    importlib.invalidate_caches()  # import it without restarting the kernel'''
OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})"
NAME = r"[A-Za-z0-9._-]{1,100}"
# https://github.com/o/n(.git), git@github.com:o/n(.git), ssh://git@github.com(:22)/o/n(.git)
REMOTE = re.compile(
    rf"^(?:(?:https?|git|ssh|git\+ssh)://(?:[^@/]+@)?github\.com(?::\d+)?/|[^@/\s]+@github\.com:)"
    rf"(?P<repo>{OWNER}/{NAME})(?:\.git)?/?$")


class LinkError(SystemExit):
    """A clear message instead of a traceback: no usable GitHub remote."""

    def __init__(self, message: str):
        super().__init__(f"colab-links: {message}")


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    except FileNotFoundError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _redacted(url: str) -> str:
    """The remote without any user:password part (never print a token)."""
    return re.sub(r"//[^@/]*@", "//", url)


def repo_from_remote(url: str) -> str:
    """``owner/name`` of a github.com remote URL (https or ssh form); raises otherwise."""
    match = REMOTE.match(url.strip())
    if not match:
        raise LinkError(f"the git remote 'origin' is {_redacted(url)!r}, not a github.com "
                        "repository: name one with `make colab-links REPO=owner/name`")
    repo = match["repo"]
    return repo[:-4] if repo.endswith(".git") else repo


def check_repo(repo: str) -> str:
    if not re.fullmatch(rf"{OWNER}/{NAME}", repo) or repo.endswith(".git"):
        raise LinkError(f"REPO must be a GitHub owner/name, got {repo!r}")
    return repo


def default_repo(root: Path) -> str:
    url = _git(root, "remote", "get-url", "origin")
    if not url:
        raise LinkError(f"{root} has no git remote 'origin': add one (git remote add origin "
                        "https://github.com/owner/name) or run `make colab-links REPO=owner/name`")
    return repo_from_remote(url)


def default_branch(root: Path) -> str:
    branch = _git(root, "branch", "--show-current")
    return branch or "main"  # a detached HEAD (or no git): main


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _badged(source: str, badge: str) -> str:
    """``source`` (a markdown cell) starting with ``badge`` on its own line."""
    first, newline, rest = source.partition("\n")
    if BADGE_LINK.search(first):
        return badge + newline + rest
    return f"{badge}\n\n{source}"


def update_notebook(path: Path, repo: str, branch: str) -> bool:
    """Write the badge (first line of the first cell) and the install cell (the first code
    cell, added if the notebook has none); stored outputs are kept. True if it changed."""
    raw = path.read_text(encoding="utf-8")
    notebook = json.loads(raw)
    cells = notebook["cells"]
    badge = BADGE.format(repo=repo, branch=branch, name=path.name)
    if cells and cells[0]["cell_type"] == "markdown":
        cells[0]["source"] = _lines(_badged("".join(cells[0]["source"]), badge))
    else:
        cells.insert(0, {"cell_type": "markdown", "metadata": {}, "source": _lines(badge)})
    install = INSTALL.format(repo=repo, branch=branch)
    code = [c for c in cells if c["cell_type"] == "code"]
    if code and "".join(code[0]["source"]).startswith(INSTALL_MARK):
        code[0]["source"] = _lines(install)
    else:
        cells.insert(1, {"cell_type": "code", "execution_count": None, "metadata": {},
                         "outputs": [], "source": _lines(install)})
    text = json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    if text == raw:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def update_readme(path: Path, repo: str, branch: str) -> bool:
    """Point every Colab link of the README at ``repo`` and ``branch``."""
    raw = path.read_text(encoding="utf-8")
    text = BADGE_LINK.sub(lambda m: f"https://colab.research.google.com/github/{repo}/blob/"
                                    f"{branch}/notebooks/{m['name']}", raw)
    if text == raw:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", help="GitHub owner/name (default: from the remote origin)")
    parser.add_argument("--branch", help="branch (default: the current one, else main)")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository's folder")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    repo = check_repo(args.repo) if args.repo else default_repo(root)
    branch = args.branch or default_branch(root)
    if not re.fullmatch(r"[\w./-]+", branch):
        raise LinkError(f"unusable branch name {branch!r}: pass BRANCH=name")
    notebooks = sorted(root.glob(NOTEBOOKS))
    if not notebooks:
        raise LinkError(f"no notebooks under {root / 'notebooks'}")
    changed = [p for p in notebooks if update_notebook(p, repo, branch)]
    readme = root / "README.md"
    if readme.exists() and update_readme(readme, repo, branch):
        changed.append(readme)
    print(f"Colab links -> github.com/{repo} @ {branch}: "
          + (", ".join(str(p.relative_to(root)) for p in changed) if changed else "no change"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
