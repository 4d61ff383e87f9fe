"""The generated Questionnaires in NLM's LHC-Forms, in the system's headless Chromium.

Every shipped ruleset's newest version is rendered as a person would see it: every choice item
must offer its answers as words, not bare codes or numbers. The intake is then filled in through
the page as two example applicants, LHC-Forms exports the QuestionnaireResponse itself, and the
library's decision on that export must be byte-identical to its decision on the applicant JSON.

Needs Chromium (Debian `chromium`), node and npm; tests/browser/install.sh installs the pinned
npm packages into tests/browser/node_modules (`.ci/run` does so too). Where something cannot be
installed the tests are skipped with a message saying what is missing; with
RECOVERY_SCREENING_BROWSER_TESTS=required (set by `.ci/run` once the install succeeded) they
fail instead.
"""

from __future__ import annotations

import datetime
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from recovery_screening import Ruleset, RulesetRegistry, load_ruleset
from recovery_screening.interchange import from_questionnaire_response, to_fhir_questionnaire
from recovery_screening.interchange.questionnaire import ItemSpec, form_spec

pytestmark = pytest.mark.browser

HERE = Path(__file__).parent
REPO = HERE.parent.parent
NODE_MODULES = HERE / "node_modules"
INTAKE = "peer-support-intake@1.1.0"
FILLED = ("admit.json", "refer-safety.json")
SCREENSHOT_OF = "peer-support-intake"
NOT_WORDED = re.compile(r"-?\d+(\.\d+)?")

# continuing-support 1.1.0 (published) pins BARC-10 1.0.0, which gives no words for its six
# points (BARC-10 1.1.0 does). The check stays strict: it fails once the gap is closed, so this
# list shrinks instead of hiding a regression.
UNWORDED_KNOWN = {"continuing-support": "barc10."}


def _newest_of_every_ruleset() -> list[Ruleset]:
    registry = RulesetRegistry()
    return [registry.load(ruleset_id) for ruleset_id in registry.ids()]


def _unavailable(reason: str) -> None:
    if os.environ.get("RECOVERY_SCREENING_BROWSER_TESTS") == "required":
        pytest.fail(f"browser tests are required here, but {reason}")
    pytest.skip(f"LHC-Forms browser tests skipped: {reason}")


def _chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if found is None:
        _unavailable("Chromium is not installed (Debian: apt-get install -y chromium)")
    assert found is not None
    return found


def _install() -> None:
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            _unavailable(f"'{tool}' is not installed (Debian: apt-get install -y nodejs npm)")
    try:
        subprocess.run(
            ["bash", str(HERE / "install.sh")],
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
    except subprocess.TimeoutExpired:
        _unavailable("tests/browser/install.sh did not finish in 600 s")
    except subprocess.CalledProcessError as failure:
        tail = "\n".join(failure.stderr.strip().splitlines()[-5:])
        _unavailable(f"tests/browser/install.sh could not install the npm packages:\n{tail}")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the test reports what it needs."""


@functools.cache
def _questionnaires() -> dict[str, dict[str, Any]]:
    return {ruleset.id: to_fhir_questionnaire(ruleset) for ruleset in _newest_of_every_ruleset()}


def _site(root: Path) -> None:
    """page.html, LHC-Forms' files and every Questionnaire, in one directory to serve."""
    shutil.copy(HERE / "page.html", root / "page.html")
    (root / "lforms").symlink_to(NODE_MODULES / "lforms", target_is_directory=True)
    (root / "q").mkdir()
    for ruleset_id, questionnaire in _questionnaires().items():
        (root / "q" / f"{ruleset_id}.json").write_text(json.dumps(questionnaire))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The site on 127.0.0.1 at a free port; nothing else is reachable from the page."""
    _install()
    root = tmp_path_factory.mktemp("lhc-forms-site")
    _site(root)
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _applicant(name: str) -> dict[str, Any]:
    path = REPO / "examples/applicants/intake-1.1" / name
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def _dom_id(spec: ItemSpec) -> str:
    """LHC-Forms' element id: the linkIds on the way to the item, each with its instance (1)."""
    path = [spec.link_id] if spec.group is None else [spec.group, spec.link_id]
    return spec.link_id + "/1" * len(path)


def _fill_steps(ruleset: Ruleset, applicant: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What a person does on the page to give the applicant's answers, item by item."""
    form = form_spec(ruleset)
    steps: list[dict[str, Any]] = []
    answered = [(spec, applicant.get(spec.key)) for spec in form.items]
    for group in form.groups:
        answers = applicant.get(group.alias or "") or {}
        answered.extend((spec, answers.get(spec.key)) for spec in group.items)
    for spec, value in answered:
        if value is None:
            continue
        option = next(
            (o for o in spec.options if type(o.value) is type(value) and o.value == value), None
        )
        if option is not None:
            steps.append({"id": _dom_id(spec), "kind": "choice", "text": option.display})
        elif spec.item_type == "boolean":
            steps.append({"id": _dom_id(spec), "kind": "boolean", "value": bool(value)})
        else:
            steps.append({"id": _dom_id(spec), "kind": "text", "text": str(value)})
    return steps


@pytest.fixture(scope="module")
def report(served: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One Chromium run: every Questionnaire rendered, the intake filled twice and exported."""
    chromium = _chromium()
    work = tmp_path_factory.mktemp("lhc-forms-run")
    intake = load_ruleset(INTAKE)
    forms: list[dict[str, Any]] = [
        {
            "name": ruleset_id,
            "questionnaire": f"{served}/q/{ruleset_id}.json",
            "inspect": True,
            "answers": None,
            "screenshot": None,
        }
        for ruleset_id in _questionnaires()
    ]
    forms.extend(
        {
            "name": f"{intake.id}:{name}",
            "questionnaire": f"{served}/q/{intake.id}.json",
            "inspect": False,
            "answers": _fill_steps(intake, _applicant(name)),
            "screenshot": str(work / "intake-admit.png") if name == FILLED[0] else None,
        }
        for name in FILLED
    )
    job = work / "job.json"
    page = f"{served}/page.html"
    settings = {"chromium": chromium, "origin": served, "page": page, "forms": forms}
    job.write_text(json.dumps(settings))
    run = subprocess.run(
        ["node", str(HERE / "lhc_forms.mjs"), str(job)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=HERE,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    loaded: dict[str, Any] = json.loads(run.stdout)
    loaded["screenshot"] = str(work / "intake-admit.png")
    keep = os.environ.get("LHC_FORMS_SCREENSHOT")
    if keep:  # to look at it: LHC_FORMS_SCREENSHOT=/tmp/intake.png pytest tests/browser
        shutil.copy(loaded["screenshot"], keep)
    return loaded


def _walk(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items:
        yield item
        yield from _walk(item.get("item", []))


def _rendered(report: Mapping[str, Any], name: str) -> dict[str, Any]:
    [form] = [form for form in report["forms"] if form["name"] == name]
    return dict(form)


def test_the_page_loads_nothing_but_127_0_0_1_and_raises_no_error(report: dict[str, Any]) -> None:
    assert report["blocked"] == []
    assert report["errors"] == []


@pytest.mark.parametrize("ruleset_id", sorted(_questionnaires()))
def test_every_item_is_shown_with_its_question(report: dict[str, Any], ruleset_id: str) -> None:
    questionnaire = _questionnaires()[ruleset_id]
    rendered = _rendered(report, ruleset_id)
    assert rendered["title"] == questionnaire["title"]
    shown = {item["id"].split("/")[0]: item for item in rendered["items"]}
    expected = {item["linkId"]: item for item in _walk(questionnaire["item"])}
    assert set(shown) == set(expected)
    for link_id, item in expected.items():
        assert shown[link_id]["question"] == " ".join(item["text"].split()), link_id


@pytest.mark.parametrize("ruleset_id", sorted(_questionnaires()))
def test_every_choice_offers_worded_answers(report: dict[str, Any], ruleset_id: str) -> None:
    questionnaire = _questionnaires()[ruleset_id]
    shown = {item["id"].split("/")[0]: item for item in _rendered(report, ruleset_id)["items"]}
    unworded = []
    for item in _walk(questionnaire["item"]):
        answers = shown[item["linkId"]]["answers"]
        if item["type"] == "boolean":
            assert answers[:2] == ["Yes", "No"], item["linkId"]
        if item["type"] != "choice":
            continue
        displays = [option["valueCoding"]["display"] for option in item["answerOption"]]
        assert answers == displays, item["linkId"]
        if any(NOT_WORDED.fullmatch(text) for text in answers):
            unworded.append(item["linkId"])
    known = UNWORDED_KNOWN.get(ruleset_id)
    if known is None:
        assert unworded == []
    else:
        # strict: each known gap is a whole instrument's items, and fails once it is fixed
        assert unworded and all(link_id.startswith(known) for link_id in unworded)


@pytest.mark.parametrize("name", FILLED)
def test_a_filled_and_exported_intake_gives_the_identical_decision(
    report: dict[str, Any], name: str
) -> None:
    intake = load_ruleset(INTAKE)
    applicant = _applicant(name)
    exported = _rendered(report, f"{intake.id}:{name}")["response"]
    assert exported["resourceType"] == "QuestionnaireResponse"
    mapped = from_questionnaire_response(exported, intake)
    # LHC-Forms' `authored` is the time of the export: it becomes the screening date
    screening_date = mapped.pop("screening_date")
    assert screening_date == exported["authored"][:10]
    assert mapped == intake.evaluate(applicant).applicant()
    as_of = datetime.date.fromisoformat(screening_date)
    expected = intake.evaluate(applicant, as_of=as_of).to_json()
    assert intake.evaluate({**mapped, "screening_date": screening_date}).to_json() == expected


def test_a_screenshot_of_the_filled_intake_was_taken(report: dict[str, Any]) -> None:
    picture = Path(report["screenshot"]).read_bytes()
    assert picture.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(picture) > 50_000
