"""Running one page's blocks in order, as a reader would: in a directory and home of the page's
own, with the venv's ``bin`` first on ``PATH``, daemons the page starts kept until it ends."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tests.docs.markdown_blocks import ROOT, Block

__all__ = ["SHOWN_HOME", "Command", "PageRun", "console_commands", "matches"]

SHOWN_HOME = "/home/me"
"""The home directory the docs show; the page's own home is written so in what blocks print."""

COMMAND_TIMEOUT = 180.0
START_TIMEOUT = 30.0

_ENVIRONMENT_DROPPED = (
    "INFRAKIT_PLUGINS_DIR",
    "INFRAKIT_HOME",
    "XDG_STATE_HOME",
    "XDG_RUNTIME_DIR",
    "INSTANCE_RPC_TLS_CA",
    "INSTANCE_RPC_TLS_CERT",
    "INSTANCE_RPC_TLS_KEY",
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "DOCKER_HOST",
    "LISTEN_PID",
    "LISTEN_FDS",
    "NOTIFY_SOCKET",
)
_ADDRESS = re.compile(r"(?:tcp|https?)://127\.0\.0\.1:\d+")
_CAT = re.compile(r"cat ([\w.-]+)")
_DURATION = re.compile(r"\(\d+(?:\.\d+)? ms\)")
_SECONDS = re.compile(r"\bin \d+(?:\.\d+)?s\b")
_WARNINGS = re.compile(r", \d+ warnings?\b")


@dataclass
class Command:
    """A ``$ `` line of a console block (continuation lines joined) and the output shown."""

    text: str
    shown: list[str] = field(default_factory=list)


def console_commands(text: str) -> list[Command]:
    commands: list[Command] = []
    lines = text.rstrip("\n").split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if line.startswith("$ "):
            command = line[2:]
            while command.endswith("\\") and index < len(lines):
                command = command[:-1] + "\n" + lines[index]
                index += 1
            commands.append(Command(command))
        elif commands:
            commands[-1].shown.append(line)
        else:
            raise ValueError(f"console output before any command: {line!r}")
    return commands


def _normal(line: str) -> str:
    """A line without what varies from run to run and machine to machine: durations, and
    pytest's count of warnings (which depends on the plugins installed beside it)."""
    line = _DURATION.sub("(N ms)", line.rstrip())
    return _WARNINGS.sub("", _SECONDS.sub("in Ns", line))


def matches(shown: list[str], printed: list[str]) -> bool:
    """Whether the printed lines are those shown; a shown ``...`` line stands for any lines."""
    if not shown:
        return not printed
    if shown[0].strip() == "...":
        return any(matches(shown[1:], printed[skip:]) for skip in range(len(printed) + 1))
    return (
        bool(printed)
        and _normal(shown[0]) == _normal(printed[0])
        and matches(shown[1:], printed[1:])
    )


class PageRun:
    """What a page's blocks share: a working directory, a home, an environment, daemons."""

    def __init__(self, page: str, directory: Path, bin_dir: Path) -> None:
        self.page = page
        self.work = directory / "work"
        self.home = directory / "home"
        self.work.mkdir()
        self.home.mkdir(mode=0o700)
        environment = {k: v for k, v in os.environ.items() if k not in _ENVIRONMENT_DROPPED}
        self.env: dict[str, str] = {
            **environment,
            "PATH": f"{bin_dir}{os.pathsep}{environment.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(self.home),
            "PYTHONUNBUFFERED": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "NO_COLOR": "1",
            "COLUMNS": "100",
        }
        self.substitutions: dict[str, str] = {}
        """Text as the docs show it -> as it is here (an image name, a port)."""
        self.python_files: list[Path] = []
        self._daemons: list[tuple[subprocess.Popen[bytes], IO[bytes], IO[bytes]]] = []

    # What the page's environment (a fixture) may set up before the blocks run.

    def set_env(self, values: Mapping[str, str]) -> None:
        self.env.update(values)

    def substitute(self, shown: str, actual: str) -> None:
        self.substitutions[shown] = actual

    def _here(self, text: str) -> str:
        for shown, actual in self.substitutions.items():
            text = text.replace(shown, actual)
        return text

    def _as_shown(self, text: str) -> str:
        return text.replace(str(self.home), SHOWN_HOME)

    # Blocks.

    def run(self, block: Block) -> None:
        marker = block.marker
        if marker is not None and marker.kind == "file":
            self.write_file(marker.name, block.text, block.language)
        elif block.language == "console":
            background = marker is not None and marker.kind == "background"
            for command in console_commands(block.text):
                if background or _serves(command):
                    self.start(command.text, command.shown, block)
                else:
                    self.command(command, block)
        elif block.language in ("sh", "bash"):
            lines = block.text.rstrip("\n").split("\n")
            one_command = all(line.endswith("\\") for line in lines[:-1])
            if block.text.startswith("instance-rpc serve") and one_command:
                self.start(block.text.strip(), [], block)  # a daemon: kept until the page ends
            else:
                self.script(block)
        elif block.language == "python":
            path = self.write_file(f".doc-blocks/block_{block.line}.py", block.text, "python")
            self.script(block, ["python", str(path)])

    def write_file(self, relative: str, text: str, language: str) -> Path:
        path = self.work / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self._here(text))
        if language == "python":
            self.python_files.append(path)
        return path

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            cwd=self.work,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )

    def script(self, block: Block, argv: list[str] | None = None) -> None:
        if argv is None:
            argv = ["bash", "-e", "-o", "pipefail", "-c", self._here(block.text)]
        done = self._run(argv)
        assert done.returncode == 0, (
            f"{block} exited {done.returncode}:\n{block.text}\n--- output:\n{done.stdout}"
        )

    def command(self, command: Command, block: Block) -> None:
        shown_file = _CAT.fullmatch(command.text)
        if shown_file is not None and command.shown:
            # `$ cat web.json` shows a file the reader is to have: the page's is made from it.
            path = self.work / shown_file.group(1)
            if not path.exists():
                path.write_text("\n".join(self._here(line) for line in command.shown) + "\n")
        done = self._run(["bash", "-o", "pipefail", "-c", self._here(command.text)])
        printed = self._as_shown(done.stdout).rstrip("\n").split("\n") if done.stdout else []
        shown = [self._here(line) for line in command.shown]
        if shown:
            assert matches(shown, printed), (
                f"{block}: `{command.text}` printed (exit {done.returncode}):\n"
                + "\n".join(printed)
                + "\n--- the docs show:\n"
                + "\n".join(command.shown)
            )
        else:
            assert done.returncode == 0, (
                f"{block}: `{command.text}` exited {done.returncode}:\n{done.stdout}"
            )

    def start(self, command: str, shown: list[str], block: Block | None = None) -> None:
        """Start a command that keeps running (a server); wait for the lines it shows (at least
        one); ports it picked replace those the docs show in what follows."""
        where = str(block) if block is not None else self.page
        logs = self.work / ".doc-blocks"
        logs.mkdir(exist_ok=True)
        number = len(self._daemons)
        out = (logs / f"daemon-{number}.out").open("w+b")
        err = (logs / f"daemon-{number}.err").open("w+b")
        process = subprocess.Popen(
            ["bash", "-c", self._here(command)],
            cwd=self.work,
            env=self.env,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._daemons.append((process, out, err))
        wanted = max(1, len(shown))
        deadline = time.monotonic() + START_TIMEOUT
        printed: list[str] = []
        while time.monotonic() < deadline:
            out.seek(0)
            printed = self._as_shown(out.read().decode()).splitlines()
            if len(printed) >= wanted or process.poll() is not None:
                break
            time.sleep(0.05)
        err.seek(0)
        assert len(printed) >= wanted, (
            f"{where}: `{command}` printed {printed} (exit {process.poll()}), stderr:\n"
            + err.read().decode()
        )
        for shown_line, printed_line in zip(shown, printed, strict=False):
            for doc, actual in zip(
                _ADDRESS.findall(shown_line), _ADDRESS.findall(printed_line), strict=False
            ):
                if doc != actual:
                    self.substitute(doc, actual)
        if shown:
            assert matches([self._here(line) for line in shown], printed[: len(shown)]), (
                f"{where}: `{command}` printed:\n"
                + "\n".join(printed)
                + "\n--- the docs show:\n"
                + "\n".join(shown)
            )

    def type_check(self) -> None:
        """``mypy --strict`` on every Python block of the page, as the project checks itself."""
        if not self.python_files:
            return
        search = sorted({str(path.parent) for path in self.python_files})
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "mypy",
                "--config-file",
                str(ROOT / "pyproject.toml"),
                "--no-error-summary",
                *map(str, self.python_files),
            ],
            cwd=ROOT,
            env={**os.environ, "MYPYPATH": os.pathsep.join(search)},
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, f"{self.page}: mypy --strict:\n{done.stdout}{done.stderr}"

    def close(self) -> None:
        """Stop the daemons the page started, by their process group (SIGTERM, then SIGKILL)."""
        for process, out, err in self._daemons:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=20)
            out.close()
            err.close()


def _serves(command: Command) -> bool:
    """Whether a console command starts a daemon that keeps running: ``instance-rpc serve``,
    unless the docs show it refused (its first line shown is ``instance-rpc: ...``), which runs
    and ends as any other command."""
    refused = bool(command.shown) and command.shown[0].startswith("instance-rpc: ")
    return command.text.startswith("instance-rpc serve") and not refused
