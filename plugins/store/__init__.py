"""What the shipped backends share to keep instances: JSON documents written atomically and
durably (group commit, a write queue, syncfs), the inventory of instances a backend keeps on disk,
the tag index that answers DescribeInstances, descriptions kept encoded, and random instance IDs.

Imports from the library only ``instance_rpc.types`` and ``instance_rpc.errors``; the backends
(``file``, ``process/``, ``docker/``, and the next) import it, never the other way round.
"""
