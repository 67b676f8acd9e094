"""GDCM: gdcmconv, gdcmanon (``adapter.py``) and gdcmscu (``network.py``)."""
