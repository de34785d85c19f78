"""The ec2 backend: each instance is an EC2 instance launched from ``Properties`` (InfraKit's
AWS shape), tagged at launch so that any daemon of the same name finds it; the EC2 API (through
aiobotocore) is the only state.

Imports from the library only ``instance_rpc.spi``, ``types`` and ``errors``.
"""

from .plugin import EC2Plugin

__all__ = ["EC2Plugin"]
