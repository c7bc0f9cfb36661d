"""The config schema, the shipped config.toml and the loader's refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from model import config
from model.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def test_shipped_config_lists_every_key_with_a_comment() -> None:
    text = (REPO / "config.toml").read_text()
    data = config.tomllib.loads(text)
    assert set(data) == set(config.SCHEMA)
    for section, keys in config.SCHEMA.items():
        assert set(data[section]) == set(keys), section
        for key in keys:
            line = config._line_of(text, section, key)
            assert line is not None
            assert text.splitlines()[line - 2].lstrip().startswith("#"), f"{section}.{key} has no comment"


def test_readme_configuration_table_lists_every_key() -> None:
    """The README's table of keys (## Configuration) has a row per key of the schema (the
    [clock] and [ensemble] keys and model.offline_path were missing)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    table = text[text.index("## Configuration"):]
    table = table[: table.index("\n## ", 1)] if "\n## " in table[1:] else table
    rows = {line.split("`")[1] for line in table.splitlines() if line.startswith("| `")}
    missing = [f"{s}.{k}" for s, keys in config.SCHEMA.items() for k in keys if f"{s}.{k}" not in rows]
    assert not missing, f"README.md ## Configuration lacks rows for {missing}"


def test_shipped_config_equals_defaults() -> None:
    assert config.load_config(REPO / "config.toml") == config.defaults()


def test_unknown_key_names_key_and_line(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[osc]\nprefix = "/x"\nbogus = 1\n')
    with pytest.raises(ConfigError, match=r"osc\.bogus.*c\.toml:3"):
        config.load_config(f)


def test_unknown_section(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text("[nope]\na = 1\n")
    with pytest.raises(ConfigError, match=r"nope.*c\.toml:1"):
        config.load_config(f)


@pytest.mark.parametrize(
    "body, match",
    [
        ("[features]\nfps = 45\n", "one of"),
        ("[live]\nenergy = 9.0\n", "<= 2.0"),
        ('[websocket]\nport = "x"\n', "must be a int"),
        ("[osc]\ntargets = [1, 2]\n", "list of str"),
        ("[osc]\nenabled = 1\n", "must be a bool"),
        ("[audio\n", "not valid TOML"),
    ],
)
def test_bad_values_are_refused(tmp_path: Path, body: str, match: str) -> None:
    f = tmp_path / "c.toml"
    f.write_text(body)
    with pytest.raises(ConfigError, match=match):
        config.load_config(f)


def test_int_widens_to_float(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text("[live]\nenergy = 1\n")
    assert config.load_config(f)["live"]["energy"] == 1.0


def test_overrides_win() -> None:
    cfg = config.load_config(overrides={"features.fps": 60, "osc.targets": ["10.0.0.1:1"]})
    assert cfg["features"]["fps"] == 60 and cfg["osc"]["targets"] == ["10.0.0.1:1"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "live.cli", *args], capture_output=True, text=True, cwd=REPO)


def test_cli_config_show_applies_set() -> None:
    r = _cli("config", "show", "--set", "features.fps=60", "--set", 'osc.targets=["1.2.3.4:5"]')
    assert r.returncode == 0, r.stderr
    shown = config.tomllib.loads(r.stdout)
    assert shown["features"]["fps"] == 60 and shown["osc"]["targets"] == ["1.2.3.4:5"]


def test_cli_error_is_one_line_without_traceback() -> None:
    r = _cli("config", "show", "--set", "live.energy=5")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr
    assert "live.energy" in r.stderr


@pytest.mark.parametrize(("setting", "says"), [
    ("live.energy=abc", "give a number from 0 to 2, e.g. --set live.energy=1.0"),
    ("audio.fast=maybe", "give true or false, e.g. --set audio.fast=false"),
])
def test_unreadable_set_value_says_what_the_key_takes(setting: str, says: str) -> None:
    with pytest.raises(ConfigError) as e:
        config.parse_value(*setting.split("=")[0].split("."), setting.split("=")[1])
    assert str(e.value).endswith(says) and "\n" not in str(e.value)
    assert config.parse_value("live", "energy", "1.5") == 1.5  # a value it can read is read


def test_cli_version_and_help() -> None:
    assert _cli("--version").stdout.startswith("dancemuse ")
    assert _cli("--help").returncode == 0
