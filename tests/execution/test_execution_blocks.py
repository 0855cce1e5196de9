from __future__ import annotations

import pytest

from flowagents.execution import CodeBlock, extract_code_blocks, infer_language


def test_labelled_blocks_in_order_with_aliases_normalized() -> None:
    text = (
        "First:\n```python\nprint(1)\n```\nthen\n```py\nprint(2)\n```\n"
        "```sh\necho 3\n```\n```bash\necho 4\n```\n```shell\necho 5\n```\n"
    )
    assert extract_code_blocks(text) == [
        CodeBlock(language="python", code="print(1)"),
        CodeBlock(language="python", code="print(2)"),
        CodeBlock(language="sh", code="echo 3"),
        CodeBlock(language="bash", code="echo 4"),
        CodeBlock(language="sh", code="echo 5"),
    ]


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("print('hi')", "python"),
        ("import os\nx = 1", "python"),
        ("pip install numpy", "sh"),
        ("python script.py", "sh"),
        ("#!/bin/bash\necho hi", "sh"),
        ("this is not valid python (", "python"),
    ],
)
def test_unlabelled_block_language_is_inferred(code: str, language: str) -> None:
    assert infer_language(code) == language
    assert extract_code_blocks(f"```\n{code}\n```") == [CodeBlock(language=language, code=code)]


def test_other_labels_are_kept_for_the_executor_to_refuse() -> None:
    assert extract_code_blocks('```JSON\n{"a": 1}\n```') == [
        CodeBlock(language="json", code='{"a": 1}')
    ]


def test_info_string_extras_longer_fences_and_tildes() -> None:
    text = (
        "```python title=x.py\nprint(1)\n```\n"
        "````{.python}\nprint('```')\n```\nprint(2)\n````\n"
        "~~~sh\necho tilde\n~~~\n"
    )
    assert extract_code_blocks(text) == [
        CodeBlock(language="python", code="print(1)"),
        CodeBlock(language="python", code="print('```')\n```\nprint(2)"),
        CodeBlock(language="sh", code="echo tilde"),
    ]


def test_no_blocks_unclosed_and_empty_blocks_give_nothing() -> None:
    assert extract_code_blocks("just prose, `inline` code") == []
    assert extract_code_blocks("```python\nprint('truncated answer'") == []
    assert extract_code_blocks("```python\n\n   \n```") == []
    assert extract_code_blocks("") == []


def test_crlf_and_indented_fences() -> None:
    text = "intro\r\n  ```python\r\n  x = 1\r\n  ```\r\n"
    assert extract_code_blocks(text) == [CodeBlock(language="python", code="  x = 1")]


@pytest.mark.parametrize(
    "garbage",
    ["```", "``````", "```\n```\n```", "\x00```py\x00\n```", "```" * 1000, "~~~~\n" * 50],
)
def test_garbage_never_raises(garbage: str) -> None:
    blocks = extract_code_blocks(garbage)
    assert all(isinstance(b, CodeBlock) and b.code.strip() for b in blocks)
