"""The reverse-proxy shape in deploy/: nginx config (checked by `nginx -t`), ingress annotations,
the Deployment's shutdown timing and metrics port, all against the app's own settings."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from bot.config import Settings
from tests.conftest import ROOT

NGINX_CONF = ROOT / "deploy" / "nginx" / "signpost.conf"
K8S = ROOT / "deploy" / "k8s"
DEFAULTS = Settings()


def _k8s(kind: str, name: str = "signpost") -> dict:
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc and doc["kind"] == kind and doc["metadata"]["name"] == name:
                return doc
    raise AssertionError(f"no {kind} {name} in deploy/k8s")


def _configmap() -> dict[str, str]:
    return _k8s("ConfigMap", "signpost-config")["data"]


def _seconds(value: str) -> float:
    m = re.fullmatch(r"(\d+)(ms|s|m)?", value)
    assert m, value
    n = int(m.group(1))
    return {"ms": n / 1000, "m": n * 60.0}.get(m.group(2) or "s", float(n))


def _size(value: str) -> int:
    m = re.fullmatch(r"(\d+)([kKmM]?)", value)
    assert m, value
    return int(m.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[m.group(2).lower()]


def _directives(text: str) -> dict[str, list[str]]:
    """Every simple directive's arguments, by name (comments dropped)."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.endswith(";"):
            name, *args = line[:-1].split()
            out.setdefault(name, []).append(" ".join(args))
    return out


def test_nginx_config_is_valid(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"  # scripts/test installs it
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {tmp_path};\n"
        f"  proxy_temp_path {tmp_path};\n  include {NGINX_CONF};\n}}\n"
    )
    r = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    assert "syntax is ok" in r.stderr


def test_nginx_limits_match_the_app() -> None:
    d = _directives(NGINX_CONF.read_text(encoding="utf-8"))
    assert _size(d["client_max_body_size"][0]) == DEFAULTS.max_body_bytes
    assert _seconds(d["client_header_timeout"][0]) <= DEFAULTS.header_timeout
    assert _seconds(d["client_body_timeout"][0]) <= DEFAULTS.body_timeout
    # nginx drops idle upstream connections before Signpost does (else: 502s).
    upstream_keepalive = _seconds(d["keepalive_timeout"][0])
    assert upstream_keepalive < DEFAULTS.keep_alive_timeout
    assert d["proxy_request_buffering"] == ["on"]
    assert "X-Forwarded-For $remote_addr" in d["proxy_set_header"]  # replaced, not appended
    assert "limit_conn" in d


def test_ingress_annotations_match_the_app() -> None:
    ing = _k8s("Ingress")
    a = ing["metadata"]["annotations"]
    p = "nginx.ingress.kubernetes.io/"
    assert _size(a[p + "proxy-body-size"]) == DEFAULTS.max_body_bytes
    assert a[p + "proxy-request-buffering"] == "on"
    for name in ("proxy-connect-timeout", "proxy-send-timeout", "proxy-read-timeout"):
        assert 0 < int(a[p + name]) <= 30, name
    assert int(a[p + "limit-connections"]) > 0
    backend = ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    svc = _k8s("Service")
    assert backend["name"] == svc["metadata"]["name"]
    assert backend["port"]["name"] in {port["name"] for port in svc["spec"]["ports"]}
    # The ingress keeps upstream connections 60 s by default: Signpost must keep them longer.
    assert int(_configmap()["SIGNPOST_KEEP_ALIVE_TIMEOUT"]) > 60
    hosts = [r["host"] for r in ing["spec"]["rules"]]
    assert _configmap()["SIGNPOST_ALLOWED_HOSTS"].split(",") == hosts


def test_pods_drain_before_they_are_killed() -> None:
    pod = _k8s("Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pre_stop = int(command[1])
    assert pre_stop >= 5  # Services take a few seconds to drop the pod's endpoint
    shutdown = int(_configmap()["SIGNPOST_SHUTDOWN_TIMEOUT"])
    assert pre_stop + shutdown < pod["terminationGracePeriodSeconds"]


def test_metrics_port_is_separate_and_scraped() -> None:
    dep = _k8s("Deployment")
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    metrics_port = int(_configmap()["SIGNPOST_METRICS_PORT"])
    assert ports["metrics"] == metrics_port != ports["http"]
    annotations = dep["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == metrics_port
    assert "SIGNPOST_METRICS_PUBLIC" not in _configmap()  # off: not on the public port
    # Only the monitoring namespace may reach the metrics port.
    rules = _k8s("NetworkPolicy", "signpost-api")["spec"]["ingress"]
    for rule in rules:
        rule_ports = {p["port"] for p in rule["ports"]}
        sources = [s["namespaceSelector"]["matchLabels"] for s in rule["from"]]
        if metrics_port in rule_ports:
            assert sources == [{"kubernetes.io/metadata.name": "monitoring"}]
        else:
            assert rule_ports == {ports["http"]}
