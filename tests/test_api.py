"""The HTTP contract of docs/DESIGN.md, in-process."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import chat

CONTRACT_FIELDS = {
    "intent",
    "confidence",
    "safety",
    "answer",
    "signposts",
    "suggestions",
    "context",
}


def test_chat_contract(client: TestClient) -> None:
    body = chat(client, "what is grooming")
    assert body.keys() >= CONTRACT_FIELDS
    assert body["intent"] == "online_grooming"
    assert 0 <= body["confidence"] <= 1
    assert body["safety"] == "none"
    assert "groom" in body["answer"].lower()
    assert body["signposts"], "signposts must never be empty"
    first = body["signposts"][0]
    assert {"id", "name", "description"} <= first.keys()
    assert first["id"] == "childline"  # unknown audience reads the young-person answer
    assert "nspcc_helpline" in [s["id"] for s in body["signposts"]]  # adults see theirs too
    for s in body["suggestions"]:
        assert s["label"] and s["message"]
    assert isinstance(body["context"], dict)


def test_audience_changes_answer_and_order(client: TestClient) -> None:
    young = chat(client, "what is grooming", audience="young_person")
    parent = chat(client, "what is grooming", audience="parent")
    assert young["answer"] != parent["answer"]
    assert young["signposts"][0]["id"] == "childline"
    assert parent["signposts"][0]["id"] == "nspcc_helpline"


def test_audience_is_inferred_from_the_message(client: TestClient) -> None:
    body = chat(client, "how can i tell if my 12 year old son is being groomed")
    assert body["intent"] == "online_grooming"
    assert body["signposts"][0]["id"] == "nspcc_helpline"
    assert body["context"].get("audience") == "parent"


def test_context_carries_the_topic_to_a_follow_up(client: TestClient) -> None:
    first = chat(client, "what is sextortion", audience="young_person")
    assert first["intent"] == "coercion_and_blackmail"
    follow = chat(client, "how do i report it", audience="young_person", context=first["context"])
    assert follow["intent"] == "make_a_report"
    assert follow["context"]["topic"] == "coercion_and_blackmail"
    assert "ceop" in [s["id"] for s in follow["signposts"]]
    what_now = chat(client, "what should i do", context=first["context"])
    assert what_now["intent"] == "coercion_and_blackmail"


def test_context_from_the_client_is_not_trusted(client: TestClient) -> None:
    body = chat(
        client, "hello", context={"topic": "../../etc/passwd", "audience": "admin", "x": [1]}
    )
    assert body["intent"] == "greeting"
    assert "topic" not in body["context"]


def test_fallback_still_signposts(client: TestClient) -> None:
    body = chat(client, "asdfghjkl qwerty")
    assert body["intent"] == "fallback"
    ids = [s["id"] for s in body["signposts"]]
    assert "childline" in ids and "nspcc_helpline" in ids
    assert body["suggestions"]


def test_topics(client: TestClient) -> None:
    r = client.get("/api/topics")
    assert r.status_code == 200
    topics = r.json()["topics"]
    ids = {t["id"] for t in topics}
    assert {"online_grooming", "make_a_report", "coercion_and_blackmail"} <= ids
    assert "disclosure" not in ids and "greeting" not in ids
    assert all(t["title"] and t["message"] for t in topics)


def test_health_ready_and_docs(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert "/api/chat" in schema["paths"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"message": ""}, "message"),
        ({"message": "   "}, "empty"),
        ({"message": "x" * 1001}, "1000"),
        ({}, "message is required"),
        ({"message": 42}, "message"),
        ({"message": "hi", "audience": "teacher"}, "audience"),
        ({"message": "hi", "context": "nope"}, "context"),
    ],
)
def test_invalid_input_gets_a_clear_422(client: TestClient, body: dict, needle: str) -> None:
    r = client.post("/api/chat", json=body)
    assert r.status_code == 422
    assert needle in r.json()["detail"]


def test_message_is_trimmed_before_the_length_check(client: TestClient) -> None:
    r = client.post("/api/chat", json={"message": "  " + "a" * 1000 + "  "})
    assert r.status_code == 200


def test_invalid_json_and_wrong_content_type(client: TestClient) -> None:
    r = client.post("/api/chat", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "JSON" in r.json()["detail"]
    r = client.post("/api/chat", content=b"message=hi", headers={"content-type": "text/plain"})
    assert r.status_code == 415


def test_oversized_body_gets_413(client: TestClient) -> None:
    r = client.post(
        "/api/chat",
        content=b'{"message": "' + b"a" * 20_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413


def test_widget_files_are_served(client: TestClient) -> None:
    r = client.get("/widget/signpost.js")
    assert r.status_code == 200
    assert "javascript" in r.headers["content-type"]
    page = client.get("/")
    assert page.status_code == 200
    assert "frame-ancestors" in page.headers["content-security-policy"]
