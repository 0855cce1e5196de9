"""Finding fenced code blocks in model output."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

#: Languages the executors run, keyed by every label that means them.
LANGUAGE_ALIASES: dict[str, str] = {
    "python": "python",
    "python3": "python",
    "py": "python",
    "sh": "sh",
    "shell": "sh",
    "bash": "bash",
}

# An opening fence: 3+ backticks or tildes, then an optional info string whose first word
# is the language (``{.python}`` and ``python title=x`` are tolerated).
_OPEN = re.compile(r"^[ \t]{0,3}(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*?)[ \t]*$")
_FIRST_WORD = re.compile(r"[{.]*(?P<lang>[A-Za-z0-9_+#-]*)")
_SHELL_START = re.compile(
    r"^(?:#!\s*/\S*(?:ba)?sh\b|pip3?\s|python3?\s|\$ |apt(?:-get)?\s|export\s|cd\s|ls\b|echo\s)"
)


class CodeBlock(BaseModel):
    """One fenced block: its (lower-cased) language label and its code."""

    model_config = ConfigDict(frozen=True)

    language: str
    code: str


def normalize_language(label: str) -> str:
    """Map a fence label to the language an executor runs (``py`` -> ``python``)."""
    label = label.strip().lower()
    return LANGUAGE_ALIASES.get(label, label)


def infer_language(code: str) -> str:
    """Guess the language of an unlabelled block: shell if it looks like commands, else python.

    Like AutoGen, a block starting with ``pip``/``python`` commands (or a shell shebang) is
    shell; everything else is taken as Python so a mistake surfaces as a Python error the model
    can fix.
    """
    first = next((line.strip() for line in code.splitlines() if line.strip()), "")
    return "sh" if _SHELL_START.match(first) else "python"


def extract_code_blocks(text: str) -> list[CodeBlock]:
    """Return the closed fenced code blocks in ``text``, in order.

    A block is closed by a fence of the same character at least as long as its opener.
    An unclosed block (a truncated answer) is dropped rather than run half-written.
    Unlabelled blocks get :func:`infer_language`; labels are normalized
    (``py`` -> ``python``, ``shell`` -> ``sh``); other labels are kept as written.
    """
    blocks: list[CodeBlock] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opener = _OPEN.match(lines[i])
        if opener is None:
            i += 1
            continue
        fence = opener["fence"]
        word = _FIRST_WORD.match(opener["info"])
        label = word["lang"] if word else ""
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        end = next((j for j in range(i + 1, len(lines)) if closing.match(lines[j])), None)
        if end is None:
            break
        code = "\n".join(lines[i + 1 : end])
        if code.strip():
            language = normalize_language(label) if label else infer_language(code)
            blocks.append(CodeBlock(language=language, code=code))
        i = end + 1
    return blocks
