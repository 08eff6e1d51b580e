"""Applications on the public API: the ``lumina`` command, terminal dictation, benchmarks.

Apps use only public names of the layers below them.
"""
