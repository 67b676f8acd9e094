"""The HTTP app: the contract's requests over HTTP, and the comparison page's endpoints.

``create_app(settings)`` builds a FastAPI app; ``dcmharness serve`` (``interface/cli/serve.py``) runs it with
uvicorn. Every request carries the token (``security.TokenGuard``), every body is capped
(``security.BodyLimit``), every path is confined (``places.py``), and the work runs on a bounded pool of
worker threads so the event loop keeps answering while a backend renders. Backends are the process's
cached instances (``interface/registry.py``): a JVM, the Node workers or the private Orthanc start once and
serve every request; ``registry.close_all()`` stops them when the server stops.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
from fastapi import FastAPI, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import ValidationError

from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import Response as RunResponse
from dcmharness.contract.schema import request_schema, response_schema
from dcmharness.interface import registry
from dcmharness.interface.api import error_response, run
from dcmharness.interface.cli.jsonio import read_requests
from dcmharness.interface.server.compare import CompareRequest, compare_case
from dcmharness.interface.server.places import Places, plan_request
from dcmharness.interface.server.security import BodyLimit, TokenGuard

T = TypeVar("T")
STATIC = Path(__file__).with_name("static")
DEFAULT_MAX_UPLOAD = 256 * 1024 * 1024
#: a served file is the user's data (or an upload), not the app: if it is HTML its scripts run in an opaque
#: origin (no cookie, no same-origin request to this server), and no type is sniffed
SANDBOX = {"Content-Security-Policy": "sandbox allow-scripts", "X-Content-Type-Options": "nosniff"}


@dataclass
class Settings:
    root: Path
    token: str
    out_dir: Path | None = None  # None: a private temp folder, removed at stop
    max_upload: int = DEFAULT_MAX_UPLOAD
    cors_origin: str | None = None
    workers: int = 4
    timeout: float | None = 120.0  # default per-request timeout for external backends


def _echo(data: Any, key: str) -> Any:
    if isinstance(data, dict):
        value = data.get(key)
        if key == "id" and (value is None or (isinstance(value, str | int) and not isinstance(value, bool))):
            return value
        if key != "id" and isinstance(value, str):
            return value
    return None


def run_one(data: Any, places: Places) -> RunResponse:
    """One request as ``dcmharness run --root`` runs it (outputs in a private folder unless named)."""
    try:
        request, ctx = plan_request(data, places)
    except HarnessError as exc:
        return error_response(exc, request_id=_echo(data, "id"), op=_echo(data, "op"), backend=_echo(data, "backend"))
    return run(request, ctx)


def run_body(body: bytes, places: Places) -> tuple[int, Any]:
    """The responses to a ``POST /run`` body: one object -> one response; an array (or JSON Lines) -> a list."""
    try:
        shape, items = read_requests(io.BytesIO(body))
        answered = [error_response(it.error) if it.error is not None else run_one(it.data, places) for it in items]
    except HarnessError as exc:
        return 400, error_response(exc).model_dump(mode="json")
    if shape == "array" or len(answered) > 1:
        return 200, [r.model_dump(mode="json") for r in answered]
    return 200, answered[0].model_dump(mode="json")


def page_html() -> str:
    """The page with its stylesheet and script inlined: one document, nothing else to fetch (no token needed
    for sub-resources, no CDN)."""
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    css = (STATIC / "page.css").read_text(encoding="utf-8")
    js = (STATIC / "page.js").read_text(encoding="utf-8")
    return html.replace("/*PAGE_CSS*/", css).replace("/*PAGE_JS*/", js.replace("</script", "<\\/script"))


def _error(status: int, exc: HarnessError) -> JSONResponse:
    return JSONResponse(error_response(exc).model_dump(mode="json"), status_code=status)


def create_app(settings: Settings) -> FastAPI:
    places = Places.create(settings.root, settings.out_dir, settings.timeout)
    limiter = anyio.CapacityLimiter(max(1, settings.workers))
    page = page_html()
    schemas = {"request": request_schema(), "response": response_schema()}  # built once: they never change

    async def on_pool(fn: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            registry.close_all()
            places.cleanup()

    app = FastAPI(
        title="dcmharness",
        summary="One JSON contract in front of every major DICOM toolkit, over HTTP.",
        lifespan=lifespan,
        docs_url=None,  # the interactive docs load scripts from a CDN: only /openapi.json is published
        redoc_url=None,
    )
    app.state.places = places
    app.state.settings = settings

    @app.post("/run", summary="Run one request or a list (the body of `dcmharness run`)")
    async def post_run(request: Request) -> JSONResponse:
        status, payload = await on_pool(run_body, await request.body(), places)
        return JSONResponse(payload, status_code=status)

    @app.post("/compare", summary="Render one file on several backends and compare each with the reference")
    async def post_compare(request: Request) -> JSONResponse:
        try:
            body = CompareRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            errors = exc.errors()
            where = ".".join(str(p) for p in errors[0]["loc"]) if errors else ""
            msg = errors[0]["msg"] if errors else "invalid request"
            return _error(400, HarnessError(ErrorCode.INVALID_REQUEST, msg, where or None))
        try:
            result = await on_pool(compare_case, body, places)
        except HarnessError as exc:
            return _error(400, exc)
        return JSONResponse(result)

    @app.get("/backends", summary="Every backend: availability, version, ops, capabilities")
    async def get_backends() -> JSONResponse:
        from dcmharness.interface.cli.backends import describe

        return JSONResponse(await on_pool(describe))

    @app.get("/schema", summary="The JSON Schema of requests (or responses with ?response=true)")
    async def get_schema(response: bool = False) -> JSONResponse:
        return JSONResponse(schemas["response" if response else "request"])

    @app.get("/outputs/{path:path}", summary="A written output (private output folder, or under the root)")
    async def get_output(path: str) -> Response:
        try:
            return FileResponse(places.served_file(path), headers=SANDBOX)
        except HarnessError as exc:
            return _error(404 if exc.code == ErrorCode.INPUT_NOT_FOUND else 403, exc)

    @app.get("/outputs", summary="A written output by the absolute path a response names")
    async def get_output_by_path(path: str = Query(...)) -> Response:
        return await get_output(path)

    @app.get("/root/{path:path}", summary="A file under the root, e.g. a conformance report.html (sandboxed)")
    async def get_root_file(path: str) -> Response:
        try:
            target = places.root_entry(path)
            if not target.is_file():
                raise HarnessError(ErrorCode.INPUT_NOT_FOUND, f"no such file under the root: {path}", "path")
        except HarnessError as exc:
            return _error(404 if exc.code == ErrorCode.INPUT_NOT_FOUND else 403, exc)
        return FileResponse(target.resolve(), headers=SANDBOX)

    @app.get("/files", summary="The entries of a folder under the root")
    async def get_files(dir: str = "") -> JSONResponse:
        try:
            folder = places.root_entry(dir)
            if not folder.is_dir():
                raise HarnessError(ErrorCode.INPUT_NOT_FOUND, f"not a folder: {dir!r}", "dir")
            entries = []
            for child in sorted(folder.iterdir(), key=lambda p: (not p.is_dir(), p.name))[:5000]:
                try:
                    places.root_entry(str(child))
                except HarnessError:
                    continue  # a symlink leading out of the root is not listed
                is_dir = child.is_dir()
                entries.append(
                    {
                        "name": child.name,
                        "path": child.resolve().relative_to(places.root).as_posix(),
                        "dir": is_dir,
                        "size": None if is_dir else child.stat().st_size,
                    }
                )
        except HarnessError as exc:
            return _error(404 if exc.code == ErrorCode.INPUT_NOT_FOUND else 403, exc)
        rel = folder.resolve().relative_to(places.root).as_posix()
        return JSONResponse({"dir": "" if rel == "." else rel, "entries": entries})

    @app.post("/upload", summary="Store a file (raw body) in the private folder; answers the path to name as input")
    async def post_upload(request: Request, name: str = "upload.dcm") -> JSONResponse:
        data = await request.body()
        target = places.upload_target(name)
        await on_pool(target.write_bytes, data)
        return JSONResponse({"path": str(target), "size": len(data)})

    @app.get("/", response_class=HTMLResponse, summary="The comparison page (open it with ?token=T)")
    async def index() -> Response:
        return HTMLResponse(page)

    # the last added is the outermost: CORS (when asked) answers preflights, then the token, then the body cap
    app.add_middleware(BodyLimit, max_body=settings.max_upload)
    app.add_middleware(TokenGuard, token=settings.token)
    if settings.cors_origin:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=[settings.cors_origin],
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-Dcmharness-Token", "Content-Type"],
        )
    return app
