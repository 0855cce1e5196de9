"""config_list_from_json reads the familiar OAI_CONFIG_LIST from the environment or a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowagents import ConfigError, config_list_from_json

ENTRIES = [
    {"model": "gpt-4o", "api_key": "a", "tags": ["big"]},
    {"model": "llama3", "base_url": "http://127.0.0.1:11434/v1", "tags": ["local"]},
]


def test_from_an_environment_variable_holding_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAI_CONFIG_LIST", json.dumps(ENTRIES))
    assert config_list_from_json("OAI_CONFIG_LIST") == ENTRIES
    assert config_list_from_json("OAI_CONFIG_LIST", filter_dict={"model": ["llama3"]}) == [
        ENTRIES[1]
    ]
    assert config_list_from_json("OAI_CONFIG_LIST", filter_dict={"tags": ["big"]}) == [
        ENTRIES[0]
    ]


def test_from_a_file_named_by_the_variable_or_in_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "OAI_CONFIG_LIST"
    path.write_text(json.dumps(ENTRIES))
    monkeypatch.delenv("OAI_CONFIG_LIST", raising=False)
    assert config_list_from_json("OAI_CONFIG_LIST", file_location=tmp_path) == ENTRIES
    monkeypatch.setenv("OAI_CONFIG_LIST", str(path))
    assert config_list_from_json("OAI_CONFIG_LIST") == ENTRIES


def test_errors_name_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OAI_CONFIG_LIST", raising=False)
    with pytest.raises(ConfigError, match="set the environment variable OAI_CONFIG_LIST"):
        config_list_from_json("OAI_CONFIG_LIST", file_location=tmp_path)
    (tmp_path / "OAI_CONFIG_LIST").write_text("[{not json")
    with pytest.raises(ConfigError, match=r"OAI_CONFIG_LIST: not valid JSON"):
        config_list_from_json("OAI_CONFIG_LIST", file_location=tmp_path)
