"""The image from deploy/Dockerfile, built and run as an operator would.

The build runs without network and without Docker Hub: a debootstrap Debian as BASE_IMAGE and
a wheelhouse, both from scripts/container-host (which starts dockerd if none answers). Then
every role runs from the image (--network=host) against this test's Redis, PostgreSQL and
localnet: each container's HEALTHCHECK and /healthz pass, the containerized liquidator lands
the liquidations of a price crash and the containerized indexer stores them; a real Prometheus
scrapes the containers, and every query of the Grafana dashboard returns data. The localnet
command runs from the image too, healthy by the same HEALTHCHECK.

Select with `-m container`, leave out with `-m "not container"`. Skipped, saying why, only
where containers cannot run (no Docker and no root to start one, or a kernel that refuses
them). The image size and build time are printed (`-s`).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from chain.localnet.seed import PositionSpec
from demo.servers import free_port, free_port_pair
from jobs.registry import ROLES
from tests.support.keepers import stored_events
from tests.support.perp_world import CRASHED, FRAGILE, SIZE, PerpWorld, perp_world

pytestmark = [pytest.mark.container, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "keepernet.json"
BASE_IMAGE = "keepernet-base:bookworm"
IMAGE = "keepernet:test"
MAX_IMAGE_BYTES = 600 * 10**6
KEEPER_UID = 10001
POSITIONS = 3
HEALTHY_TIMEOUT_S = 60.0
LIQUIDATED_TIMEOUT_S = 30.0
SCRAPE_INTERVAL_S = 1.0
PANELS_TIMEOUT_S = 20.0
# what Grafana puts for the dashboard's variables: every role, a window of many scrapes
VARIABLES = {"$role": ".*", "$__rate_interval": "1m"}


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


def containers_cannot_run() -> str | None:
    """Why containers cannot run on this machine, or None when they can (dockerd answering,
    or installed and startable as root)."""
    if shutil.which("docker") is None or shutil.which("dockerd") is None:
        return "Docker is not installed (scripts/setup installs docker.io)"
    if os.geteuid() != 0 and docker("info").returncode != 0:
        return "no dockerd answers, and only root may start one"
    return None


@pytest.fixture(scope="module")
def image() -> str:
    """keepernet:test built from deploy/Dockerfile on the local base, offline; its size
    checked and printed."""
    reason = containers_cannot_run()
    if reason is not None:
        pytest.skip(f"CONTAINERS CANNOT RUN HERE, the image is not tested: {reason}")
    prepared = subprocess.run([str(ROOT / "scripts" / "container-host"), "all"],
                              capture_output=True, text=True, timeout=540, check=False)
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr
    probe = docker("run", "--rm", "--network=host", "--entrypoint", "true", BASE_IMAGE)
    if probe.returncode != 0:
        pytest.skip(f"CONTAINERS CANNOT RUN HERE, the image is not tested: {probe.stderr}")
    assert (ROOT / "program" / "build" / "keepernet.so").exists(), "run `make program` first"
    started = time.monotonic()
    built = docker("build", "-f", str(ROOT / "deploy" / "Dockerfile"),
                   "--build-arg", f"BASE_IMAGE={BASE_IMAGE}", "-t", IMAGE, str(ROOT),
                   timeout=540)
    assert built.returncode == 0, built.stdout + built.stderr
    size = int(docker("image", "inspect", "-f", "{{.Size}}", IMAGE).stdout)
    print(f"\n{IMAGE}: {size / 1e6:.0f} MB, built in {time.monotonic() - started:.0f} s")
    assert size < MAX_IMAGE_BYTES, f"the image is {size / 1e6:.0f} MB"
    return IMAGE


class Containers:
    """Containers a test started from the image, removed at its end (their logs printed)."""

    def __init__(self, image: str) -> None:
        self.image = image
        self.names: list[str] = []

    def start(self, name: str, args: list[str], *, env: dict[str, str] | None = None,
              mounts: dict[Path, str] | None = None, entrypoint: str | None = None) -> str:
        """A detached container on the host's network, health-checked each second (the
        image's HEALTHCHECK command, its interval shortened for the test)."""
        name = f"keepernet-test-{name}-{os.getpid()}"
        options = ["--name", name, "--network=host", "--health-interval=1s",
                   "--health-start-period=60s"]
        for key, value in (env or {}).items():
            options += ["-e", f"{key}={value}"]
        for source, target in (mounts or {}).items():
            options += ["-v", f"{source}:{target}"]
        if entrypoint is not None:
            options += ["--entrypoint", entrypoint]
        result = docker("run", "-d", *options, self.image, *args)
        assert result.returncode == 0, result.stderr
        self.names.append(name)
        return name

    def wait_healthy(self, name: str) -> None:
        deadline = time.monotonic() + HEALTHY_TIMEOUT_S
        while True:
            state = json.loads(docker("inspect", "-f", "{{json .State}}", name).stdout)
            if state["Health"]["Status"] == "healthy":
                return
            assert state["Running"], f"{name} exited:\n{self.logs(name)}"
            assert time.monotonic() < deadline, (
                f"{name} not healthy in {HEALTHY_TIMEOUT_S:g} s: "
                f"{state['Health']['Log'][-1:]}\n{self.logs(name)}")
            time.sleep(0.5)

    def logs(self, name: str) -> str:
        result = docker("logs", "--tail", "40", name)
        return result.stdout + result.stderr

    def remove_all(self) -> None:
        for name in self.names:
            print(f"--- {name}\n{self.logs(name)}")
            docker("rm", "-f", name)
        self.names.clear()


@contextmanager
def containers(image: str) -> Iterator[Containers]:
    started = Containers(image)
    try:
        yield started
    finally:
        started.remove_all()


def get(url: str, body: bytes | None = None) -> Any:
    headers = {"Content-Type": "application/json"} if body else {}
    with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=5) as r:
        return json.load(r)


def test_the_image_runs_as_keeper_and_checks_health_by_command(image: str) -> None:
    config = json.loads(docker("image", "inspect", "-f", "{{json .Config}}", image).stdout)
    assert config["User"] == "keeper"
    assert config["Entrypoint"] == ["keepernet"]
    assert "/opt/keepernet/healthcheck.py" in config["Healthcheck"]["Test"]
    uid = docker("run", "--rm", "--network=none", "--entrypoint", "id", image, "-u")
    assert uid.stdout.strip() == str(KEEPER_UID), uid.stderr
    # a one-shot command serves nothing: its check passes while it runs
    oneshot = docker("run", "--rm", "--network=none", "--entrypoint", "python", image,
                     "/opt/keepernet/healthcheck.py")
    assert oneshot.returncode == 0, oneshot.stderr


def test_the_localnet_from_the_image_is_healthy(image: str) -> None:
    port = free_port_pair()
    with containers(image) as started:
        name = started.start("localnet", ["localnet", "--port", str(port)])
        started.wait_healthy(name)
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "getHealth"}).encode()
        assert get(f"http://127.0.0.1:{port}", body)["result"] == "ok"


def keys_for_the_image(world: PerpWorld, folder: Path) -> Path:
    """The keepers' keypairs copied where the image's user alone may read them."""
    folder.mkdir(mode=0o700)
    for name in ("keeper-1.json", "keeper-2.json"):
        copy = folder / name
        shutil.copyfile(Path(world.net.keys_dir) / name, copy)
        copy.chmod(0o600)
        os.chown(copy, KEEPER_UID, KEEPER_UID)
    os.chown(folder, KEEPER_UID, KEEPER_UID)
    return folder


@asynccontextmanager
async def prometheus(ports: dict[str, int], folder: Path) -> AsyncIterator[str]:
    """Debian's Prometheus scraping each role's metrics port every second; its URL."""
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    assert Path(binary).exists(), "install Debian's `prometheus` package (scripts/setup does)"
    port = free_port()
    config = {"global": {"scrape_interval": f"{SCRAPE_INTERVAL_S:g}s"},
              "scrape_configs": [{
                  "job_name": "keepernet", "honor_labels": True,
                  "static_configs": [{"targets": [f"127.0.0.1:{p}"], "labels": {"role": role}}
                                     for role, p in ports.items()]}]}
    (folder / "prometheus.yml").write_text(json.dumps(config))  # YAML is a superset of JSON
    server = await asyncio.create_subprocess_exec(
        binary, f"--config.file={folder / 'prometheus.yml'}",
        f"--storage.tsdb.path={folder / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_until(lambda: asyncio.to_thread(ready, url), 30, "Prometheus ready")
        yield url
    finally:
        server.terminate()
        await server.wait()


def ready(url: str) -> bool:
    try:
        urllib.request.urlopen(f"{url}/-/ready", timeout=2).close()
    except OSError:
        return False
    return True


def panel_queries() -> dict[str, str]:
    """Every panel target's expression, with Grafana's variables put in; by panel title."""
    dashboard = json.loads(DASHBOARD.read_text())
    queries = {}
    for panel in dashboard["panels"]:
        for i, target in enumerate(panel.get("targets", [])):
            expr = target["expr"]
            for variable, value in VARIABLES.items():
                expr = expr.replace(variable, value)
            queries[f"{panel['title']} [{i}]"] = expr
    return queries


def query(url: str, expr: str) -> list[Any]:
    answer = get(f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    assert answer["status"] == "success", (expr, answer)
    return list(answer["data"]["result"])


def without_filter(expr: str) -> str:
    """`expr` without a trailing comparison: `x == 0` lists failing checks and is empty on a
    healthy fleet, yet `x` must have data."""
    return re.sub(r"\s*(==|!=|>=|<=|>|<)\s*[0-9.]+\s*$", "", expr)


async def panels_without_data(url: str) -> list[str]:
    """The dashboard's queries with no data yet (each with its panel), once all have some or
    PANELS_TIMEOUT_S have passed."""
    deadline = time.monotonic() + PANELS_TIMEOUT_S
    while True:
        empty = []
        for title, expr in panel_queries().items():
            if not (await asyncio.to_thread(query, url, expr)
                    or await asyncio.to_thread(query, url, without_filter(expr))):
                empty.append(f"{title}: {expr}")
        if not empty or time.monotonic() > deadline:
            return empty
        await asyncio.sleep(SCRAPE_INTERVAL_S)


async def wait_until(check: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"{what} within {timeout_s:g} s"
        await asyncio.sleep(0.25)


async def test_every_role_runs_from_the_image_and_liquidates_and_indexes(
        image: str, redis_url: str, pg_database: str) -> None:
    started = time.monotonic()
    migrated = await asyncio.to_thread(
        docker, "run", "--rm", "--network=host", image, "migrate", "--dsn", pg_database)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    scratch = Path(tempfile.mkdtemp(prefix="keepernet-container-"))
    try:
        async with perp_world([PositionSpec(1, SIZE, FRAGILE)] * POSITIONS,
                              pool=10**14) as world:
            keys = keys_for_the_image(world, scratch / "keys")
            ports = {role: free_port() for role in ROLES}
            with containers(image) as fleet:
                for role in ROLES:
                    keypair = "keeper-1" if role in ("indexer", "liquidator") else "keeper-2"
                    env = {"KEEPERNET_RPC_URLS": f"local={world.net.url} max_rps=10000",
                           "KEEPERNET_DATABASE_URL": pg_database,
                           "KEEPERNET_REDIS_URL": redis_url,
                           "KEEPERNET_PROGRAM_ID": str(world.net.program_id),
                           "KEEPERNET_KEYPAIR": f"/keys/{keypair}.json",
                           "KEEPERNET_CU_PRICE_MICRO_LAMPORTS": "0",
                           "KEEPERNET_METRICS_PORT": str(ports[role])}
                    await asyncio.to_thread(fleet.start, role, ["worker", role], env=env,
                                            mounts={keys: "/keys:ro"})
                for name in list(fleet.names):
                    await asyncio.to_thread(fleet.wait_healthy, name)
                for role, port in ports.items():
                    health = await asyncio.to_thread(get, f"http://127.0.0.1:{port}/healthz")
                    assert health["ok"] is True, (role, health)
                async with prometheus(ports, scratch) as url:
                    await asyncio.sleep(2)  # books loaded, watching the oracle
                    world.price.price = CRASHED

                    async def liquidated() -> bool:
                        return not any(int(world.net.protocol.chain.fetch(p).side)
                                       for p in world.positions)

                    await wait_until(liquidated, LIQUIDATED_TIMEOUT_S,
                                     "the containerized liquidator liquidated every position")

                    async def indexed() -> bool:
                        names = [n for _, _, n in await stored_events(pg_database)]
                        return names.count("PositionLiquidated") == POSITIONS

                    await wait_until(indexed, LIQUIDATED_TIMEOUT_S,
                                     "the containerized indexer stored every liquidation")
                    # every rate() wants two scrapes of a series since it appeared
                    empty = await panels_without_data(url)
                    assert not empty, "dashboard queries without data:\n" + "\n".join(empty)
    finally:
        with suppress(OSError):
            shutil.rmtree(scratch)
    print(f"\nthe fleet from {image}: {time.monotonic() - started:.0f} s")
