"""The real Prometheus, with monitoring/'s configuration and rules, over real replicas.

Four ``quotes-consumer`` processes serve their metrics on loopback ports; a
``prometheus`` server (Debian's package) scrapes them with the job of
``monitoring/prometheus.yml`` (static targets in place of its DNS discovery,
which needs Docker's DNS) every second and evaluates ``alerts.yml``. Faults:
a poison entry fires ``StreamlibDeadLetters``; a replica frozen with SIGSTOP
stops answering scrapes and makes ``StreamlibReplicaDown`` pending for it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from streamlib.testing import free_port
from tests.monitoring.test_rules_and_dashboard import PROMETHEUS, RULES
from tests.support.helpers import wait_for
from tests.support.replicas import Replica, consumer_command

IN_CI = bool(os.environ.get("CI"))
REPLICAS = 4
#: ``--metrics-port`` last, its value follows.
METRICS_ON_LOOPBACK = ("--metrics-host", "127.0.0.1", "--metrics-port")


class Prometheus:
    """A private ``prometheus`` server on a free loopback port."""

    def __init__(self, config: dict[str, Any], workdir: Path) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            if IN_CI:
                pytest.fail("CI needs the prometheus server (Debian package prometheus)")
            pytest.skip("prometheus is not installed (apt-get install prometheus)")
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log_path = workdir / "prometheus.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address={self.url.removeprefix('http://')}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def api(self, path: str) -> Any:
        """The ``data`` of a Prometheus HTTP API answer (``None`` while it does not answer)."""
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}", timeout=10) as resp:
                return json.loads(resp.read())["data"]
        except OSError:
            assert self.process.poll() is None, self.log_path.read_text()[-3000:]
            return None

    def alerts(self, state: str) -> list[dict[str, str]]:
        """The labels of every alert in ``state`` (``pending`` or ``firing``)."""
        found = self.api("alerts") or {"alerts": []}
        return [a["labels"] for a in found["alerts"] if a["state"] == state]

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        self._log.close()


def scrape_config(ports: list[int]) -> dict[str, Any]:
    """monitoring/prometheus.yml with static targets and a one-second pace."""
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS.read_text())
    config["global"] = {
        "scrape_interval": "1s",
        "scrape_timeout": "1s",
        "evaluation_interval": "1s",
    }
    config["rule_files"] = [str(RULES)]
    (job,) = config["scrape_configs"]
    del job["dns_sd_configs"]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{port}" for port in ports]}]
    return config


@pytest.fixture
def replicas(redis_factory: Any, tmp_path: Path) -> Iterator[tuple[redis.Redis, list[Replica]]]:
    server = redis_factory()
    client = redis.Redis(port=server.port)
    started = [
        Replica(
            consumer_command(
                redis_url=server.url,
                stream="quotes",
                group="quotes-consumers",
                sink=f"sqlite:///{tmp_path / 'quotes.db'}",
                name=f"replica-{i}",
                extra=[*METRICS_ON_LOOPBACK, str(free_port()), "--block-ms", "100"],
            ),
            tmp_path / f"replica-{i}.log",
            None,
        )
        for i in range(REPLICAS)
    ]
    yield client, started
    for replica in started:
        if replica.process.poll() is None:
            replica.process.send_signal(signal.SIGCONT)
        replica.kill()
    client.close()


def port_of(replica: Replica) -> int:
    args = replica.process.args
    assert isinstance(args, list)
    return int(args[args.index("--metrics-port") + 1])


@pytest.mark.timeout(300)
def test_prometheus_scrapes_the_replicas_and_fires_the_rules(
    replicas: tuple[redis.Redis, list[Replica]], tmp_path: Path
) -> None:
    client, started = replicas
    prometheus = Prometheus(scrape_config([port_of(r) for r in started]), tmp_path)
    try:

        def healthy_targets() -> int:
            found = prometheus.api("targets") or {"activeTargets": []}
            return sum(
                t["health"] == "up" and t["labels"]["job"] == "consumer"
                for t in found["activeTargets"]
            )

        wait_for(lambda: healthy_targets() == REPLICAS, timeout=120, what="4 healthy targets")
        # The group exists (the replicas joined), its gauges are scraped: all is well.
        wait_for(
            lambda: prometheus.api("query?query=streamlib_group_pending")["result"],
            timeout=60,
            what="the group gauges",
        )
        assert prometheus.alerts("firing") == []

        client.xadd(
            "quotes", {"v": "1", "type": "quote", "key": "k", "ts": "1", "data": "{not json"}
        )
        fired = wait_for(
            lambda: prometheus.alerts("firing"), timeout=60, what="an alert on the dead letter"
        )
        assert [(a["alertname"], a["stream"], a["group"]) for a in fired] == [
            ("StreamlibDeadLetters", "quotes", "quotes-consumers")
        ]

        frozen = started[0]
        frozen.process.send_signal(signal.SIGSTOP)
        down = wait_for(
            lambda: [
                a for a in prometheus.alerts("pending") if a["alertname"] == "StreamlibReplicaDown"
            ],
            timeout=60,
            what="the frozen replica's alert",
        )
        assert [a["instance"] for a in down] == [f"127.0.0.1:{port_of(frozen)}"]
    finally:
        prometheus.close()
