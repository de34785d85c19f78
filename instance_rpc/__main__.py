"""``python -m instance_rpc``: the same as the ``instance-rpc`` command."""

from .cli import main

main()
