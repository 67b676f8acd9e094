"""The conformance of the ops beyond ``to_image`` (``dcmharness conform --op OP``): ``runner.py`` runs an op's
check, one module per op family.
"""
