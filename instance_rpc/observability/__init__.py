"""What the daemon and its clients report about themselves: log lines (redaction, the per-call
line in text or JSON lines, the buffered handler that writes them), Prometheus metrics
(``GET /metrics``), the call observer the JSON-RPC layer reports each call to, and the garbage
collector's settings around large answers.

Layer: directly above the domain. Imports only the domain (``instance_rpc.types``, ``spi``,
``errors``, ``wire``, ``handshake``) and outside libraries; the layers above report here.
"""
