"""lumina's benchmarks: the asv suite (``bench_*.py``) and the comparisons (``compare_*.py``).

Not installed with lumina: run a comparison with ``python benchmarks NAME [ARGS]``
(see ``__main__.py`` and README.md); asv imports this folder as the package
``benchmarks``. Both run against the installed lumina.
"""
