"""The fuzzer: ``mutations.py`` (pure mutations of real files), ``runner.py`` (requests on every backend, checks
of each answer, memory and time).
"""
