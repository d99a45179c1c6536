"""What every route reaches through its request: the Runtime and the Settings of this app."""

from __future__ import annotations

from fastapi import Request

from ripple.config import Settings
from ripple.runtime import Runtime


def runtime(request: Request) -> Runtime:
    value: Runtime = request.app.state.runtime
    return value


def settings(request: Request) -> Settings:
    value: Settings = request.app.state.settings
    return value
