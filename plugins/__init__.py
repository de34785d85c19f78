"""The Instance backends shipped with instance-rpc. Each implements ``instance_rpc.spi.Plugin``."""
