"""What an OpenAI-compatible endpoint is known to support (no SDK import needed)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ModelCapabilities(BaseModel):
    """What an endpoint is known to support; None means not known yet (try it).

    Other components read these hints to pick a mechanism without a failing request first
    (the speaker selector: ``json_schema``, ``json_object``, ``tools``, ``tool_choice``).
    The client itself uses ``stream_tools`` (stream requests with tools only when not False,
    and sets it to False when a server rejects them) and ``stream_usage`` (ask for usage in
    the last streamed chunk).
    """

    model_config = ConfigDict(extra="forbid")

    json_schema: bool | None = None
    json_object: bool | None = None
    tools: bool | None = None
    tool_choice: bool | None = None
    stream_tools: bool | None = None
    stream_usage: bool = True
