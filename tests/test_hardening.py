"""Hostile and odd input, security headers, CORS, metrics, logs, settings and deployment files.

Whatever a client sends, the answer is a clear 4xx or a safe 200: never a 500.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from bot import metrics
from bot.api import create_app
from bot.config import Settings
from bot.engine import Engine
from bot.logs import JsonFormatter, RedactingFormatter, logging_config
from tests.conftest import ROOT
from tests.servers import serve

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def app_client(engine: Engine) -> Iterator[TestClient]:
    app = create_app(Settings(rate_limit_enabled=False, metrics_public=True), engine=engine)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def post_raw(client: TestClient, body: bytes | str, headers: dict | None = None):
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    return client.post("/api/chat", content=body, headers=headers or JSON)


def assert_safe_answer(r) -> dict:
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["signposts"], "every answer signposts real help"
    assert body["safety"] in ("none", "urgent", "emergency")
    return body


# -- input handling ---------------------------------------------------------------------------

ODD_MESSAGES = {
    "nul bytes": "what is\x00 grooming\x00",
    "control characters": "\x01\x02\x1b[31mhelp\x7f",
    "right-to-left": "\u202eما هو الاستمالة\u200f what is grooming",
    "zero-width inside words": "gro\u200bom\u200bing",
    "zero-width only": "\u200b\u200c\u200d\ufeff",
    "html and script": "<script>alert(1)</script><img src=x onerror=alert(1)> what is grooming",
    "emoji, within limits": "😀" * 900,
    "combining marks": "a" + "\u0301" * 999,
    "mixed scripts": "Что такое grooming? 什么是 grooming",
    "private use and unassigned": "\ue000\U000f0000\U0010fffd hello",
    "long word": "a" * 1000,
    "sql-ish": "'; DROP TABLE users; --",
    "format string": "%s %n {0} {message} ${jndi:ldap://x}",
}


@pytest.mark.parametrize("message", ODD_MESSAGES.values(), ids=ODD_MESSAGES.keys())
def test_odd_messages_get_a_safe_answer(app_client: TestClient, message: str) -> None:
    body = assert_safe_answer(app_client.post("/api/chat", json={"message": message}))
    assert "<script" not in body["answer"]  # never echoed back


def test_lone_surrogates_get_a_safe_answer(app_client: TestClient) -> None:
    for raw in (
        '{"message": "hi \\ud800 there"}',
        '{"message": "\\udfff"}',
        '{"message": "\\udbff\\u0000"}',
    ):
        assert_safe_answer(post_raw(app_client, raw))


def test_ten_thousand_emoji_is_a_clear_4xx(app_client: TestClient) -> None:
    r = app_client.post("/api/chat", json={"message": "😀" * 10_000})
    assert r.status_code == 413
    # Under the byte limit but over 1000 characters: a clear 422.
    r = post_raw(app_client, json.dumps({"message": "😀" * 3000}, ensure_ascii=False))
    assert r.status_code == 422 and "1000" in r.json()["detail"]


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ("{not json", 422, "JSON"),
        ("", 422, "required"),
        ("null", 422, "body"),
        ("[1, 2]", 422, "body"),
        ('"just a string"', 422, "body"),
        ('{"message": null}', 422, "message"),
        ('{"message": ["a"]}', 422, "message"),
        ('{"message": {"a": 1}}', 422, "message"),
        ('{"message": true}', 422, "message"),
        ('{"message": "hi", "audience": 5}', 422, "audience"),
        ('{"message": "hi", "audience": "YOUNG_PERSON"}', 422, "audience"),
        ('{"message": "hi", "audience": "teacher"}', 422, "audience"),
        ('{"message": "hi", "context": [1]}', 422, "context"),
        ('{"message": "\\u3000\\u00a0 \\n\\t"}', 422, "empty"),
    ],
)
def test_bad_bodies_get_a_clear_422(
    app_client: TestClient, body: str, status: int, needle: str
) -> None:
    r = post_raw(app_client, body)
    assert r.status_code == status, r.text
    assert needle in r.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"message": "\xff\xfe hi"}',  # not UTF-8
        b'{"message": "hi", "context": ' + b"[" * 5000 + b"]" * 5000 + b"}",  # deep nesting
        b'{"message": "hi", "context": ' + b'{"a":' * 2000 + b"1" + b"}" * 2000 + b"}",
        b'{"message": "hi", "context": {"n": ' + b"9" * 5000 + b"}}",  # huge integer
    ],
    ids=["invalid-utf8", "deep-array", "deep-object", "huge-int"],
)
def test_unparseable_bodies_are_a_clear_422(app_client: TestClient, body: bytes) -> None:
    r = post_raw(app_client, body)
    assert r.status_code == 422, r.text
    assert "not valid JSON" in r.json()["detail"]


def test_odd_but_valid_json_is_answered(app_client: TestClient) -> None:
    assert_safe_answer(post_raw(app_client, '{"message": "hi", "context": {"x": NaN, "y": 1e999}}'))
    assert_safe_answer(post_raw(app_client, '{"message": "hi", "unknown": 1, "context": null}'))
    assert_safe_answer(post_raw(app_client, '{"message": "hi"}'.encode("utf-16")))


@pytest.mark.parametrize(
    "ctype",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
def test_wrong_content_type_is_415(app_client: TestClient, ctype: str | None) -> None:
    headers = {"content-type": ctype} if ctype else {}
    r = app_client.post("/api/chat", content=b'{"message": "hi"}', headers=headers)
    assert r.status_code == 415
    assert "application/json" in r.json()["detail"]


def test_json_content_type_variants_are_accepted(app_client: TestClient) -> None:
    for ctype in ("application/json; charset=utf-8", "APPLICATION/JSON"):
        r = app_client.post(
            "/api/chat", content=b'{"message": "hi"}', headers={"content-type": ctype}
        )
        assert r.status_code == 200


def test_body_limit_holds_without_content_length(app_client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"message": "'
        for _ in range(40):
            yield b"a" * 1024
        yield b'"}'

    r = app_client.post("/api/chat", content=chunks(), headers=JSON)
    assert r.status_code == 413
    r = app_client.post("/api/chat", content=b"{}", headers={**JSON, "content-length": "12x"})
    assert r.status_code == 400


def test_wrong_methods_are_405(app_client: TestClient) -> None:
    assert app_client.get("/api/chat").status_code == 405
    assert app_client.put("/api/chat", json={"message": "hi"}).status_code == 405
    assert app_client.delete("/api/chat").status_code == 405


# -- the engine fails: still a safe answer ------------------------------------------------


class _BrokenEngine:
    def __init__(self, real: Engine, secret: str) -> None:
        self.kb = real.kb
        self.secret = secret

    def respond(self, message: str, *_: object) -> object:
        raise ValueError(f"could not handle {message!r} {self.secret}")


def test_engine_failure_still_answers_with_help(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "zz-engine-secret-4815"
    app = create_app(Settings(rate_limit_enabled=False), engine=_BrokenEngine(engine, secret))  # type: ignore[arg-type]
    before = metrics.value("signpost_chat_errors_total", error="ValueError")
    with caplog.at_level(logging.DEBUG), TestClient(app, raise_server_exceptions=False) as c:
        # Short messages are answered on the event loop, long ones in the thread pool.
        for audience, message in (
            (None, f"help me {secret}"),
            ("young_person", f"help me {secret}"),
            ("parent", "help me " * 100 + secret),
        ):
            r = c.post("/api/chat", json={"message": message, "audience": audience})
            body = assert_safe_answer(r)
            ids = [s["id"] for s in body["signposts"]]
            assert "childline" in ids and "nspcc_helpline" in ids
            assert "0800 1111" in body["answer"]
            assert secret not in r.text
    assert metrics.value("signpost_chat_errors_total", error="ValueError") == before + 3
    logged = "\n".join(
        caplog.handler.format(rec) for rec in caplog.records
    )  # including any traceback text
    assert "ValueError" in logged
    assert secret not in logged and "help me" not in logged


def test_redacting_formatters_never_print_exception_messages() -> None:
    secret = "zz-formatter-secret"
    try:
        raise KeyError(secret)
    except KeyError:
        record = logging.LogRecord(
            "t", logging.ERROR, __file__, 1, "boom", (), exc_info=__import__("sys").exc_info()
        )
    text = RedactingFormatter("%(message)s").format(record)
    assert "KeyError" in text and secret not in text
    line = json.loads(JsonFormatter().format(record))
    assert line["exc_type"] == "KeyError" and secret not in json.dumps(line)


def test_json_log_lines_keep_only_known_fields() -> None:
    record = logging.LogRecord("signpost.access", logging.INFO, __file__, 1, "GET /x 200", (), None)
    record.fields = {"method": "GET", "route": "/healthz", "status": 200, "ms": 1.5, "body": "no"}
    line = json.loads(JsonFormatter().format(record))
    assert line["route"] == "/healthz" and line["status"] == 200
    assert "body" not in line
    cfg = logging_config("json", "debug")
    assert cfg["formatters"]["main"]["()"] == "bot.logs.JsonFormatter"
    assert cfg["loggers"]["uvicorn.access"]["handlers"] == []


# -- headers, CORS, cookies ---------------------------------------------------------------


def test_security_headers_everywhere(app_client: TestClient) -> None:
    for method, path in [
        ("GET", "/"),
        ("GET", "/healthz"),
        ("GET", "/api/topics"),
        ("POST", "/api/chat"),
        ("GET", "/widget/signpost.js"),
        ("GET", "/no/such/page"),
        ("GET", "/metrics"),
    ]:
        r = app_client.request(method, path, json={"message": "hi"} if method == "POST" else None)
        h = r.headers
        assert h["x-content-type-options"] == "nosniff", path
        assert h["referrer-policy"] == "no-referrer", path
        assert "frame-ancestors 'none'" in h["content-security-policy"], path
        assert "set-cookie" not in h and "server" not in h, path
    page = app_client.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in page and "unsafe-inline" not in page
    assert "object-src 'none'" in page and "base-uri 'none'" in page
    assert (
        app_client.get("/healthz")
        .headers["content-security-policy"]
        .startswith("default-src 'none'")
    )
    assert (
        app_client.post("/api/chat", json={"message": "hi"}).headers["cache-control"] == "no-store"
    )


def test_error_responses_carry_security_headers(app_client: TestClient) -> None:
    r = post_raw(app_client, b"x" * 20_000)
    assert r.status_code == 413
    assert r.headers["x-content-type-options"] == "nosniff"


def test_cors_is_off_by_default(app_client: TestClient) -> None:
    r = app_client.post(
        "/api/chat", json={"message": "hi"}, headers={"origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in r.headers
    pre = app_client.options(
        "/api/chat",
        headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
    )
    assert "access-control-allow-origin" not in pre.headers


def test_cors_allow_list(engine: Engine) -> None:
    settings = Settings(
        cors_origins="https://www.example.org, https://partner.example.net/",
        rate_limit_per_minute=1,
        rate_limit_burst=1,
    )
    app = create_app(settings, engine=engine)
    with TestClient(app, client=("198.51.100.9", 1234)) as c:
        good = {"origin": "https://partner.example.net"}
        pre = c.options(
            "/api/chat",
            headers={
                **good,
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == "https://partner.example.net"
        assert "access-control-allow-credentials" not in pre.headers
        r = c.post("/api/chat", json={"message": "hi"}, headers=good)
        assert r.headers["access-control-allow-origin"] == "https://partner.example.net"
        # A 429 is readable by the embedding page too, Retry-After included.
        r = c.post("/api/chat", json={"message": "hi"}, headers=good)
        assert r.status_code == 429
        assert r.headers["access-control-allow-origin"] == "https://partner.example.net"
        assert "retry-after" in r.headers["access-control-expose-headers"].lower()
        bad = c.options(
            "/api/chat",
            headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
        )
        assert "access-control-allow-origin" not in bad.headers


@pytest.mark.parametrize("value", ["*", "www.example.org", "https://example.org/path"])
def test_bad_cors_origins_are_rejected(value: str) -> None:
    with pytest.raises(ValueError):
        Settings(cors_origins=value)


# -- metrics --------------------------------------------------------------------------------


def test_metrics_in_prometheus_format(app_client: TestClient) -> None:
    secret = "zz-metrics-secret"
    app_client.post("/api/chat", json={"message": f"what is grooming {secret}"})
    app_client.post("/api/chat", json={"message": "qwertyuiop asdfgh"})
    app_client.get(f"/nowhere/{secret}?q={secret}")
    r = app_client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = r.text
    assert secret not in text and "grooming" not in text.replace("online_grooming", "")
    for name in (
        "signpost_http_requests_total",
        "signpost_http_request_duration_seconds_bucket",
        "signpost_chat_replies_total",
        "signpost_chat_fallback_ratio",
        "signpost_chat_fallbacks_total",
        "signpost_rate_limited_total",
    ):
        assert f"# TYPE {name.removesuffix('_bucket')}" in text or name in text, name
    assert re.search(r'signpost_chat_replies_total\{intent="[a-z_]+",safety="none"\} \d+', text)
    assert 'route="/other"' in text
    assert re.search(
        r'signpost_http_request_duration_seconds_bucket\{le="\+Inf",route="/api/chat"\}', text
    )
    # Every sample line is "name{labels} number".
    sample = re.compile(r'^[a-z_]+(\{([a-z_]+="[^"]*",?)*\})? -?[0-9.e+Inf-]+$')
    for line in text.splitlines():
        assert line.startswith("#") or sample.match(line), line


def test_invented_methods_are_not_logged_or_counted_by_name(app_client: TestClient) -> None:
    app_client.request("ZQSECRET", "/healthz")
    text = app_client.get("/metrics").text
    assert "ZQSECRET" not in text and 'method="OTHER"' in text


def test_metrics_can_be_switched_off(engine: Engine) -> None:
    app = create_app(Settings(metrics_enabled=False), engine=engine)
    with TestClient(app) as c:
        assert c.get("/metrics").status_code == 404


def test_metrics_are_not_in_the_public_schema(app_client: TestClient) -> None:
    assert "/metrics" not in app_client.get("/openapi.json").json()["paths"]


# -- configuration, documented ------------------------------------------------------------


def _operations_doc() -> str:
    return (ROOT / "docs" / "OPERATIONS.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_with_its_default() -> None:
    doc = _operations_doc()
    assert "## Configuration and operations" in doc
    for name, field in Settings.model_fields.items():
        env = f"SIGNPOST_{name.upper()}"
        row = next((line for line in doc.splitlines() if f"`{env}`" in line and "|" in line), None)
        assert row is not None, f"{env} is not in the table in docs/OPERATIONS.md"
        default = field.default
        if default is None:
            shown = "(unset)"
        elif default == "":
            shown = "(empty)"
        elif isinstance(default, bool):
            shown = str(default).lower()
        elif isinstance(default, float) and default.is_integer():
            shown = str(int(default))
        else:
            shown = str(default)
        assert f"`{shown}`" in row, f"{env}: default {shown!r} not shown in: {row}"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNPOST_RATE_LIMIT_PER_MINUTE", "12")
    monkeypatch.setenv("SIGNPOST_LOG_FORMAT", "JSON")
    monkeypatch.setenv("SIGNPOST_REDIS_URL", "")
    monkeypatch.setenv("SIGNPOST_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1")
    s = Settings()
    assert s.rate_limit_per_minute == 12 and s.log_format == "json" and s.redis_url is None
    assert len(s.trusted_proxy_networks) == 2
    monkeypatch.setenv("SIGNPOST_TRUSTED_PROXIES", "not-an-ip")
    with pytest.raises(ValueError):
        Settings()


# -- deployment files -----------------------------------------------------------------------

K8S = ROOT / "deploy" / "k8s"


def _manifests() -> list[dict]:
    docs: list[dict] = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def _by_kind(kind: str) -> list[dict]:
    return [d for d in _manifests() if d["kind"] == kind]


def _app_paths(client: TestClient) -> set[str]:
    return {r.path for r in client.app.router.routes if hasattr(r, "path")}  # type: ignore[attr-defined]


def test_k8s_manifests_parse_and_have_the_expected_kinds() -> None:
    kinds = [d["kind"] for d in _manifests()]
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "ConfigMap"):
        assert kind in kinds, kind
    assert kinds.count("Deployment") == 2 and kinds.count("Service") == 2  # app + redis
    for d in _manifests():
        assert d["apiVersion"] and d["metadata"]["name"]


def test_k8s_app_deployment(app_client: TestClient) -> None:
    dep = next(d for d in _by_kind("Deployment") if d["metadata"]["name"] == "signpost")
    pod = dep["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    port = container["ports"][0]["containerPort"]
    assert str(port) in " ".join(container["command"] + container.get("args", []))
    paths = _app_paths(app_client)
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] in paths
        assert get["port"] in (port, container["ports"][0]["name"])
    res = container["resources"]
    assert res["requests"]["cpu"] and res["requests"]["memory"]
    assert res["limits"]["memory"]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    psc = pod["securityContext"]
    assert psc["runAsNonRoot"] is True and psc["runAsUser"] != 0
    # Every SIGNPOST_ variable the manifests set is a real setting.
    known = {f"SIGNPOST_{n.upper()}" for n in Settings.model_fields}
    env_names = {e["name"] for e in container.get("env", [])}
    for cm in _by_kind("ConfigMap"):
        env_names |= set(cm["data"])
    signpost_env = {n for n in env_names if n.startswith("SIGNPOST_")}
    assert signpost_env <= known, signpost_env - known
    assert "SIGNPOST_REDIS_URL" in signpost_env
    cm_refs = [e["configMapRef"]["name"] for e in container.get("envFrom", [])]
    assert all(any(cm["metadata"]["name"] == r for cm in _by_kind("ConfigMap")) for r in cm_refs)


def test_k8s_services_hpa_and_redis_line_up() -> None:
    deps = {d["metadata"]["name"]: d for d in _by_kind("Deployment")}
    assert "signpost" in deps and "signpost-redis" in deps
    for svc in _by_kind("Service"):
        selector = svc["spec"]["selector"]
        target = next(
            d
            for d in deps.values()
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        )
        (container,) = target["spec"]["template"]["spec"]["containers"]
        ports = {p.get("name") for p in container["ports"]} | {
            p["containerPort"] for p in container["ports"]
        }
        for p in svc["spec"]["ports"]:
            assert p["targetPort"] in ports
    (hpa,) = _by_kind("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "signpost"
    assert hpa["spec"]["minReplicas"] >= 2
    redis_svc = next(s for s in _by_kind("Service") if s["metadata"]["name"] == "signpost-redis")
    cm = {k: v for c in _by_kind("ConfigMap") for k, v in c["data"].items()}
    assert cm["SIGNPOST_REDIS_URL"].startswith(f"redis://{redis_svc['metadata']['name']}:")
    redis_pod = deps["signpost-redis"]["spec"]["template"]["spec"]
    assert redis_pod["securityContext"]["runAsNonRoot"] is True


def test_dockerfile_is_slim_non_root_and_checks_health() -> None:
    path = next(p for p in (ROOT / "Dockerfile", ROOT / "deploy" / "Dockerfile") if p.exists())
    text = path.read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert re.search(r"^USER (?!root)\S+", text, re.M)
    assert re.search(r"^HEALTHCHECK .*?/healthz", text, re.M | re.S)
    assert "pip install" in text
    assert re.search(r'signpost", "serve", "--host", "0\.0\.0\.0"', text)
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8")
    for entry in (".git", "tests", "__pycache__"):
        assert entry in ignore


# -- signpost serve --workers N -------------------------------------------------------------


def test_serve_with_several_workers() -> None:
    with (
        serve("--workers", "2", env={"SIGNPOST_LOG_FORMAT": "json"}, start_timeout=90) as server,
        httpx.Client(base_url=server.base, timeout=10) as c,
    ):
        for _ in range(10):
            r = c.post("/api/chat", json={"message": "what is grooming"})
            assert r.status_code == 200 and r.json()["intent"] == "online_grooming"
        took = []
        for _ in range(10):
            start = time.perf_counter()
            assert c.get("/healthz").status_code == 200
            took.append(time.perf_counter() - start)
        # Workers get their socket through multiprocessing and lost TCP_NODELAY: every
        # response then waited ~40 ms for a delayed ACK (bot/server.py). Never that slow now.
        assert min(took) < 0.03, f"fastest /healthz took {min(took) * 1000:.0f} ms"
    out, proc = server.output, server.proc
    pids = {
        json.loads(line).get("message", "") for line in out.splitlines() if line.startswith("{")
    }
    started = [m for m in pids if m.startswith("Started server process")]
    assert len(started) >= 2, out[-2000:]
    assert proc.returncode == 0
