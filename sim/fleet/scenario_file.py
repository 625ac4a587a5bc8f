"""Scenario files: TOML (read with the standard library) or YAML (PyYAML's ``safe_load``), and the
scenarios shipped in ``sim/scenarios``. Reading gives the file's tables; `sim.fleet.scenario`
validates them."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path
from typing import Any, Final

from sim.fleet.scenario_error import ScenarioError

SCENARIO_DIR: Final = Path(__file__).resolve().parent.parent / "scenarios"
"""The scenarios shipped with voltmesh (``sim/scenarios``)."""

SUFFIXES: Final = (".toml", ".yaml", ".yml")
"""File suffixes `read_scenario_file` reads: TOML, or YAML for the other two."""


def builtin_scenarios() -> dict[str, Path]:
    """The shipped scenario files by name (file stem): ``smoke``, ``city``, ``depot``..."""
    if not SCENARIO_DIR.is_dir():
        return {}
    return {
        path.stem: path
        for path in sorted(SCENARIO_DIR.iterdir())
        if path.suffix in SUFFIXES and path.is_file()
    }


def resolve(path: Path) -> Path:
    """``path``, or the shipped scenario it names: a bare name without a suffix that is not a
    file (``smoke``)."""
    if path.suffix or path.exists() or len(path.parts) != 1:
        return path
    builtin = builtin_scenarios()
    if path.name in builtin:
        return builtin[path.name]
    names = ", ".join(builtin) or "none"
    raise ScenarioError(f"{path}: no such file, and no shipped scenario of that name ({names})")


def read_scenario_file(path: Path) -> object:
    """The parsed content of a scenario file (not yet validated). Raises `ScenarioError`, without
    a field, for a file that cannot be read or parsed."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ScenarioError(f"{path}: a scenario file must end in .toml, .yaml or .yml")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read the scenario: {exc}") from None
    if suffix == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    return _load_yaml(text, path)


def _load_yaml(text: str, path: Path) -> object:
    # Imported by name: PyYAML is only needed for YAML files, and it ships no type stubs.
    try:
        yaml: Any = importlib.import_module("yaml")
    except ImportError:
        raise ScenarioError(f"{path}: reading YAML needs PyYAML (pip install pyyaml)") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is not None:
            _reject_duplicate_keys(node, yaml, path)
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None


def _reject_duplicate_keys(root: Any, yaml: Any, path: Path) -> None:
    """PyYAML keeps the last of repeated keys; a repeated key is as much a typo as an unknown one
    (TOML refuses them itself)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: set[object] = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    if key.value in keys:
                        line = key.start_mark.line + 1
                        raise ScenarioError(f"{path}: line {line}: duplicate key {key.value!r}")
                    keys.add(key.value)
                stack += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value
