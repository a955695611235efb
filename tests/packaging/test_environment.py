"""environment.yml must hold exactly the dependencies of pyproject.toml (runtime + dev)."""

import pathlib
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _pip_section(text: str) -> list[str]:
    lines, inside = [], False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("- pip:"):
            inside = True
            continue
        if inside:
            if not line or line.startswith("#"):
                continue
            if not raw.startswith("      -"):
                break
            lines.append(line[2:].strip())
    return lines


def _normalise(req: str) -> str:
    return " ".join(req.replace('"', "'").split())


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["dev"]
    listed = [r for r in _pip_section((ROOT / "environment.yml").read_text()) if not r.startswith("-e")]
    assert sorted(map(_normalise, listed)) == sorted(map(_normalise, wanted)), (
        "environment.yml and pyproject.toml disagree; copy the dependency lines across")
    assert "-e ." in _pip_section((ROOT / "environment.yml").read_text())


def test_parser_sees_every_line():
    sample = "dependencies:\n  - pip\n  - pip:\n      - a>=1\n      # note\n      - b\n  - other\n"
    assert _pip_section(sample) == ["a>=1", "b"]
