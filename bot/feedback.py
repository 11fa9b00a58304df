"""POST /api/feedback: "Was this helpful?" Yes or No under an answer, counted per intent.

Only two things arrive and only a counter changes: the intent id (checked against the
knowledge base, so a label can never carry free text) and a yes/no. Nothing is logged or
stored, and extra fields are refused rather than ignored, so no comment or identifier can
ride along. The route sits under /api/, so the chat's rate limiter covers it too.

The counter is bot/metrics.py's `signpost_feedback_total`, on the same /metrics page as the
others (added up over workers). The access log keeps its usual line (method, route, status,
time) and nothing from the body.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from . import metrics
from .schemas import API_ERRORS, ErrorResponse


class Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    intent: str = Field(max_length=64, description="The `intent` of the answer being rated.")
    helpful: StrictBool = Field(description="true for Yes, false for No.")


def feedback(body: Feedback, request: Request) -> Response:
    """Count one Yes or No for an answer's intent. No text, no identifiers, no cookies."""
    if body.intent not in request.app.state.engine.kb.intents:
        return JSONResponse({"detail": "intent is not a known intent id"}, status_code=422)
    metrics.FEEDBACK.labels(body.intent, "yes" if body.helpful else "no").inc()
    return Response(status_code=204)


def install(app: FastAPI) -> None:
    # Added to the app itself, not through an APIRouter: FastAPI 0.165 includes routers
    # lazily, and the access log / metrics route lookup (bot/middleware.py) would then see
    # this route as "/other".
    app.add_api_route(
        "/api/feedback",
        feedback,
        methods=["POST"],
        status_code=204,
        tags=["chat"],
        responses={
            **API_ERRORS,
            422: {"model": ErrorResponse, "description": "Invalid input or unknown intent."},
        },
    )
