"""The deployment files agree with the Procfile and with the settings the code reads, and the image's
steps and commands work from a fresh clone.

There is no container engine on this machine, so the last test runs what the image would: it clones
HEAD, performs the Dockerfile's RUN steps (those that need no root: a virtualenv and the pinned pip
installs, the state folder), then runs the image's entry point with the compose file's commands and
environment — release, then web, worker and beat — against PostgreSQL and Redis, and sees `/readyz`
answer 200 through nginx and beat's first sweep run on the worker.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import deploy
from tests.services import fresh_pg_database, redis_url

REPO = deploy.REPO
INFRA = REPO / "infra"
PROCESSES = {"web", "worker", "beat", "release"}
# What a production deploy cannot do without: its store (without a hash the service runs the sandbox),
# the store's API token, Ometria's key, state every process shares (the defaults are one machine's
# SQLite file and file broker), and at least one way to authenticate callbacks.
REQUIRED = {
    "BIGCOMMERCE_STORE_HASH",
    "BIGCOMMERCE_ACCESS_TOKEN",
    "OMETRIA_API_KEY",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
}
ONE_OF_REQUIRED = {"WEBHOOK_SECRET", "BIGCOMMERCE_CLIENT_SECRET"}
# Read by Python and pip themselves, not by the project's code.
INTERPRETER = {"PATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PIP_DISABLE_PIP_VERSION_CHECK"}
SECRET_WORDS = re.compile(r"TOKEN|SECRET|KEY|PASSWORD|DSN|DATABASE_URL|BROKER_URL|WEBHOOK_URL")
# The liveness gauges the alert rules rely on (workers/ops/health_collector.py).
LIVENESS_METRICS = {
    "bcsync_heartbeat_age_seconds",
    "bcsync_heartbeat_threshold_seconds",
    "bcsync_store_paused",
    "bcsync_hooks_inactive",
    "bcsync_failed_tasks",
    "bcsync_unhealthy",
    "bcsync_bigcommerce_quota_remaining",
}


# --- what the code reads ------------------------------------------------------------------------


def settings_variables() -> set[str]:
    """The variables workers.settings reads: its `ENVIRONMENT` mapping once the pydantic-settings
    version exposes one, until then the names its source passes to the environment."""
    import workers.settings as settings

    names = getattr(settings, "ENVIRONMENT", None)
    if names is not None:
        return set(names)
    source = Path(settings.__file__).read_text()
    return set(re.findall(r'(?:_env|environ\.get|getenv)\(\s*"([A-Z][A-Z0-9_]*)"', source))


def code_variables() -> set[str]:
    """Every variable the service reads: settings, the rest of workers/ and consumer/, the Procfile's
    lines and the web launcher."""
    pattern = re.compile(
        r'(?:environ\.get|getenv|env_int)\(\s*"([A-Z][A-Z0-9_]*)"|environ\[\s*"([A-Z][A-Z0-9_]*)"'
    )
    names = settings_variables()
    sources = [*(REPO / "workers").rglob("*.py"), *(REPO / "consumer").rglob("*.py"), INFRA / "web.py"]
    for path in sources:
        for match in pattern.finditer(path.read_text()):
            names.add(match.group(1) or match.group(2))
    for line in deploy.procfile(REPO).values():
        names |= set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", line))
    return names


def test_the_required_variables_are_ones_the_settings_read() -> None:
    assert settings_variables() >= REQUIRED | ONE_OF_REQUIRED


# --- parsing the files ----------------------------------------------------------------------------


def dockerfile(path: Path = INFRA / "Dockerfile") -> list[tuple[str, str]]:
    """[(INSTRUCTION, arguments)], continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        word, _, rest = (pending + line).partition(" ")
        out.append((word.upper(), rest.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def docker_env(instructions: list[tuple[str, str]], base: Mapping[str, str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for word, args in instructions:
        if word == "ENV":
            for item in shlex.split(args):
                name, sep, value = item.partition("=")
                assert sep, f"ENV {item!r}: write ENV NAME=value"
                env[name] = re.sub(r"\$\{?(\w+)\}?", lambda m: {**base, **env}.get(m.group(1), ""), value)
    return env


def exec_form(instructions: list[tuple[str, str]], word: str) -> list[str]:
    values = [yaml.safe_load(args) for w, args in instructions if w == word]
    assert len(values) == 1 and isinstance(values[0], list), f"one {word} in exec form (a JSON list)"
    return values[0]


def compose() -> dict[str, Any]:
    return yaml.safe_load((INFRA / "docker-compose.yml").read_text())


def k8s() -> dict[tuple[str, str], dict[str, Any]]:
    """{(kind, name): document} of every manifest under infra/k8s."""
    docs: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted((INFRA / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") != "Kustomization":
                docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs


def systemd_units() -> dict[str, dict[str, list[str]]]:
    units = {}
    for path in sorted((INFRA / "systemd").glob("*.service")):
        keys: dict[str, list[str]] = {}
        for line in path.read_text().splitlines():
            if "=" in line and not line.startswith(("#", "[")):
                key, _, value = line.partition("=")
                keys.setdefault(key.strip(), []).append(value.strip())
        units[path.name] = keys
    return units


def deployments() -> dict[str, dict[str, Any]]:
    return {name: doc for (kind, name), doc in k8s().items() if kind == "Deployment"}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


APP_SERVICES = ("migrate", "web", "worker", "beat")


# --- the Procfile and the entry point --------------------------------------------------------------


def test_the_procfile_has_every_process_as_one_plain_command() -> None:
    lines = deploy.procfile(REPO)
    assert set(lines) == PROCESSES
    for name, line in lines.items():
        assert not re.search(r"&&|;|\|", line), (
            f"{name}: one command, so that it can replace the shell (exec)"
        )
    assert lines["web"] == "python infra/web.py"
    assert lines["release"] == "bcsync db upgrade"


def test_infra_run_starts_only_procfile_processes(tmp_path: Path) -> None:
    run = INFRA / "run"
    assert os.access(run, os.X_OK)
    for bad in ("nosuch", "web;id", "", "../x"):
        result = subprocess.run([str(run), bad], capture_output=True, text=True, timeout=30)
        assert result.returncode == 64, (bad, result)
    fake = tmp_path / "repo"
    (fake / "infra").mkdir(parents=True)
    (fake / "infra" / "run").write_bytes(run.read_bytes())
    (fake / "infra" / "run").chmod(0o755)
    (fake / "Procfile").write_text("web: echo web $PORT from $(pwd)\nworker: echo worker\n")
    result = subprocess.run(
        [str(fake / "infra" / "run"), "web"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PORT": "1234"},
        cwd=tmp_path,
    )
    assert (result.returncode, result.stdout) == (0, f"web 1234 from {fake}\n")


# --- the Dockerfile -------------------------------------------------------------------------------


def test_the_dockerfile_is_slim_python_311_non_root_with_the_procfile_entry_point() -> None:
    steps = dockerfile()
    assert steps[0][0] == "FROM" and re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", steps[0][1]), steps[0]
    users = [i for i, (w, _) in enumerate(steps) if w == "USER"]
    runs = [i for i, (w, _) in enumerate(steps) if w == "RUN"]
    assert users and users[-1] > runs[-1], "USER comes after the last RUN"
    assert steps[users[-1]][1].split(":")[0] not in ("root", "0")
    entrypoint = exec_form(steps, "ENTRYPOINT")
    assert entrypoint == ["/app/infra/run"]
    assert ("WORKDIR", "/app") in steps
    assert exec_form(steps, "CMD") == ["web"]
    installs = " ".join(a for w, a in steps if w == "RUN" and "apt-get install" in a)
    assert "nginx" in installs.split(), "the web process needs nginx"
    pip_runs = [a for w, a in steps if w == "RUN" and a.startswith("pip install")]
    assert pip_runs == [
        "pip install --no-cache-dir -r infra/requirements.lock",
        "pip install --no-cache-dir --no-deps .",
    ]
    env = docker_env(steps, {"PATH": "/usr/bin"})
    assert env["PATH"].startswith("/opt/venv/bin:")
    assert set(env) - INTERPRETER <= code_variables(), set(env) - INTERPRETER - code_variables()


def test_the_lock_pins_every_dependency_at_pyprojects_versions() -> None:
    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    lock: dict[str, str] = {}
    for line in (INFRA / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and re.fullmatch(r"[\w.+!-]+", version), f"not pinned: {line}"
            lock[norm(name)] = version
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        match = re.fullmatch(r"([\w.-]+)(?:\[([\w,-]+)\])?==([\w.+!-]+)", requirement)
        assert match, f"pyproject.toml: pin {requirement} with =="
        name, extras, version = match.groups()
        assert lock.get(norm(name)) == version, f"{requirement}: the lock has {lock.get(norm(name))}"
        for extra in (extras or "").split(","):
            if extra and norm(name) == "psycopg":
                assert lock.get(f"psycopg-{extra}") == version
    for dev in project["optional-dependencies"]["dev"]:
        assert norm(re.split(r"[=<>\[]", dev)[0]) not in lock, f"dev dependency {dev} in the image's lock"


# --- docker-compose -------------------------------------------------------------------------------


def test_compose_runs_the_image_with_procfile_commands_after_the_release_step() -> None:
    services = compose()["services"]
    assert {"postgres", "redis", *APP_SERVICES} <= set(services)
    commands = {name: services[name]["command"] for name in APP_SERVICES}
    assert commands == {"migrate": ["release"], "web": ["web"], "worker": ["worker"], "beat": ["beat"]}
    assert {c[0] for c in commands.values()} == set(deploy.procfile(REPO))
    for name in APP_SERVICES:
        service = services[name]
        assert service["build"] == {"context": "..", "dockerfile": "infra/Dockerfile"}
        assert "entrypoint" not in service, "the image's entry point (infra/run) starts every process"
    assert services["migrate"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert services["beat"]["deploy"]["replicas"] == 1
    port = docker_env(dockerfile(), {})["PORT"]
    assert [p.rsplit(":", 1)[1] for p in services["web"]["ports"]] == [port]


def test_compose_sets_only_variables_the_code_reads_and_every_one_it_needs() -> None:
    services = compose()["services"]
    known = code_variables()
    for name in APP_SERVICES:
        env = set(services[name]["environment"])
        assert env <= known, f"{name}: variables nothing reads: {sorted(env - known)}"
        assert env >= REQUIRED and env & ONE_OF_REQUIRED, f"{name}: missing {sorted(REQUIRED - env)}"
    assert {"WEB_CONCURRENCY", "WEB_THREADS"} <= set(services["web"]["environment"])
    assert "WORKER_CONCURRENCY" in services["worker"]["environment"]
    db = services["web"]["environment"]["DATABASE_URL"]
    broker = services["web"]["environment"]["CELERY_BROKER_URL"]
    assert re.search(r"@postgres:5432/", db) and broker.startswith("redis://redis:6379/")


# --- Kubernetes -------------------------------------------------------------------------------------


def test_k8s_runs_each_procfile_process_with_migrations_first() -> None:
    found = deployments()
    assert set(found) == {"bcsync-web", "bcsync-worker", "bcsync-beat"}
    for name, doc in found.items():
        process = name.removeprefix("bcsync-")
        main = container(doc)
        assert main["args"] == [process] and "command" not in main, name
        init = doc["spec"]["template"]["spec"]["initContainers"]
        assert [c["args"] for c in init] == [["release"]] and "command" not in init[0], name
        labels = doc["spec"]["template"]["metadata"]["labels"]
        assert doc["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for c in [main, *init]:
            refs = {next(iter(e)): next(iter(e.values()))["name"] for e in c["envFrom"]}
            assert refs == {"configMapRef": "bcsync-config", "secretRef": "bcsync-secrets"}, name
    beat = found["bcsync-beat"]["spec"]
    assert beat["replicas"] == 1 and beat["strategy"] == {"type": "Recreate"}


def test_k8s_web_probes_and_service() -> None:
    docs = k8s()
    web = docs[("Deployment", "bcsync-web")]
    main = container(web)
    port = int(docker_env(dockerfile(), {})["PORT"])
    (http,) = main["ports"]
    assert http["containerPort"] == port
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": http["name"]}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": http["name"]}
    service = docs[("Service", "bcsync-web")]["spec"]
    assert service["selector"].items() <= web["spec"]["template"]["metadata"]["labels"].items()
    assert [p["targetPort"] for p in service["ports"]] == [http["name"]]


def test_k8s_worker_autoscaler_targets_the_worker_and_nothing_scales_beat() -> None:
    docs = k8s()
    hpas = [doc for (kind, _), doc in docs.items() if kind == "HorizontalPodAutoscaler"]
    assert [h["spec"]["scaleTargetRef"] for h in hpas] == [
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "bcsync-worker"}
    ]
    worker = container(docs[("Deployment", "bcsync-worker")])
    assert worker["resources"]["requests"]["cpu"], "a CPU autoscaler needs a CPU request"


def test_k8s_configuration_secret_and_configmap() -> None:
    docs = k8s()
    config = set(docs[("ConfigMap", "bcsync-config")]["data"])
    secret = set(docs[("Secret", "bcsync-secrets")]["stringData"])
    known = code_variables()
    assert (config | secret) <= known, sorted((config | secret) - known)
    assert config | secret >= REQUIRED and (config | secret) & ONE_OF_REQUIRED
    assert not {k for k in config if SECRET_WORDS.search(k)}, "tokens, keys and passwords go in the Secret"
    assert {k for k in secret if not SECRET_WORDS.search(k)} == set()
    listed = yaml.safe_load((INFRA / "k8s" / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(
        p.name for p in (INFRA / "k8s").glob("*.yaml") if p.name != "kustomization.yaml"
    )


# --- systemd ---------------------------------------------------------------------------------------


def test_systemd_units_run_procfile_processes_through_infra_run() -> None:
    units = systemd_units()
    assert set(units) == {"bcsync-web.service", "bcsync-worker.service", "bcsync-beat.service"}
    known = code_variables()
    for name, keys in units.items():
        process = name.removeprefix("bcsync-").removesuffix(".service")
        assert keys["ExecStart"] == [f"/opt/bcsync/infra/run {process}"]
        assert keys["ExecStartPre"] == ["/opt/bcsync/infra/run release"]
        assert keys["User"] != ["root"]
        env = {item.partition("=")[0] for value in keys.get("Environment", []) for item in shlex.split(value)}
        assert env - INTERPRETER <= known, (name, env - INTERPRETER - known)


# --- alert rules -----------------------------------------------------------------------------------


def metric_names_in_code() -> set[str]:
    names = set()
    for path in [*(REPO / "workers").rglob("*.py"), *(REPO / "consumer").rglob("*.py")]:
        names |= set(re.findall(r'"(bcsync_[a-z0-9_]+)"', path.read_text()))
    return names


def test_alert_rules_cover_the_incidents_with_known_metrics() -> None:
    rules = yaml.safe_load((INFRA / "prometheus" / "alerts.yml").read_text())
    listed = [rule for group in rules["groups"] for rule in group["rules"]]
    for rule in listed:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert re.fullmatch(r"Bcsync[A-Za-z]+", rule["alert"])
        assert rule["labels"]["severity"] in ("page", "warning")
        assert rule["annotations"]["summary"]
        assert "for" not in rule or re.fullmatch(r"\d+[smh]", rule["for"])
    used: set[str] = set()
    for rule in listed:
        for name in re.findall(r"\bbcsync_[a-z0-9_]+", rule["expr"]):
            used.add(re.sub(r"_(total|bucket|count|sum)$", "", name))
    existing = metric_names_in_code()
    assert used <= existing, f"metrics no code exposes: {sorted(used - existing)}"
    assert used >= LIVENESS_METRICS
    assert {"bcsync_webhooks", "bcsync_webhook_ack_seconds", "bcsync_dirty_rows"} <= used


def test_the_scrape_config_sends_the_metrics_token_under_the_alerts_job_name() -> None:
    scrape = yaml.safe_load((INFRA / "prometheus" / "scrape.yml").read_text())
    (job,) = scrape["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["type"] == "Bearer" and job["authorization"]["credentials_file"]
    alerts = (INFRA / "prometheus" / "alerts.yml").read_text()
    assert f'job="{job["job_name"]}"' in alerts
    assert "METRICS_TOKEN" in code_variables()
    secret = yaml.safe_load((INFRA / "k8s" / "secret.yaml").read_text())
    assert "METRICS_TOKEN" in secret["stringData"]  # pods are scraped from another pod: not loopback


# --- nginx, from the launcher ------------------------------------------------------------------------


def test_the_rendered_nginx_config_is_valid(tmp_path: Path) -> None:
    deploy.need_nginx()
    import importlib.util

    spec = importlib.util.spec_from_file_location("bcsync_web_launcher", INFRA / "web.py")
    assert spec and spec.loader
    launcher = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launcher)
    conf = launcher.render_nginx_conf(tmp_path, deploy.free_port(), ["127.0.0.1:9", "127.0.0.1:10"])
    text = conf.read_text()
    for directive in (
        "proxy_request_buffering on;",
        "client_header_timeout 5s;",
        "client_body_timeout 5s;",
        "client_max_body_size 65536;",
        "keepalive 32;",
        "least_conn;",
        "server 127.0.0.1:9;",
        "server 127.0.0.1:10;",
    ):
        assert directive in text
    result = subprocess.run(
        [launcher.find_nginx(), "-t", "-p", str(tmp_path), "-c", str(conf), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


# --- the image's steps and commands, from a fresh clone -----------------------------------------------


def interpolate(value: str, shell: Mapping[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?message}."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3) or ""
        have = shell.get(name, "")
        if op == ":?" and not have:
            raise AssertionError(f"compose needs {name}: {arg}")
        return have or (arg if op == ":-" else "")

    return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)(?:(:[-?])([^}]*))?\}", one, value)


class Image:
    """The Dockerfile's steps, performed in a fresh clone: /app is the clone, /opt/venv and
    /var/lib/bcsync are folders beside it."""

    def __init__(self, clone: Path, root: Path) -> None:
        self.clone = clone
        self.paths = {"/opt/venv": root / "venv", "/var/lib/bcsync": root / "state", "/app": clone}
        # the base image's PATH, with its Python 3.11 being the one running these tests
        base = f"{Path(sys.executable).parent}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        self.steps = dockerfile(clone / "infra" / "Dockerfile")
        self.env = {k: self.map(v) for k, v in docker_env(self.steps, {"PATH": base}).items()}
        self.env["HOME"] = str(root)
        self.workdir = clone
        self.not_run: list[str] = []

    def map(self, text: str) -> str:
        for image_path, here in self.paths.items():
            text = re.sub(rf"(?<![\w/]){re.escape(image_path)}(?=[/:\s\"']|$)", str(here), text)
        return text

    def build(self, log: Path) -> None:
        for word, args in self.steps:
            if word == "WORKDIR":
                self.workdir = Path(self.map(args))
            elif word == "COPY":
                source = args.split()[0]
                assert (self.clone / source).exists(), f"COPY {args}: {source} is not in the clone"
            elif word == "RUN":
                for command in re.split(r"\s*&&\s*", args):
                    self.run(shlex.split(command), log)
            else:
                assert word in ("FROM", "ENV", "USER", "EXPOSE", "ENTRYPOINT", "CMD"), f"unknown step {word}"

    def run(self, argv: list[str], log: Path) -> None:
        program = argv[0]
        if program == "apt-get":
            if argv[1] == "install":
                for package in (a for a in argv[2:] if not a.startswith("-")):
                    status = subprocess.run(
                        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
                    )
                    if "install ok installed" not in status.stdout:
                        pytest.skip(f"the image installs Debian's {package}; it is not installed here")
            return
        if program in ("groupadd", "useradd", "chown") or (
            program == "rm" and "/var/lib/apt/lists/*" in argv
        ):
            self.not_run.append(shlex.join(argv))  # accounts and apt's lists: root's business, not the app's
            return
        assert program in ("mkdir", "python", "pip"), f"RUN {shlex.join(argv)}: the test cannot perform it"
        argv = [self.map(a) for a in argv]
        argv[0] = self.which(program)
        with open(log, "ab") as out:
            subprocess.run(
                argv,
                cwd=self.workdir,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=900,
            )

    def which(self, program: str) -> str:
        for folder in self.env["PATH"].split(":"):
            if (Path(folder) / program).exists():
                return str(Path(folder) / program)
        raise AssertionError(f"{program} is not on the image's PATH")

    def command(self, args: list[str]) -> list[str]:
        return [self.map(a) for a in exec_form(self.steps, "ENTRYPOINT")] + args


@pytest.mark.services
def test_the_image_steps_and_compose_commands_run_from_a_fresh_clone(tmp_path: Path) -> None:
    deploy.need_nginx()
    clone = deploy.fresh_clone(tmp_path / "app")
    image = Image(clone, tmp_path)
    image.build(tmp_path / "build.log")
    assert (tmp_path / "state").is_dir()
    check = subprocess.run([image.which("pip"), "check"], capture_output=True, text=True, env=image.env)
    assert check.returncode == 0, check.stdout
    services = yaml.safe_load((clone / "infra" / "docker-compose.yml").read_text())["services"]
    shell = {  # what the operator's .env gives compose
        "BIGCOMMERCE_STORE_HASH": deploy.STORE_HASH,
        "BIGCOMMERCE_ACCESS_TOKEN": deploy.ACCESS_TOKEN,
        "BIGCOMMERCE_CLIENT_SECRET": deploy.CLIENT_SECRET,
        "WEBHOOK_SECRET": deploy.WEBHOOK_SECRET,
        "OMETRIA_API_KEY": deploy.OMETRIA_KEY,
    }
    port = deploy.free_port()
    with fresh_pg_database() as db_url:
        here = {
            # compose's postgres and redis services are these; the container's port 8080 is a free one
            "DATABASE_URL": db_url,
            "CELERY_BROKER_URL": redis_url(),
            "PORT": str(port),
            # no traffic leaves the machine
            "BIGCOMMERCE_API_URL": "http://127.0.0.1:9",
            "OMETRIA_API_URL": "http://127.0.0.1:9",
        }

        def env(service: str) -> dict[str, str]:
            composed = {k: interpolate(str(v), shell) for k, v in services[service]["environment"].items()}
            return {**image.env, **composed, **here}

        logs = {name: tmp_path / f"{name}.log" for name in APP_SERVICES}
        release = subprocess.run(
            image.command(services["migrate"]["command"]),
            cwd=image.workdir,
            env=env("migrate"),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert release.returncode == 0, release.stdout + release.stderr
        from sqlalchemy import create_engine, text

        engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        engine.dispose()

        procs = {
            name: deploy.spawn(image.command(services[name]["command"]), image.workdir, env(name), logs[name])
            for name in ("web", "worker", "beat")
        }
        try:
            deploy.wait_ready(port, procs["web"], logs["web"])
            status, body, _ = deploy.get(port, "/readyz")
            assert (status, json.loads(body)["status"]) == (200, "ok"), body

            def swept() -> bool:
                for name, proc in procs.items():
                    assert proc.poll() is None, (
                        f"{name} exited:\n{logs[name].read_text(errors='replace')[-3000:]}"
                    )
                worker = logs["worker"].read_text(errors="replace")
                return bool(re.search(r"Task workers\.tasks\.sweep_dirty\[[^\]]+\] succeeded", worker))

            deploy.wait_until(swept, 90, interval=1, what="beat's first sweep_dirty, run by the worker")
            engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
            with engine.connect() as conn:  # beat keeps its schedule in the database, not a local file
                assert conn.execute(text("SELECT count(*) FROM beat_runs")).scalar()
            engine.dispose()
        finally:
            codes = {}
            for name, proc in procs.items():
                started = time.monotonic()
                codes[name] = (deploy.stop(proc, timeout=90), round(time.monotonic() - started))
        assert {name: code for name, (code, _) in codes.items()} == {"web": 0, "worker": 0, "beat": 0}, codes
