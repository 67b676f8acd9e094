"""dcmtk (OFFIS): rendering through dcmj2pnm/dcm2img (``render.py``) and the other ops through its command-line
tools (``ops.py``).
"""
