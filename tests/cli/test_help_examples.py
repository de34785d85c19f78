"""The ``info ... --schema`` examples that ``--help`` prints work as printed, against the daemon
the main ``--help`` shows how to start."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from tests.daemon import run_cli, running_daemon, short_tmp_dir

COMMANDS = ["serve", "info", "validate", "provision", "describe", "label", "destroy"]
COMMANDS += ["conformance", "bench", "plugins"]


def _help_lines() -> list[str]:
    lines = run_cli("--help").stdout.splitlines()
    for command in COMMANDS:
        lines += run_cli(command, "--help").stdout.splitlines()
    return [line.split("#")[0].strip().removesuffix("&").strip() for line in lines]


def test_the_schema_examples_work_as_printed() -> None:
    lines = _help_lines()
    examples = [line for line in lines if re.fullmatch(r"instance-rpc info \S+ --schema", line)]
    assert len(examples) >= 2, examples
    serve = "instance-rpc serve --name local --plugin file --plugin process"
    assert serve in lines  # the main help's example starts the daemon they name
    with short_tmp_dir() as home:
        env = {"INFRAKIT_PLUGINS_DIR": str(home / "plugins"), "XDG_STATE_HOME": str(home)}
        (home / "plugins").mkdir()
        with running_daemon(*shlex.split(serve)[2:], env=env) as daemon:
            assert daemon.socket_path == home / "plugins" / "local"
            for example in examples:
                result = run_cli(*shlex.split(example)[1:], env=env)
                assert (result.returncode, result.stderr) == (0, ""), example
                schema = json.loads(result.stdout)
                assert isinstance(schema, dict), example
                assert schema, example
    assert not Path(home).exists()
