"""The HTTP API (docs/DESIGN.md): POST /api/chat, POST /api/feedback, GET /api/topics,
GET /api/helplines, health, widget files, demo page.

The server keeps no conversation state and never logs, stores or echoes message text.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response

from . import __version__, registry
from .config import Settings, get_settings
from .engine import Engine
from .feedback import install as install_feedback
from .loader import default_root, load
from .menu import load_menu
from .middleware import install_middleware
from .models import KnowledgeBase
from .safeguard import SafeResponder
from .schemas import (
    API_ERRORS,
    ChatRequest,
    ChatResponse,
    HelplinesResponse,
    Signpost,
    Status,
    Topic,
    TopicsResponse,
)
from .static import WidgetFiles
from .triage_model import TriageModelConfig

log = logging.getLogger("signpost")


# A bad query parameter gets the same one-sentence 422 as a bad body.
_GET_ERRORS = {code: API_ERRORS[code] for code in (422, 429)}


def _explain(exc: RequestValidationError) -> str:
    """One clear sentence per problem, without echoing what was typed."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        msg = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
        if err.get("type") == "json_invalid":
            parts.append("the body is not valid JSON")
        elif err.get("type") == "missing":
            parts.append(f"{loc} is required")
        elif loc == "audience":
            parts.append("audience must be 'young_person', 'parent' or null")
        else:
            parts.append(f"{loc}: {msg}")
    return "; ".join(parts) or "invalid request"


def talk_lists(kb: KnowledgeBase) -> dict[str, list[str]]:
    """The registry's talk-to-someone list per audience (the built-in registry's when the
    knowledge base has no helplines.yaml of its own); ids it does not have are left out."""
    path = Path(kb.root or ".") / "content" / "helplines.yaml"
    reg = registry.read(path if path.is_file() else default_root() / "content" / "helplines.yaml")
    return {
        aud: [i for i in registry.talk_to_someone(reg, aud) if i in kb.helplines] or [first]
        for aud, first in (("young_person", "childline"), ("parent", "nspcc_helpline"))
    }


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = engine or Engine(
        load(settings.kb_dir), triage_model=TriageModelConfig(enabled=settings.triage_model)
    )
    kb = engine.kb
    root = Path(kb.root)
    widget_dir = root / "web_widget"

    app = FastAPI(
        title="Signpost",
        version=__version__,
        summary="Plain-language answers and real help about online child sexual abuse.",
    )
    app.state.engine = engine
    app.state.settings = settings
    install_middleware(app, settings)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _explain(exc)}, status_code=422)

    respond = SafeResponder(engine)

    @app.post("/api/chat", response_model=ChatResponse, responses=API_ERRORS, tags=["chat"])
    async def chat(req: ChatRequest) -> Response:
        """Answer one message. Send back `context` from the previous reply to keep the thread."""
        out = await respond.reply(req)  # the engine's reply, or a safe one if it ever fails
        # Already a validated ChatResponse: serialise once instead of FastAPI re-validating it.
        return Response(out.model_dump_json(by_alias=True), media_type="application/json")

    topics = TopicsResponse(
        topics=[
            Topic(id=i.id, title=i.title, message=i.examples[0] if i.examples else i.title)
            for i in kb.topics()
        ]
    )

    install_feedback(app)  # POST /api/feedback

    menu = load_menu(kb)
    menus = {
        aud: TopicsResponse(
            topics=[
                Topic(id=m.intent, title=m.label, message=m.message) for m in getattr(menu, aud)
            ]
        )
        for aud in ("young_person", "parent")
    }

    @app.get("/api/topics", response_model=TopicsResponse, responses=_GET_ERRORS, tags=["chat"])
    def list_topics(audience: Literal["young_person", "parent"] | None = None) -> TopicsResponse:
        """The topic menu. With `audience`: that audience's first buttons, in its own words
        (content/menu.yaml); without: every topic by its title."""
        return menus[audience] if audience else topics

    who_to_talk_to = talk_lists(kb)

    @app.get(
        "/api/helplines", response_model=HelplinesResponse, responses=_GET_ERRORS, tags=["chat"]
    )
    def list_helplines(
        audience: Literal["young_person", "parent"] = "young_person",
    ) -> HelplinesResponse:
        """Who this audience can talk to, in registry order, with opening hours (Europe/London)
        and `open_now` at the time of asking, so the widget can say "open now / opens at"."""
        now = datetime.now(UTC)
        return HelplinesResponse(
            audience=audience,
            helplines=[Signpost.of(kb.helplines[i], now) for i in who_to_talk_to[audience]],
        )

    @app.get("/healthz", response_model=Status, tags=["ops"])
    def healthz() -> Status:
        """Liveness: the process answers."""
        return Status(status="ok")

    @app.get("/readyz", response_model=Status, tags=["ops"])
    def readyz() -> Status:
        """Readiness: the knowledge base is loaded (it is, or start-up would have failed)."""
        return Status(status="ready" if app.state.engine.kb.intents else "loading")

    if widget_dir.is_dir():
        app.mount("/widget", WidgetFiles(directory=widget_dir), name="widget")
        demo = widget_dir / "demo.html"

        @app.get("/", include_in_schema=False)
        def demo_page() -> FileResponse:
            return FileResponse(demo, media_type="text/html")

    return app


def __getattr__(name: str) -> FastAPI:
    # `bot.api:app` for uvicorn, built on first use so importing the module stays cheap.
    if name == "app":
        global app
        app = create_app()
        return app
    raise AttributeError(name)
