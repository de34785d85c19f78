"""``python -m instance_rpc``: the ``instance-rpc`` command."""

from .cli import main

main(prog_name="instance-rpc")
