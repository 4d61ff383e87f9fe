"""The lock pins published versions: edits are refused at load, publishing never overwrites."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from tests.conftest import REPO

from recovery_screening import RulesetAltered, RulesetRegistry, load_ruleset
from recovery_screening.cli import main
from recovery_screening.document.lock import VersionExists, read_lock
from recovery_screening.errors import RulesetNotFound

SHIPPED = REPO / "rulesets"


@pytest.fixture
def rulesets(tmp_path: Path) -> Path:
    target = tmp_path / "rulesets"
    shutil.copytree(SHIPPED, target)
    return target


def test_the_shipped_lock_matches_the_shipped_files() -> None:
    registry = RulesetRegistry(SHIPPED)
    assert registry.verify() == []
    locked = {(entry.id, entry.version) for entry in registry.locked()}
    on_disk = {
        (ruleset_id, v) for ruleset_id in registry.ids() for v in registry.versions(ruleset_id)
    }
    assert locked == on_disk
    for entry in registry.locked():
        assert registry.load(f"{entry.id}@{entry.version}").content_hash == entry.content_hash


def test_the_lock_file_is_sorted_json() -> None:
    document = json.loads((SHIPPED / "rulesets.lock").read_text())
    keys = [(entry["id"], entry["version"]) for entry in document["rulesets"]]
    assert keys == sorted(keys)


def test_registry_lists_and_resolves(rulesets: Path) -> None:
    registry = RulesetRegistry(rulesets)
    assert "peer-support-intake" in registry.ids()
    assert registry.versions("phq-9") == ["1.0.0", "1.1.0"]
    assert registry.resolve("phq-9@^1.0") == ("phq-9", "1.1.0")
    assert registry.load("phq-9") is registry.load("phq-9@1.1.0")
    with pytest.raises(RulesetNotFound):
        registry.resolve("phq-9@^2")


def _edit_title(path: Path) -> None:
    document = yaml.safe_load(path.read_text())
    document["title"] = document["title"] + " (edited)"
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def test_editing_a_published_version_is_refused_at_load(rulesets: Path) -> None:
    locked = read_lock(rulesets)[("phq-9", "1.0.0")]
    _edit_title(rulesets / "phq-9" / "1.0.0.yaml")
    with pytest.raises(RulesetAltered) as error:
        load_ruleset("phq-9@1.0.0", rulesets_dir=rulesets)
    message = str(error.value)
    assert "phq-9" in message and "1.0.0" in message and locked in message
    assert error.value.found in message and error.value.found != locked
    with pytest.raises(RulesetAltered):
        load_ruleset(rulesets / "phq-9" / "1.0.0.yaml")
    with pytest.raises(RulesetAltered):  # the intake resolves phq-9 through the lock too
        load_ruleset("peer-support-intake@1.0.0", rulesets_dir=rulesets)
    assert RulesetRegistry(rulesets).verify()


def test_a_changed_version_field_still_answers_to_its_place(rulesets: Path) -> None:
    path = rulesets / "gad-7" / "1.0.0.yaml"
    path.write_text(path.read_text().replace("version: 1.0.0", "version: 1.0.1", 1))
    with pytest.raises(RulesetAltered):
        load_ruleset(path)


def test_formatting_and_comments_do_not_count(rulesets: Path) -> None:
    path = rulesets / "phq-9" / "1.0.0.yaml"
    document = yaml.safe_load(path.read_text())
    path.write_text("# reformatted\n" + yaml.safe_dump(document, sort_keys=True, indent=4))
    assert (
        load_ruleset("phq-9@1.0.0", rulesets_dir=rulesets).content_hash
        == read_lock(rulesets)[("phq-9", "1.0.0")]
    )
    json_form = rulesets / "phq-9" / "1.0.0.json"
    path.unlink()
    json_form.write_text(json.dumps(document))
    assert (
        load_ruleset("phq-9@1.0.0", rulesets_dir=rulesets).content_hash
        == read_lock(rulesets)[("phq-9", "1.0.0")]
    )


def test_a_version_absent_from_the_lock_is_a_draft(rulesets: Path) -> None:
    draft = rulesets / "phq-9" / "1.0.1.yaml"
    shutil.copyfile(rulesets / "phq-9" / "1.0.0.yaml", draft)
    draft.write_text(draft.read_text().replace("version: 1.0.0", "version: 1.0.1", 1))
    assert load_ruleset("phq-9@1.0.1", rulesets_dir=rulesets).version == "1.0.1"


def test_publishing_over_an_existing_version_is_refused(rulesets: Path, tmp_path: Path) -> None:
    registry = RulesetRegistry(rulesets)
    with pytest.raises(VersionExists):
        registry.publish(rulesets / "phq-9" / "1.0.0.yaml")
    elsewhere = tmp_path / "phq-9-edited.yaml"
    shutil.copyfile(rulesets / "phq-9" / "1.0.0.yaml", elsewhere)
    _edit_title(elsewhere)
    with pytest.raises(RulesetAltered):  # an edit claiming a pinned version does not even load
        registry.publish(elsewhere)
    before = (rulesets / "rulesets.lock").read_text()
    assert main(["publish", str(rulesets / "phq-9" / "1.0.0.yaml")]) == 2
    assert (rulesets / "rulesets.lock").read_text() == before


def test_publishing_a_new_version_pins_it(rulesets: Path, tmp_path: Path) -> None:
    new = tmp_path / "gad-7-next.yaml"
    new.write_text(
        (rulesets / "gad-7" / "1.0.0.yaml")
        .read_text()
        .replace("version: 1.0.0", "version: 1.0.1", 1)
    )
    assert main(["publish", str(new), "--rulesets", str(rulesets)]) == 0
    registry = RulesetRegistry(rulesets)
    assert registry.versions("gad-7") == ["1.0.0", "1.0.1", "1.1.0"]
    pinned = registry.locked_hash("gad-7", "1.0.1")
    assert pinned == load_ruleset("gad-7@1.0.1", rulesets_dir=rulesets).content_hash
    assert registry.verify() == []
    with pytest.raises(VersionExists):
        registry.publish(new)
