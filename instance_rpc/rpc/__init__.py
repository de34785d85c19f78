"""The JSON-RPC 2.0 layer and the Instance service: request and response envelopes (ids,
batches, error objects: JSON-RPC 2.0 sections 4 to 6), dispatch to a method with its per-call
line, answers built in pieces, and ``InstanceService``, which turns each wire method's params
into a call on the backend its ``Type`` names (InfraKit pkg/rpc/instance/service.go).

Layer: above observability and net. Imports the domain and observability; knows no transport
(no aiohttp, no client, no server): it takes a request's bytes and gives back an answer's.
"""
