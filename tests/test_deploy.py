"""deploy/ checked offline (no Docker engine or cluster here): every Kubernetes manifest against the
Kubernetes schemas, KEDA's objects structurally, the Kustomize composition, the Compose file, Prometheus'
targets, the Grafana dashboard against the metric registry, and every container command against the CLI."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import click
import jsonschema
import kubernetes_validate
import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from services.cli import cli
from services.common import keys, metrics

DEPLOY = Path(__file__).parents[1] / "deploy"
BASE = DEPLOY / "k8s" / "base"
K8S_VERSION = "1.30"  # the oldest Kubernetes the manifests are meant for

# What the manifests use of KEDA's CRDs (keda.sh/v1alpha1), written down from its documented spec: the
# fields must have these shapes, and nothing else may appear at these levels (a typo would be ignored
# by a cluster without the CRD's own validation).
_SCALED_OBJECT = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"}, "kind": {"const": "ScaledObject"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object", "required": ["scaleTargetRef", "triggers"], "additionalProperties": False,
            "properties": {
                "scaleTargetRef": {"type": "object", "required": ["name"], "additionalProperties": False,
                                   "properties": {"name": {"type": "string"}, "kind": {"type": "string"},
                                                  "apiVersion": {"type": "string"}}},
                **{k: {"type": "integer", "minimum": 0} for k in
                   ("minReplicaCount", "maxReplicaCount", "pollingInterval", "cooldownPeriod")},
                "triggers": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["type", "metadata"], "additionalProperties": False,
                    "properties": {"type": {"type": "string"}, "name": {"type": "string"},
                                   "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                                   "authenticationRef": {"type": "object", "required": ["name"],
                                                         "properties": {"name": {"type": "string"}}}}}},
            },
        },
    },
}
_TRIGGER_AUTH = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"}, "kind": {"const": "TriggerAuthentication"},
        "spec": {"type": "object", "additionalProperties": False, "properties": {
            "secretTargetRef": {"type": "array", "items": {
                "type": "object", "required": ["parameter", "name", "key"], "additionalProperties": False,
                "properties": {k: {"type": "string"} for k in ("parameter", "name", "key")}}}}},
    },
}
# The redis-streams scaler's metadata keys (KEDA docs), and the ones it needs.
_REDIS_STREAMS_KEYS = {"address", "addressFromEnv", "host", "port", "stream", "consumerGroup", "pendingEntriesCount",
                       "lagCount", "streamLength", "activationLagCount", "databaseIndex", "enableTLS",
                       "unsafeSsl", "username", "usernameFromEnv", "passwordFromEnv"}


def _kustomization() -> dict[str, Any]:
    return yaml.safe_load((BASE / "kustomization.yaml").read_text())


def _resources() -> list[dict[str, Any]]:
    docs = []
    for name in _kustomization()["resources"]:
        docs += [d for d in yaml.safe_load_all((BASE / name).read_text()) if d]
    return docs


def _of(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in _resources() if d["kind"] == kind}


def _containers() -> list[tuple[str, dict[str, Any]]]:
    return [(d["metadata"]["name"], c) for d in _resources() if d["kind"] in ("Deployment", "StatefulSet")
            for c in d["spec"]["template"]["spec"]["containers"]]


def _check_scribe_command(argv: list[str]) -> None:
    """argv must be a real `scribe` invocation: its subcommand found and its options parsed by the CLI."""
    assert argv[0] == "scribe", argv
    args = list(argv[1:])
    while args and args[0].startswith("-"):  # the group's own options
        assert args.pop(0) in ("-v", "--verbose"), argv
    ctx = click.Context(cli, info_name="scribe")
    cmd = cli.get_command(ctx, args[0])
    assert cmd is not None, f"no scribe subcommand {args[0]!r}"
    with cmd.make_context(args[0], args[1:], parent=ctx) as sub:  # parses and checks every option
        assert isinstance(sub.command, click.Command)


def test_every_listed_resource_exists_and_nothing_is_left_out() -> None:
    listed = _kustomization()["resources"]
    for name in listed:
        assert (BASE / name).is_file(), name
    on_disk = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert on_disk == set(listed)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (its built-in kustomize) not installed")
def test_kubectl_kustomize_builds_the_base() -> None:
    out = subprocess.run(["kubectl", "kustomize", str(BASE)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    built = [d for d in yaml.safe_load_all(out.stdout) if d]
    assert {d["kind"] for d in built} >= {"Deployment", "StatefulSet", "Secret", "ScaledObject"}
    assert all(d["metadata"].get("namespace") == "scribe" for d in built if d["kind"] != "Namespace")


def test_core_manifests_validate_against_the_kubernetes_schemas() -> None:
    core = [d for d in _resources() if not d["apiVersion"].startswith("keda.sh/")]
    assert len(core) >= 9
    for doc in core:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)  # raises on any error
    # the validator does bite: a misspelt field is refused
    broken = copy.deepcopy(_of("Deployment")["scribe-asr"])
    broken["spec"]["template"]["spec"]["containers"][0]["resource"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_keda_scales_asr_on_the_utterances_lag() -> None:
    (scaled,) = _of("ScaledObject").values()
    (auth,) = _of("TriggerAuthentication").values()
    jsonschema.validate(scaled, _SCALED_OBJECT)
    jsonschema.validate(auth, _TRIGGER_AUTH)
    assert scaled["spec"]["scaleTargetRef"]["name"] in _of("Deployment")
    assert "asr" in scaled["spec"]["scaleTargetRef"]["name"]
    (trigger,) = scaled["spec"]["triggers"]
    meta = trigger["metadata"]
    assert trigger["type"] == "redis-streams" and set(meta) <= _REDIS_STREAMS_KEYS
    assert meta["stream"] == keys.UTTERANCES and meta["consumerGroup"] == keys.GROUP_ASR
    assert int(meta["lagCount"]) > 0 and "address" in meta
    assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]
    assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    secrets = _of("Secret")
    for ref in auth["spec"]["secretTargetRef"]:
        assert ref["key"] in secrets[ref["name"]]["stringData"]


def test_deployments_have_probes_resources_and_read_secrets() -> None:
    deployments = _of("Deployment")
    assert {d.removeprefix("scribe-") for d in deployments} == {"ingest", "asr", "drafter", "coder"}
    secrets = _of("Secret")
    for name, c in _containers():
        assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"], name
        env = {e["name"]: e for e in c.get("env", [])}
        for e in env.values():  # every secret reference resolves
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["key"] in secrets[ref["name"]]["stringData"], (name, e)
        if name == "redis":
            continue
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        port_names = {p["name"] for p in c["ports"]}
        assert c["livenessProbe"]["httpGet"]["port"] in port_names
        # the URL and its password come from the Secret, never written in the manifest
        assert "$(REDIS_PASSWORD)" in env["SCRIBE_REDIS_URL"]["value"]
        assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] in secrets
        assert env["SCRIBE_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "token"
        _check_scribe_command(c["command"] + c.get("args", []))


def test_redis_runs_with_aof_and_a_password_from_the_secret() -> None:
    (redis,) = _of("StatefulSet").values()
    (c,) = redis["spec"]["template"]["spec"]["containers"]
    args = c["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert args[args.index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    assert redis["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] in {m["name"] for m in c["volumeMounts"]}


def test_compose_runs_every_stage_with_redis_prometheus_and_grafana() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"redis", "ingest", "asr", "drafter", "coder", "prometheus", "grafana"} <= set(services)
    redis_cmd = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_cmd and "--requirepass" in redis_cmd
    assert "/run/secrets/redis_password" in redis_cmd  # the password from the secret file
    for name, secret in compose["secrets"].items():
        assert (DEPLOY / secret["file"]).parent.is_dir(), name
    for stage in ("ingest", "asr", "drafter", "coder"):
        svc = services[stage]
        _check_scribe_command(svc["command"])
        assert svc["command"][2] == stage
        assert "scribe.env" in svc["env_file"] and svc["environment"]["SCRIBE_METRICS_PORT"] == "9750"
        assert any(s["source"] == "scribe_token" for s in svc["secrets"])
        for source in [s if isinstance(s, str) else s["source"] for s in svc.get("secrets", [])]:
            assert source in compose["secrets"]
    env_example = (DEPLOY / "scribe.env.example").read_text()
    assert "SCRIBE_REDIS_URL=redis://:" in env_example
    for volume in services["prometheus"]["volumes"] + services["grafana"]["volumes"]:
        host = volume.split(":")[0]
        if host.startswith("./"):
            assert (DEPLOY / host).exists(), host


def test_prometheus_scrapes_every_service_with_the_token() -> None:
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for stage in ("ingest", "asr", "drafter", "coder"):
        job = jobs[f"scribe-{stage}"]
        assert job["authorization"]["credentials_file"].startswith("/run/secrets/")
        hosts = [t for sc in job.get("static_configs", []) for t in sc["targets"]]
        hosts += [f"{n}:{sd['port']}" for sd in job.get("dns_sd_configs", []) for n in sd["names"]]
        assert hosts and all(h.split(":")[0] in compose["services"] for h in hosts), hosts


def _exposed_names() -> dict[str, set[str]]:
    """Every sample name the scribe's metrics expose, with the labels each carries."""
    out: dict[str, set[str]] = {}
    for metric in vars(metrics).values():
        if not isinstance(metric, MetricWrapperBase):
            continue
        for family in metric.describe():
            assert family.name.startswith("scribe_")
            labels = set(metric._labelnames)  # prometheus-client keeps them there; no public accessor
            suffixes = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_count", "_sum"]}
            for suffix in suffixes[family.type]:
                out[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return out


def test_the_dashboard_queries_only_metrics_the_code_exposes() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "scribe.json").read_text())
    exposed = _exposed_names()
    assert "scribe_stream_lag" in exposed and "scribe_commit_latency_seconds_bucket" in exposed
    queried: set[str] = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            names = set(re.findall(r"\bscribe_[a-z_]+", expr))
            assert names, expr
            for name in names:
                assert name in exposed, (panel["title"], name)
            allowed = set().union(*(exposed[n] for n in names))
            for by in re.findall(r"by \(([^)]*)\)", expr):
                for label in (x.strip() for x in by.split(",")):
                    assert label in allowed, (panel["title"], label)
            queried |= names
    # every metric the issue asks to watch is on the dashboard
    for wanted in ("scribe_audio_seconds_in_total", "scribe_chunks_in_total", "scribe_chunks_out_total",
                   "scribe_stream_lag", "scribe_stream_pending", "scribe_asr_busy_seconds_total",
                   "scribe_commit_latency_seconds_bucket", "scribe_draft_seconds_bucket",
                   "scribe_coding_seconds_bucket", "scribe_notes_final_total", "scribe_errors_total"):
        assert wanted in queried, wanted
    provisioning = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text())
    uids = {d["uid"] for d in provisioning["datasources"]}
    assert all(t["datasource"]["uid"] in uids for p in dashboard["panels"] for t in p["targets"])


def test_the_dashboard_file_is_what_its_generator_writes() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_dashboard", DEPLOY / "grafana" / "make_dashboard.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    on_disk = json.loads((DEPLOY / "grafana" / "dashboards" / "scribe.json").read_text())
    assert on_disk == module.dashboard()


def test_systemd_units_run_real_subcommands() -> None:
    for unit in (DEPLOY / "systemd").glob("*.service"):
        line = next(ln for ln in unit.read_text().splitlines() if ln.startswith("ExecStart="))
        argv = line.removeprefix("ExecStart=").split()
        argv = ["scribe", *argv[1:]]
        argv = [a.replace("%i", "asr" if "worker@" in unit.name else "1").replace("%H", "host") for a in argv]
        _check_scribe_command(argv)
