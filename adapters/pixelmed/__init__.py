"""PixelMed: ConsumerFormatImageMaker (``adapter.py``), many requests in one JVM through the project's launcher
(``PixelMedBatch.java``, its line protocol in ``launcher.py``).
"""
