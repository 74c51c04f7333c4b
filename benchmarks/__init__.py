"""The ``make bench`` harness: ``python -m benchmarks.bench`` (see :mod:`benchmarks.bench`)."""
