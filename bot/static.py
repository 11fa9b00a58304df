"""The widget's files under /widget/: its assets only, never whatever else is in the folder
(README.md, editor backups, dotfiles)."""

from __future__ import annotations

from pathlib import PurePosixPath

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

# What a browser loads for the widget and its demo page.
ASSET_SUFFIXES = frozenset({".js", ".css", ".html", ".svg", ".png", ".ico", ".webp", ".woff2"})


def is_asset(path: str) -> bool:
    name = PurePosixPath(path)
    return name.suffix.lower() in ASSET_SUFFIXES and not any(
        part.startswith(".") for part in name.parts
    )


class WidgetFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        if not is_asset(path):
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)
