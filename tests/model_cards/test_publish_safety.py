"""publish never deletes a user's folder, and refuses bad versions, licenses and repo ids before any network call.

Issue 12, defects 1 (``--dry-run --output DIR`` deleted DIR) and 6 (``--version 0.9.0`` on a dataset built
as 0.1.0; ``--license "not a licence"``), run through the real CLI against the loopback Hub.
"""

from __future__ import annotations

import errno
import shutil

import pytest

from rankladder.cli import main
from tests.helpers.hubserver import inputs


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    return inputs.make_dataset_dir(tmp_path_factory.mktemp("data") / "tiny", version="0.1.0")


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory):
    return inputs.make_trained_checkpoint_dir(tmp_path_factory.mktemp("ckpt") / "model")


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("rankladder publish")]


def user_folder(path):
    path.mkdir()
    (path / "notes.txt").write_text("my own notes, not a release")
    (path / "sub").mkdir()
    (path / "sub" / "data.csv").write_text("a,b\n1,2\n")
    return path


def files_of(path):
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}


def dry_run_args(kind, dataset_dir, checkpoint_dir, out):
    if kind == "dataset":
        return [
            "publish",
            "dataset",
            str(dataset_dir),
            "--repo",
            "org/tiny",
            "--version",
            "0.1.0",
            "--dry-run",
            "--out",
            str(out),
        ]
    return [
        "publish",
        "model",
        str(checkpoint_dir),
        "--repo",
        "org/minilm",
        "--version",
        "0.1.0",
        "--license",
        "apache-2.0",
        "--dry-run",
        "--out",
        str(out),
    ]


@pytest.mark.parametrize("kind", ["dataset", "model"])
def test_dry_run_refuses_a_folder_holding_other_files(
    hub, hub_env, dataset_dir, checkpoint_dir, tmp_path, capsys, kind
):
    out = user_folder(tmp_path / "mine")
    before, requests = files_of(out), len(hub.requests)
    assert main(dry_run_args(kind, dataset_dir, checkpoint_dir, out)) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and str(out) in lines[0] and "--overwrite" in lines[0]
    assert files_of(out) == before  # the user's files, untouched
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]  # no temp sibling left behind
    assert len(hub.requests) == requests


@pytest.mark.parametrize("kind", ["dataset", "model"])
def test_overwrite_replaces_the_folder_only_once_the_new_one_is_complete(
    hub, hub_env, dataset_dir, checkpoint_dir, tmp_path, capsys, monkeypatch, kind
):
    from rankladder.model_cards import publish

    out = user_folder(tmp_path / "mine")
    before = files_of(out)
    real_copy, copied = shutil.copy2, []

    def disk_fills_up(src, dst, *args, **kwargs):  # the third file copied hits a full disk
        if len(copied) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        copied.append(dst)
        return real_copy(src, dst, *args, **kwargs)

    monkeypatch.setattr(publish.shutil, "copy2", disk_fills_up)
    assert main([*dry_run_args(kind, dataset_dir, checkpoint_dir, out), "--overwrite"]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "No space left on device" in lines[0]
    assert files_of(out) == before and [p.name for p in tmp_path.iterdir()] == ["mine"]

    monkeypatch.setattr(publish.shutil, "copy2", real_copy)
    assert main([*dry_run_args(kind, dataset_dir, checkpoint_dir, out), "--overwrite"]) == 0
    now = files_of(out)
    assert "notes.txt" not in now and "README.md" in now  # replaced as a whole, not merged
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]


def test_identical_rerun_keeps_the_folder_and_a_file_is_refused(
    hub, hub_env, dataset_dir, checkpoint_dir, tmp_path, capsys
):
    out = tmp_path / "plan"
    assert main(dry_run_args("dataset", dataset_dir, checkpoint_dir, out)) == 0
    first = files_of(out)
    capsys.readouterr()
    assert main(dry_run_args("dataset", dataset_dir, checkpoint_dir, out)) == 0  # same inputs: nothing to lose
    assert "identical folder already there" in capsys.readouterr().out and files_of(out) == first

    (tmp_path / "a_file").write_text("x")
    assert main(dry_run_args("dataset", dataset_dir, checkpoint_dir, tmp_path / "a_file")) == 2
    assert "is not a folder" in error_lines(capsys.readouterr().err)[0]
    assert (tmp_path / "a_file").read_text() == "x"


@pytest.mark.parametrize("dry_run", [False, True])
def test_version_must_match_the_built_dataset(hub, hub_env, dataset_dir, tmp_path, capsys, dry_run):
    requests = len(hub.requests)
    args = ["publish", "dataset", str(dataset_dir), "--repo", "org/versioned", "--version", "0.9.0"]
    assert main(args + (["--dry-run", "--out", str(tmp_path / "plan")] if dry_run else [])) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert "built as version 0.1.0" in line and "--version 0.1.0" in line and "rankladder build" in line
    assert len(hub.requests) == requests and not (tmp_path / "plan").exists()
    from tests.helpers.hubserver.server import HubError

    with pytest.raises(HubError, match="not found"):  # not even created
        hub.store.load("dataset", "org/versioned")


@pytest.mark.parametrize(
    "kind, license, message",
    [
        ("dataset", "not a licence", "not a Hugging Face Hub license identifier"),
        ("dataset", "MIT", "did you mean mit"),
        ("model", "apache 2.0", "did you mean apache-2.0"),
        ("model", "cc-by-4", "not a Hugging Face Hub license identifier"),
    ],
)
def test_license_must_be_a_hub_license_id(hub, hub_env, dataset_dir, checkpoint_dir, capsys, kind, license, message):
    requests = len(hub.requests)
    target, repo = (dataset_dir, "org/licensed") if kind == "dataset" else (checkpoint_dir, "org/licensed-model")
    assert main(["publish", kind, str(target), "--repo", repo, "--version", "0.1.0", "--license", license]) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert "--license" in line and repr(license) in line and message in line
    assert len(hub.requests) == requests


def test_license_already_in_the_card_is_checked_too(hub, hub_env, dataset_dir, tmp_path, capsys):
    target = tmp_path / "ds"
    shutil.copytree(dataset_dir, target)
    (target / "README.md").write_text(
        (target / "README.md").read_text().replace("license: cc-by-4.0", "license: CC BY")
    )
    requests = len(hub.requests)
    assert main(["publish", "dataset", str(target), "--repo", "org/cardlicense", "--version", "0.1.0"]) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert "field 'license'" in line and "'CC BY'" in line
    assert len(hub.requests) == requests
    assert (
        main(
            [
                "publish",
                "dataset",
                str(target),
                "--repo",
                "org/cardlicense",
                "--version",
                "0.1.0",
                "--license",
                "cc-by-4.0",
            ]
        )
        == 0
    )  # --license fixes it


@pytest.mark.parametrize(
    "repo",
    [
        "org/na--me",
        "org/name.git",
        "org/-name",
        "org/na me",
        "datasets/org/name",
        "name",
        "org/" + "n" * 97,
        "org/na..me",
    ],
)
def test_malformed_repo_ids_are_refused(hub, hub_env, dataset_dir, checkpoint_dir, tmp_path, capsys, repo):
    requests = len(hub.requests)
    assert main(["publish", "dataset", str(dataset_dir), "--repo", repo, "--version", "0.1.0"]) == 2
    assert (
        main(
            [
                "publish",
                "model",
                str(checkpoint_dir),
                "--repo",
                "org/fine",
                "--version",
                "0.1.0",
                "--license",
                "mit",
                "--dataset-repo",
                repo,
            ]
        )
        == 2
    )
    assert main(["publish", "results", str(tmp_path), "--model-repo", repo]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 3 and all(repr(repo) in line for line in lines)
    assert [line.split(": ")[2].split(" ")[0] for line in lines] == ["--repo", "--dataset-repo", "--model-repo"]
    assert len(hub.requests) == requests


def test_release_yaml_license_is_checked_with_its_line(tmp_path):
    from rankladder.core.errors import UserError
    from rankladder.release import load_release

    release = tmp_path / "release.yaml"
    release.write_text("name: demo\npublish:\n  dry_run: true\n  license: Apache 2\n")
    with pytest.raises(UserError, match=r"release.yaml:4: key 'publish.license': .*not a Hugging Face Hub license"):
        load_release(release)
    release.write_text("name: demo\npublish:\n  license: cc-by-4.0\n")
    assert load_release(release)["publish"]["license"] == "cc-by-4.0"
