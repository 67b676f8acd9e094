"""The cornerstone backend: Cornerstone3D in headless Chromium (adapter.py, session.py, driver.mjs)."""
