"""One installable package: the wheel holds only `rankladder`, installs beside a user's own `eval.py`,
`training.py`, ... and keeps the layer rule (import-linter contracts in pyproject.toml)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

from tests.helpers.run_fixtures import write_run_dir

ROOT = Path(__file__).resolve().parents[2]
SHADOWS = ("eval", "training", "model_cards", "dataset_builder")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out, source = tmp_path_factory.mktemp("wheel"), tmp_path_factory.mktemp("source") / "rankladder"
    # Built from a copy: setuptools' in-tree build/ folder could otherwise carry stale modules into the wheel.
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv*", "build", "out", "runs", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis"
        ),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        text=True,
    )
    (found,) = out.glob("rankladder-*.whl")
    return found


@pytest.fixture(scope="module")
def unpacked(wheel, tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("site")
    zipfile.ZipFile(wheel).extractall(site)
    return site


def test_wheel_holds_no_top_level_package_but_rankladder(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert {name for name in top if not name.endswith(".dist-info")} == {"rankladder"}, top
    for stage in SHADOWS:
        assert f"rankladder/{stage}/__init__.py" in names, stage
    assert "rankladder/dataset_builder/prompts/per_level.yaml" in names  # package data travels along


def test_import_linter_contracts_hold_and_can_fail(unpacked, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(unpacked)}
    lint = [str(Path(sys.executable).with_name("lint-imports")), str(ROOT / "pyproject.toml")]
    kept = subprocess.run(lint, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert kept.returncode == 0, kept.stdout[-2000:] + kept.stderr[-2000:]
    assert "4 kept, 0 broken" in kept.stdout
    # The same check on a copy where the core reaches up into a stage must fail.
    (unpacked / "rankladder" / "core" / "probe_violation.py").write_text("import rankladder.eval.run\n")
    try:
        broken = subprocess.run(lint, cwd=tmp_path, env=env, capture_output=True, text=True)
    finally:
        (unpacked / "rankladder" / "core" / "probe_violation.py").unlink()
    assert broken.returncode != 0 and "BROKEN" in broken.stdout


@pytest.mark.slow
def test_installed_wheel_runs_beside_user_modules_named_like_the_stages(wheel, tmp_path, graded_rows):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # The project's dependencies, but not the project itself (its editable finder would be a .pth *in*
    # that folder, which a plain path entry does not execute).
    deps = subprocess.run(
        [sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "project_dependencies.pth").write_text(deps + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        text=True,
    )

    user = tmp_path / "user_project"
    user.mkdir()
    for name in SHADOWS:  # a user's own modules with our stage names must neither break us nor be touched
        (user / f"{name}.py").write_text(f"raise SystemExit('user module {name} imported by rankladder')\n")
    # The RUN_DIR is written here (the tests' writer); the installed wheel builds it in the user's folder.
    run = write_run_dir(tmp_path / "run", graded_rows[:16])
    script = textwrap.dedent(f"""
        from pathlib import Path
        import rankladder
        out = rankladder.build([Path({str(run)!r})], "ds", version="0.1.0", dev_fraction=0.25)
        print("BUILT", out, sorted(p.name for p in out.iterdir()))
        print("FROM", rankladder.__file__)
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([str(python), "-c", script], cwd=user, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "BUILT ds" in result.stdout and "README.md" in result.stdout
    assert str(env_dir) in result.stdout.split("FROM", 1)[1]  # the installed wheel, not the source tree
    cli = subprocess.run(
        [str(env_dir / "bin" / "rankladder"), "--help"], cwd=user, env=env, capture_output=True, text=True
    )
    assert cli.returncode == 0 and "generate" in cli.stdout, cli.stderr
    for name in SHADOWS:
        assert (user / f"{name}.py").read_text().startswith("raise SystemExit")
