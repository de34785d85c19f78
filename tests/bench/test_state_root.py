"""Where the benchmark keeps the backends' state directories (``benchmarks/state.py``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.state import default_state_root, filesystem_of, state_directory


def test_the_default_is_the_state_root_serve_uses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_state_root() == tmp_path / "instance-rpc"
    with state_directory(None) as directory:
        assert directory.parent == tmp_path / "instance-rpc"
        (directory / "record.json").write_text("{}")
    assert not directory.exists()


def test_a_given_root_is_made_and_the_directory_removed(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b"
    with state_directory(str(root)) as directory:
        assert directory.parent == root
        (directory / "file-grouped").mkdir()
    assert list(root.iterdir()) == []


def test_filesystem_of_names_the_mount_a_path_is_on() -> None:
    assert filesystem_of("/proc/self") == "proc"
    assert filesystem_of("/sys/kernel") == "sysfs"


def test_a_state_root_that_cannot_be_made_is_refused_before_any_measurement(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    output = tmp_path / "results.json"
    arguments = ["--state-root", str(blocker / "state"), "--output", str(output)]
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", *arguments],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert f"--state-root: cannot use {blocker / 'state'}: Not a directory" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert completed.stdout == ""  # nothing measured
    assert not output.exists()
