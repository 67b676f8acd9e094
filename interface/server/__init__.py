"""``dcmharness serve``: the contract over HTTP (FastAPI/Starlette, run by uvicorn)."""
