"""``make bench``: our daemon against a bare aiohttp baseline, figure by figure, in one run.

- :mod:`.bare` and :mod:`.daemon`: the two servers, each run in its own process;
- :mod:`.loadgen`: a cheap load generator (raw streams), so the server is the bottleneck;
- :mod:`.suite`: what is measured and paired; :mod:`.report`: the table and the targets.
"""
