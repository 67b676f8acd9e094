"""dicom3tools (David Clunie): the IOD validator ``dciodvfy`` (``adapter.py``); its output grammar and the
mapping of its messages onto the contract's finding kinds (``parse.py``, pure).
"""
