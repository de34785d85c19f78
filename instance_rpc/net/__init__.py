"""What both ends of a connection agree on: where plugins live and what they are called (the
plugins directory, ``lookup/type`` names: InfraKit's discovery), the TCP address a daemon publishes
beside its socket (``<name>.listen``), and TLS contexts for either end.

Layer: beside observability, directly above the domain. Imports only the domain and the standard
library; the client reads what the server writes here, so neither owns it.
"""
