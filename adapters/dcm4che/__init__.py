"""dcm4che 5.x: dcm2jpg (``render.py``), dcm2json, dcm2dcm and deidentify (``ops.py``); found where installed
(``README.md``).
"""
