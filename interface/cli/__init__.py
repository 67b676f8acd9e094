"""The command line: ``main.py`` parses the subcommand and calls one module per command (``run``, ``backends``,
``schema``, ``synth``, ``conform``).
"""
