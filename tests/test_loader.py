"""The knowledge base loads once into immutable objects; broken files name file and field."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.content_errors import field_name
from bot.loader import KnowledgeBaseError, load
from bot.models import AUDIENCES, CONTRACT_IDS, KnowledgeBase


def test_every_contract_intent_is_loaded(kb: KnowledgeBase) -> None:
    assert set(CONTRACT_IDS) <= set(kb.intents)
    for iid in CONTRACT_IDS:
        intent = kb.intents[iid]
        if iid != "fallback":
            assert len(intent.examples) >= 15, iid
        for aud in AUDIENCES:
            assert kb.answers[intent.answer][aud].strip()
            assert intent.signposts[aud]


def test_knowledge_base_is_immutable(kb: KnowledgeBase) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        kb.intents["greeting"].title = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        kb.intents["new"] = kb.intents["greeting"]  # type: ignore[index]
    assert isinstance(kb.intents["greeting"].examples, tuple)


def test_placeholders_are_filled_from_the_registry(kb: KnowledgeBase) -> None:
    for per in kb.answers.values():
        for text in per.values():
            assert "{" not in text or ".phone}" not in text


def _problems(root: Path) -> str:
    with pytest.raises(KnowledgeBaseError) as info:
        load(root)
    return str(info.value)


def test_invalid_yaml_names_file_and_line(kb_copy: Path) -> None:
    (kb_copy / "intents" / "greeting.yaml").write_text("id: greeting\nexamples: [unclosed\n")
    msg = _problems(kb_copy)
    assert "intents/greeting.yaml" in msg and "not valid YAML" in msg and "line" in msg


def test_missing_field_names_file_and_field(kb_copy: Path) -> None:
    p = kb_copy / "intents" / "online_grooming.yaml"
    p.write_text(p.read_text().replace("title:", "titel:"))
    msg = _problems(kb_copy)
    assert "intents/online_grooming.yaml: title: is required" in msg


def test_shared_unless_lines_join_each_named_class(kb: KnowledgeBase) -> None:
    # content/safety_concepts.yaml's shared_unless: one line, held by every class it names.
    play = [p for p in kb.intents["disclosure"].triage.unless if "dead by daylight" in p.pattern]
    assert len(play) == 1
    for name in ("immediate_danger", "self_harm"):
        assert play[0] in kb.intents[name].triage.unless
    assert play[0] not in kb.intents["harmful_request"].triage.unless


def test_shared_unless_naming_no_safety_class_is_reported(kb_copy: Path) -> None:
    p = kb_copy / "content" / "safety_concepts.yaml"
    p.write_text(p.read_text().replace("classes: [immediate_danger,", "classes: [the_law,"))
    msg = _problems(kb_copy)
    assert "safety_concepts.yaml: shared_unless[0].classes: 'the_law' is not a safety intent" in msg


def test_unknown_helpline_is_reported(kb_copy: Path) -> None:
    p = kb_copy / "intents" / "the_law.yaml"
    p.write_text(p.read_text().replace("nspcc_helpline", "nspc_helpline", 1))
    assert "unknown helpline 'nspc_helpline'" in _problems(kb_copy)


def test_too_few_examples_and_wrong_id(kb_copy: Path) -> None:
    (kb_copy / "intents" / "goodbye.yaml").write_text(
        "id: goodby\ntitle: Bye\nkind: conversation\nexamples: [bye]\n"
    )
    msg = _problems(kb_copy)
    assert "intents/goodbye.yaml: id: must be 'goodbye'" in msg
    assert "intents/goodbye.yaml: file: missing" not in msg  # one clear message, not two


def test_missing_answer_and_bad_placeholder(kb_copy: Path) -> None:
    (kb_copy / "content" / "parent" / "the_law.md").unlink()
    ya = kb_copy / "content" / "young_person" / "privacy.md"
    ya.write_text(ya.read_text() + "\nCall {childline.fax}.")
    msg = _problems(kb_copy)
    assert "content/parent/the_law.md: file: missing" in msg
    assert (
        "content/young_person/privacy.md: {childline.fax}: helpline 'childline' has no 'fax'" in msg
    )


def test_bad_regex_in_triage(kb_copy: Path) -> None:
    p = kb_copy / "intents" / "self_harm.yaml"
    p.write_text(p.read_text().replace("patterns:", "patterns:\n    - '(unclosed'", 1))
    assert "triage.patterns[0]: bad regular expression" in _problems(kb_copy)


def test_all_problems_are_reported_together(kb_copy: Path) -> None:
    (kb_copy / "intents" / "greeting.yaml").unlink()
    (kb_copy / "content" / "young_person" / "goodbye.md").unlink()
    msg = _problems(kb_copy)
    assert "greeting.yaml" in msg and "goodbye.md" in msg


def test_topic_first_names_unknown_concepts_and_needs_its_lead(kb_copy: Path) -> None:
    p = kb_copy / "intents" / "disclosure.yaml"
    text = p.read_text()
    p.write_text(
        text.replace(
            "[asks_about, '!told_harm', '!harm_statement']",
            "[asks_abot, '!told_harm', '!harm_statement']",
        ).replace("  topic_lead: disclosure_topic_lead\n", "")
    )
    msg = _problems(kb_copy)
    assert "intents/disclosure.yaml: triage.topic_first[1]: unknown concept 'asks_abot'" in msg
    assert "intents/disclosure.yaml: triage.topic_first: topic_first and topic_lead go" in msg


def test_concept_regexes_keep_their_case(kb: KnowledgeBase) -> None:
    # Plain phrases are lower-cased like the text; a regex must not be: "\S" lower-cased is
    # "\s", its opposite (the 20-word limit on asks_about once silently matched nothing).
    regexes = [p for phrases in kb.concepts.values() for p in phrases if p.startswith("re:")]
    assert any("\\S" in p for p in regexes)
    assert all(p == p.strip() for p in regexes)


def test_a_misspelt_field_is_an_error_not_ignored(kb_copy: Path) -> None:
    p = kb_copy / "intents" / "the_law.yaml"
    p.write_text(p.read_text().replace("keywords:", "keyword:", 1))
    s = kb_copy / "intents" / "self_harm.yaml"
    s.write_text(s.read_text().replace("  unless:", "  unles:", 1))
    msg = _problems(kb_copy)
    assert "intents/the_law.yaml: keyword: is not a field here (misspelt?)" in msg
    assert "intents/self_harm.yaml: triage.unles: is not a field here (misspelt?)" in msg


def test_every_problem_in_one_file_is_named_with_its_path(kb_copy: Path) -> None:
    p = kb_copy / "intents" / "the_law.yaml"
    text = p.read_text().replace("    message:", "    mesage:", 1).replace("  parent:", "  parnt:")
    p.write_text(text + "triage:\n  safety: urgent\n")
    msg = _problems(kb_copy)
    for line in (
        "intents/the_law.yaml: suggestions[0].message: is required",
        "intents/the_law.yaml: signposts.parent: is required",
        "intents/the_law.yaml: triage: only intents of kind 'safety' have triage rules",
    ):
        assert line in msg


def test_an_empty_intent_file_is_named(kb_copy: Path) -> None:
    (kb_copy / "intents" / "greeting.yaml").write_text("")
    msg = _problems(kb_copy)
    assert "intents/greeting.yaml: file: must be a mapping of fields" in msg
    assert "missing" not in msg


def test_a_broken_concepts_file_does_not_cascade(kb_copy: Path) -> None:
    # Every safety intent names concepts: with the file broken, say so once, not per combo.
    (kb_copy / "content" / "safety_concepts.yaml").write_text("concepts: [a, b]\n")
    with pytest.raises(KnowledgeBaseError) as info:
        load(kb_copy)
    assert [str(p) for p in info.value.problems] == [
        "content/safety_concepts.yaml: concepts: must be a mapping"
    ]


def test_a_broken_safety_intent_is_not_also_unknown_to_the_triage_examples(
    kb_copy: Path,
) -> None:
    p = kb_copy / "intents" / "self_harm.yaml"
    p.write_text(p.read_text().replace("safety: urgent", "safety: high", 1))
    with pytest.raises(KnowledgeBaseError) as info:
        load(kb_copy)
    assert [str(p) for p in info.value.problems] == [
        "intents/self_harm.yaml: triage.safety: must be 'urgent' or 'emergency'"
    ]


def test_a_word_in_two_synonym_groups_is_named(kb_copy: Path) -> None:
    p = kb_copy / "content" / "normalise.yaml"
    p.write_text(p.read_text() + "  photograph: [pic]\n")
    assert "content/normalise.yaml: synonyms: 'pic' is in both" in _problems(kb_copy)


@pytest.mark.parametrize(
    ("loc", "name"),
    [
        (("triage", "patterns", 0), "triage.patterns[0]"),
        (("concepts", "stranger", 3), "concepts.stranger[3]"),
        (("sadness", "[key]"), "sadness"),
        ((), ""),
    ],
)
def test_pydantic_locations_read_as_the_editor_writes_them(
    loc: tuple[int | str, ...], name: str
) -> None:
    assert field_name(loc) == name


def test_routing_errors_read_like_the_loaders(kb_copy: Path) -> None:
    from bot.routing import load_routing

    (kb_copy / "content" / "routing.yaml").write_text("follow_ups:\n  max_words: many\n")
    with pytest.raises(KnowledgeBaseError) as info:
        load_routing(load(kb_copy))
    assert "content/routing.yaml: follow_ups.max_words: must be a whole number" in str(info.value)
