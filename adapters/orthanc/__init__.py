"""Orthanc over HTTP: a private server per run (``server.py``), its REST client (``client.py``), rendering
(``adapter.py``) and the other ops (``ops.py``).
"""
