"""Ways around the lock: a pinned id and version loads only with its pinned hash, wherever the
file is and however it is reached; anything no lock pins is a draft, and says so."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from tests.conftest import REPO

from recovery_screening import (
    DocumentError,
    RulesetAltered,
    RulesetRegistry,
    load_document,
    load_ruleset,
    replay,
)
from recovery_screening.cli import main
from recovery_screening.records.record import make_record

SHIPPED = REPO / "rulesets"
WHEN = "2026-03-01T09:30:00Z"


@pytest.fixture
def rulesets(tmp_path: Path) -> Path:
    target = tmp_path / "rulesets"
    shutil.copytree(SHIPPED, target)
    return target


def _edited_copy(source: Path, target: Path, **changes: str) -> Path:
    document = yaml.safe_load(source.read_text())
    document["title"] = document["title"] + " (edited)"
    document.update(changes)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(document, sort_keys=False))
    return target


def test_a_symlink_to_an_edited_copy_is_refused(rulesets: Path, tmp_path: Path) -> None:
    published = rulesets / "phq-9" / "1.0.0.yaml"
    edited = _edited_copy(published, tmp_path / "elsewhere" / "edited.yaml")
    published.unlink()
    published.symlink_to(edited)
    with pytest.raises(RulesetAltered):
        load_ruleset("phq-9@1.0.0", rulesets_dir=rulesets)
    with pytest.raises(RulesetAltered):
        load_ruleset(published)
    with pytest.raises(RulesetAltered):
        RulesetRegistry(rulesets).load("phq-9@1.0.0")
    with pytest.raises(RulesetAltered):  # the intake's instrument is found through the link
        load_ruleset("peer-support-intake@1.0.0", rulesets_dir=rulesets)


def test_a_symlink_to_a_copy_that_claims_another_version_is_refused(
    rulesets: Path, tmp_path: Path
) -> None:
    published = rulesets / "gad-7" / "1.0.0.yaml"
    other = _edited_copy(
        published, tmp_path / "drafts" / "gad-7-local" / "3.0.0.yaml", id="gad-7-local"
    )
    other.write_text(other.read_text().replace("version: 1.0.0", "version: 3.0.0", 1))
    published.unlink()
    published.symlink_to(other)
    with pytest.raises(RulesetAltered):  # its place, as reached, is pinned
        load_ruleset(published)


def test_a_deleted_lock_does_not_turn_shipped_versions_into_drafts(rulesets: Path) -> None:
    (rulesets / "rulesets.lock").unlink()
    intact = load_ruleset("peer-support-intake@1.0.0", rulesets_dir=rulesets)
    assert intact.published
    _edited_copy(rulesets / "phq-9" / "1.0.0.yaml", rulesets / "phq-9" / "1.0.0.yaml")
    with pytest.raises(RulesetAltered):
        load_ruleset("phq-9@1.0.0", rulesets_dir=rulesets)
    with pytest.raises(RulesetAltered):
        load_ruleset("peer-support-intake@1.0.0", rulesets_dir=rulesets)


def test_a_deleted_lock_turns_a_registrys_own_versions_into_visible_drafts(
    rulesets: Path, tmp_path: Path
) -> None:
    new = tmp_path / "gad-7-next.yaml"
    new.write_text(
        (rulesets / "gad-7" / "1.0.0.yaml").read_text().replace("version: 1.0.0", "version: 1.0.1")
    )
    RulesetRegistry(rulesets).publish(new)
    assert load_ruleset("gad-7@1.0.1", rulesets_dir=rulesets).published
    (rulesets / "rulesets.lock").unlink()
    draft = load_ruleset("gad-7@1.0.1", rulesets_dir=rulesets)
    assert not draft.published
    decision = json.loads(draft.evaluate({}).to_json())
    assert decision["ruleset"]["published"] is False


def test_an_edited_copy_without_a_lock_does_not_load_as_the_published_version(
    tmp_path: Path,
) -> None:
    copy = _edited_copy(
        SHIPPED / "peer-support-intake" / "1.0.0.yaml", tmp_path / "no-lock" / "intake.yaml"
    )
    with pytest.raises(RulesetAltered) as error:
        load_ruleset(copy)
    assert "peer-support-intake" in str(error.value) and "1.0.0" in str(error.value)
    admit = str(REPO / "examples" / "applicants" / "admit.json")
    assert main(["evaluate", "--ruleset", str(copy), admit]) == 2
    flat = _edited_copy(SHIPPED / "phq-9" / "1.0.0.yaml", tmp_path / "phq.yaml")
    with pytest.raises(RulesetAltered):
        load_ruleset(flat)


def test_an_unedited_copy_anywhere_is_the_published_version(tmp_path: Path) -> None:
    copy = tmp_path / "anywhere" / "intake.yaml"
    copy.parent.mkdir()
    shutil.copyfile(SHIPPED / "peer-support-intake" / "1.0.0.yaml", copy)
    assert load_ruleset(copy).published


def test_the_shipped_lock_must_exist(rulesets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (rulesets / "rulesets.lock").unlink()
    monkeypatch.setattr("recovery_screening.ruleset.shipped_rulesets_directory", lambda: rulesets)
    with pytest.raises(DocumentError) as error:
        load_ruleset("phq-9@1.0.0")
    assert error.value.problems[0].code == "lock-missing"


def test_a_document_in_memory_that_differs_from_its_pin_is_a_draft() -> None:
    intake = load_ruleset("peer-support-intake@1.0.0")
    assert intake.published and load_document(intake.document).published
    edited = intake.document
    edited["title"] += " (edited)"
    draft = load_document(edited)
    assert not draft.published
    assert draft.evaluate({}).to_dict()["ruleset"]["published"] is False


def test_published_decisions_carry_no_published_key() -> None:
    decision = load_ruleset("peer-support-intake@1.0.0").evaluate({})
    assert "published" not in decision.to_dict()["ruleset"]
    assert '"published"' not in decision.to_json()
    assert decision.model.ruleset.published is None


def test_drafts_say_so_in_decisions_records_and_replay(rulesets: Path, tmp_path: Path) -> None:
    draft_path = rulesets / "phq-9" / "1.0.1.yaml"
    draft_path.write_text(
        (rulesets / "phq-9" / "1.0.0.yaml").read_text().replace("version: 1.0.0", "version: 1.0.1")
    )
    draft = load_ruleset("phq-9@1.0.1", rulesets_dir=rulesets)
    assert not draft.published
    decision = draft.evaluate({f"q{n}": 0 for n in range(1, 10)})
    assert decision.to_dict()["ruleset"]["published"] is False
    assert decision.model.ruleset.published is False
    record = make_record(decision, subject_ref="subject-1", evaluated_at=WHEN)
    body = json.loads(record.to_json())
    assert body["ruleset"]["published"] is False
    assert body["decision"]["ruleset"]["published"] is False
    log = tmp_path / "records.jsonl"
    log.write_text(record.to_json() + "\n")
    run = replay(log, rulesets)
    (report,) = list(run)
    assert report.identical and report.draft and report.to_dict()["draft"] is True
    assert run.summary.drafts == 1 and run.summary.ok
    published_log = tmp_path / "published.jsonl"
    published_log.write_text(
        make_record(
            load_ruleset("phq-9@1.0.0").evaluate({f"q{n}": 0 for n in range(1, 10)}),
            subject_ref="subject-2",
            evaluated_at=WHEN,
        ).to_json()
        + "\n"
    )
    (published,) = list(replay(published_log, rulesets))
    assert not published.draft and "draft" not in published.to_dict()


def test_replay_prints_draft_records_as_such(
    rulesets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    draft_path = rulesets / "phq-9" / "1.0.1.yaml"
    draft_path.write_text(
        (rulesets / "phq-9" / "1.0.0.yaml").read_text().replace("version: 1.0.0", "version: 1.0.1")
    )
    record = make_record(
        load_ruleset("phq-9@1.0.1", rulesets_dir=rulesets).evaluate({}),
        subject_ref="subject-1",
        evaluated_at=WHEN,
    )
    log = tmp_path / "records.jsonl"
    log.write_text(record.to_json() + "\n")
    assert main(["replay", str(log), "--rulesets", str(rulesets)]) == 0
    out = capsys.readouterr().out
    assert "(draft ruleset)" in out and "drafts: 1 record(s)" in out
