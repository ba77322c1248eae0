"""deploy/prometheus and deploy/grafana: promtool accepts the config, rules and rule tests;
every alert has a firing test and a runbook section; every metric name used is defined."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard
from prometheus_client import Counter, Gauge, Histogram

import metrics.definitions as definitions

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
ALERT_TESTS = PROMETHEUS / "alerts.test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "keepernet.json"
K8S_SCRAPE = ROOT / "deploy" / "k8s" / "prometheus-config.yaml"
OPERATIONS = ROOT / "docs" / "operations.md"
METRIC = re.compile(r"\bkeepernet_[a-z0-9_]+")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    path = shutil.which("promtool") or "/usr/bin/promtool"
    assert Path(path).exists(), (
        "promtool is missing: install Debian's `prometheus` package (scripts/setup does)")
    return subprocess.run([path, *args], capture_output=True, text=True, timeout=30, check=False)


def test_promtool_accepts_the_compose_config() -> None:
    result = promtool("check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_rules() -> None:
    result = promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rule_tests_pass() -> None:
    result = promtool("test", "rules", str(ALERT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def rules() -> list[dict[str, object]]:
    doc = yaml.safe_load(ALERTS.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_every_alert_has_a_firing_and_a_quiet_test() -> None:
    alerts = {str(r["alert"]) for r in rules() if "alert" in r}
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in yaml.safe_load(ALERT_TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert alerts - fired == set(), f"alerts no test expects to fire: {sorted(alerts - fired)}"
    assert alerts - quiet == set(), f"alerts no test expects quiet: {sorted(alerts - quiet)}"
    assert fired - alerts == set(), f"tests of alerts that do not exist: {sorted(fired - alerts)}"


def test_every_alert_has_severity_annotations_and_a_runbook_section() -> None:
    anchors = {heading_anchor(line) for line in OPERATIONS.read_text().splitlines()
               if line.startswith("#")}
    for rule in rules():
        if "alert" not in rule:
            continue
        name = rule["alert"]
        labels = rule.get("labels", {})
        annotations = rule.get("annotations", {})
        assert isinstance(labels, dict) and isinstance(annotations, dict)
        assert labels.get("severity") in ("warning", "critical"), name
        assert annotations.get("summary") and annotations.get("description"), name
        runbook = str(annotations.get("runbook_url", ""))
        assert runbook.startswith("docs/operations.md#"), f"{name}: runbook_url {runbook!r}"
        anchor = runbook.partition("#")[2]
        assert anchor in anchors, f"{name}: docs/operations.md has no heading #{anchor}"


def heading_anchor(line: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = line.lstrip("#").strip().lower()
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text))


def defined_names() -> set[str]:
    """Every series name the metrics of metrics/definitions.py expose, labelled or not."""
    names: set[str] = set()
    for value in vars(definitions).values():
        if isinstance(value, Counter):
            # prometheus_client keeps a counter's name without `_total`
            names |= {value._name + "_total", value._name + "_created"}
        elif isinstance(value, Histogram):
            names |= {value._name + suffix for suffix in ("_bucket", "_sum", "_count", "_created")}
        elif isinstance(value, Gauge):
            names.add(value._name)
    return names


def test_the_defined_names_are_found() -> None:
    names = defined_names()
    assert "keepernet_job_runs_total" in names
    assert "keepernet_liquidation_reaction_seconds_bucket" in names
    assert "keepernet_wallet_balance_lamports" in names


def used_names() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for rule in rules():
        used.setdefault(str(ALERTS.relative_to(ROOT)), set()).update(
            METRIC.findall(str(rule["expr"])))
    for group in yaml.safe_load(ALERTS.read_text())["groups"]:
        assert all("record" not in r or str(r["record"]).startswith("keepernet:")
                   for r in group["rules"]), "a recording rule must not take a keepernet_ name"
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    # a query variable's PromQL (a datasource variable's query is the datasource's type)
    exprs += [v["query"]["query"] for v in dashboard["templating"]["list"]
              if isinstance(v.get("query"), dict)]
    used[str(DASHBOARD.relative_to(ROOT))] = {n for e in exprs for n in METRIC.findall(e)}
    return used


def test_every_metric_used_is_defined() -> None:
    names = defined_names()
    for where, found in used_names().items():
        assert found, f"{where} uses no keepernet_ metric at all"
        assert found - names == set(), f"{where} uses undefined metrics: {sorted(found - names)}"


def test_the_dashboard_is_grafana_json_with_a_templated_datasource() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 30
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert len(rows) >= 6 and len(panels) >= 20
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels:
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert panel["targets"], panel["title"]


def test_the_kubernetes_scrape_config_keeps_the_keepers_and_labels_their_role() -> None:
    # Debian's promtool is built without Kubernetes discovery, so this one is checked by hand
    configmap = yaml.safe_load(K8S_SCRAPE.read_text())
    config = yaml.safe_load(configmap["data"]["prometheus.yml"])
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "keepernet"]
    assert job["honor_labels"] is True
    assert job["kubernetes_sd_configs"] == [{"role": "pod"}]
    targets = {r.get("target_label") for r in job["relabel_configs"]}
    assert {"role", "__address__"} <= targets
    compose = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    (compose_job,) = [j for j in compose["scrape_configs"] if j["job_name"] == "keepernet"]
    assert compose_job["honor_labels"] is True


def dropped_keys(given: object, kept: object, path: str = "") -> list[str]:
    """Where `given` has a key that `kept` (the same JSON after a round trip) lost."""
    if isinstance(given, dict) and isinstance(kept, dict):
        return [p for k, v in given.items()
                for p in ([f"{path}.{k}"] if k not in kept else
                          dropped_keys(v, kept[k], f"{path}.{k}"))]
    if isinstance(given, list) and isinstance(kept, list):
        return [p for i, (g, k) in enumerate(zip(given, kept, strict=False))
                for p in dropped_keys(g, k, f"{path}[{i}]")]
    return []


def test_the_grafana_sdk_loads_the_dashboard_and_keeps_every_key() -> None:
    # the SDK's models are Grafana's dashboard schema: a key it drops is one Grafana does not
    # know (or reads elsewhere), such as a query variable's `definition` once was
    given = json.loads(DASHBOARD.read_text())
    kept = json.loads(json.dumps(Dashboard.from_json(given), cls=JSONEncoder))
    assert dropped_keys(given, kept) == []
    assert len(kept["panels"]) == len(given["panels"])
