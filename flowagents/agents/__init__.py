"""Conversable agents with the familiar API: send, receive, reply functions, chats."""

from flowagents.agents._agent import Agent
from flowagents.agents._assistant import AssistantAgent
from flowagents.agents._chat import ChatResult, register_function
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
    "register_function",
]
