"""What the two Java adapters (dcm4che, PixelMed) share: header helpers, and running many requests at once.

Each Java tool call starts a JVM (about a second), so both adapters offer ``execute_batch``: many
requests, one (or a few) tool processes. ``batch.run_batch`` is the dispatcher for it.
"""
