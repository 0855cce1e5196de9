"""Nested chats: a critic answers the writer only after a review by two other agents.

``register_nested_chats`` makes the critic run a sequence of chats whenever the writer
speaks to it; each summary carries over into the next chat, and the last summary is the
critic's reply. Offline: all models are scripted. Run it with::

    python examples/nested_chats.py
"""

from __future__ import annotations

from flowagents import AssistantAgent, ScriptedModel


def main() -> None:
    writer = AssistantAgent(
        "writer",
        system_message="You write short blog posts.",
        llm_config=ScriptedModel(
            [
                "Title: Why sleep matters. Sleep helps memory.",
                "Title: Why sleep matters. Sleep consolidates memory, according to a 2019 study.",
            ]
        ),
    )
    critic = AssistantAgent(
        "critic",
        system_message="You critique blog posts.",
        llm_config=ScriptedModel(["(the critic's own model is not used)"]),
    )
    seo_reviewer = AssistantAgent(
        "seo_reviewer",
        llm_config=ScriptedModel(["SEO: put the keyword 'sleep' in the first sentence."]),
    )
    fact_checker = AssistantAgent(
        "fact_checker",
        llm_config=ScriptedModel(["Facts: cite a source for the memory claim."]),
    )
    critic.register_nested_chats(
        [
            {"recipient": seo_reviewer, "max_turns": 1, "summary_method": "last_msg"},
            {
                "recipient": fact_checker,
                "message": "Check the facts of the post.",
                "max_turns": 1,
                "summary_method": "last_msg",
            },
        ],
        trigger=writer,
    )
    result = critic.initiate_chat(writer, message="Write a post about sleep.", max_turns=2)
    print(f"Summary: {result.summary}")


if __name__ == "__main__":
    main()
