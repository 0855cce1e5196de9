"""Conversable agents with the familiar API: send, receive, reply functions, chats.

Layout: ``_agent`` is the ``Agent`` base; ``_conversable`` the ``ConversableAgent`` API, with
its rules in ``_replies`` (the reply-function registry), ``_functions`` (tools and the function
map) and ``_history`` (the messages an agent has heard); ``_builtin_replies`` are the reply
functions every agent starts with, ``_assistant`` and ``_user_proxy`` its two presets;
``_chat`` runs pair chats, chat sequences and nested chats, ``_groupchat`` group chats;
``_human`` is human input, ``_sync`` the synchronous calls; ``_factory`` builds agents and
model clients from graph specs.
"""

from flowagents.agents._agent import Agent
from flowagents.agents._assistant import AssistantAgent
from flowagents.agents._chat import ChatResult, initiate_chats, register_function
from flowagents.agents._conversable import ConversableAgent, HumanInputMode
from flowagents.agents._groupchat import GroupChat, GroupChatManager
from flowagents.agents._human import ConsoleInput, ScriptedInput
from flowagents.agents._user_proxy import UserProxyAgent

__all__ = [
    "Agent",
    "AssistantAgent",
    "ChatResult",
    "ConsoleInput",
    "ConversableAgent",
    "GroupChat",
    "GroupChatManager",
    "HumanInputMode",
    "ScriptedInput",
    "UserProxyAgent",
    "initiate_chats",
    "register_function",
]
