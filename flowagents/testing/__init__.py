"""Tools for testing flowagents programs without a real model or network.

``ScriptedModel`` answers in-process; ``LoopbackServer`` is a real OpenAI-compatible HTTP
server on 127.0.0.1 with scripted replies, injected ``Fault``s and capability profiles.
The pytest plugin ``flowagents.testing.pytest_plugin`` provides the ``loopback_server``
fixture.
"""

from flowagents.models._scripted import Reply, ScriptedModel
from flowagents.testing._completions import PROFILES, Profile, ReplyFunction
from flowagents.testing._loopback import Fault, LoopbackServer, RecordedRequest

__all__ = [
    "PROFILES",
    "Fault",
    "LoopbackServer",
    "Profile",
    "RecordedRequest",
    "Reply",
    "ReplyFunction",
    "ScriptedModel",
]
