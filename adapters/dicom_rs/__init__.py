"""DICOM-rs: dicom-toimage (``render.py``), dicom-dump and dicom-transcode (``ops.py``).
"""
