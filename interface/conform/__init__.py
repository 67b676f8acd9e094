"""The conformance engine of ``to_image``: ``runner.py`` (the run), ``case.py`` and ``executor.py`` (one file's
cases, in a process pool), ``compare.py``, ``divergence.py`` with ``divergences.toml`` (the registry of
explained differences), ``report_json.py`` and ``report_html.py``; the other ops in ``ops/``.
"""
