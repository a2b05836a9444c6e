"""quotestream benchmarks: one runner, every case in the same run so ratios hold.

Run with ``python -m bench`` (``make bench``) or ``python -m bench --quick``
(``make bench-quick``). Never collected by pytest (its testpaths is ``tests``).

Layout::

    __main__.py   command line: profile, case filter, output folder
    profiles.py   sizes and repeats of the full and quick runs
    registry.py   the ``@case`` decorator and the result types
    runner.py     starts a private Redis, runs the cases, writes the results
    procs.py      worker processes started together behind a barrier
    workload.py   quote envelopes, pre-filled streams, fresh groups
    stats.py      medians and percentiles
    report.py     latest.json, latest.md (table and targets), latest.png
    machine.py    what the numbers were measured on
    cases/        one module per design under test
"""
