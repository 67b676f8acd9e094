"""dcmjs-imaging (npm) in Node.js: the adapter (``adapter.py``), the Node worker (``worker.mjs``, JSON Lines on
stdin/stdout, its processes run by the shared ``adapters/jsonl_workers.py``); the pinned JavaScript dependencies in
``package.json`` + ``package-lock.json`` (installed by ``make setup`` with ``npm ci``).
"""
