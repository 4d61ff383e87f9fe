"""The HTML reports: score histograms against band thresholds, the needs chart, the equity
charts, the diff's transition matrix linked to the rules behind each cell; one self-contained
page each, and what headless Chromium renders from it."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import FIXTURES, REPO

from recovery_screening import Ruleset, load_ruleset
from recovery_screening.designer.diff import diff_rulesets
from recovery_screening.designer.report import diff_html_report, html_report
from recovery_screening.designer.simulate import simulate

COHORT = REPO / "examples" / "cohort-1000.jsonl"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class _Elements(HTMLParser):
    """Every start tag with its attributes, in document order, and which anchor each is in."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None], str | None]] = []
        self.link: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a":
            self.link = found.get("href")
        self.elements.append((tag, found, self.link))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self.link = None

    def having(self, tag: str, **wanted: str) -> list[tuple[dict[str, str | None], str | None]]:
        key = {name.replace("_", "-"): value for name, value in wanted.items()}
        return [
            (attrs, link)
            for name, attrs, link in self.elements
            if name == tag and all(attrs.get(k) == v for k, v in key.items())
        ]


def _parse(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    return parser


@pytest.fixture(scope="module")
def simulation(intake: Ruleset) -> tuple[dict[str, Any], str]:
    result = simulate(intake, COHORT, workers=1, group_by=("justice_involvement",))
    return result.to_dict(), html_report(result)


@pytest.fixture(scope="module")
def diff(intake: Ruleset) -> tuple[dict[str, Any], str]:
    new = load_ruleset(FIXTURES / "designer" / "audit-threshold-16.yaml")
    result = diff_rulesets(intake, new, COHORT, workers=1, group_by=("housing",))
    return result.to_dict(), diff_html_report(result)


def _self_contained(html: str) -> None:
    parser = _parse(html)
    assert not [tag for tag, _, _ in parser.elements if tag in ("script", "link", "img")]
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html and "url(" not in html


def test_score_histograms_carry_every_count_against_the_band_thresholds(
    simulation: tuple[dict[str, Any], str],
) -> None:
    data, html = simulation
    _self_contained(html)
    parser = _parse(html)
    for domain in data["domains"]:
        svg = parser.having("svg", data_domain=domain["name"])
        assert len(svg) == 1 and "histogram" in str(svg[0][0]["class"])
        start = parser.elements.index(("svg", svg[0][0], None))
        end = next(i for i in range(start + 1, len(parser.elements))
                   if parser.elements[i][0] == "svg" or i == len(parser.elements) - 1)  # fmt: skip
        inside = parser.elements[start:end]
        bars = {a["data-score"]: int(str(a["data-count"])) for t, a, _ in inside
                if t == "rect" and a.get("class") == "bar"}  # fmt: skip
        assert bars == domain["scores"]
        thresholds = [a["data-score"] for t, a, _ in inside if a.get("class") == "threshold"]
        assert thresholds == [str(band["minimum"]) for band in domain["band_ranges"][1:]]
        shaded = [a["data-band"] for t, a, _ in inside if a.get("class") == "band"]
        assert shaded == [band["name"] for band in domain["band_ranges"]]


def test_the_needs_chart_counts_each_missing_answer(
    simulation: tuple[dict[str, Any], str],
) -> None:
    data, html = simulation
    rects = {str(a["data-name"]): (a["data-count"], a["data-alone"])
             for a, _ in _parse(html).having("rect", **{"class": "need"})}  # fmt: skip
    assert rects == {e["name"]: (str(e["count"]), str(e["alone"])) for e in data["needs"][:20]}
    assert all(entry["label"] for entry in data["needs"])


def test_the_equity_chart_shows_each_group_and_flags_the_held_back(
    simulation: tuple[dict[str, Any], str],
) -> None:
    data, html = simulation
    (report,) = data["equity"]
    parser = _parse(html)
    groups = parser.having("g")
    shown = {str(a["data-group"]): a["data-flagged"] for a, _ in groups if "data-group" in a}
    assert shown == {row["group"]: str(row["flagged"]).lower() for row in report["groups"]}
    assert "true" in shown.values()  # current justice involvement: see docs/equity.md
    counts = [a["data-count"] for a, _ in parser.having("rect", **{"class": "admit-rate"})]
    assert counts == [str(row["outcomes"]["admit"]["count"]) for row in report["groups"]]
    (line,) = parser.having("line", **{"class": "four-fifths"})
    reference = next(r for r in report["groups"] if r["group"] == report["reference"])
    assert float(str(line[0]["data-rate"])) == pytest.approx(
        0.8 * reference["outcomes"]["admit"]["rate"], abs=1e-4
    )


def test_the_transition_matrix_links_each_cell_to_the_rules_that_moved_it(
    diff: tuple[dict[str, Any], str],
) -> None:
    data, html = diff
    _self_contained(html)
    behaviour = data["behaviour"]
    parser = _parse(html)
    cells = parser.having("rect", **{"class": "cell"})
    assert len(cells) == 9
    ids = {str(a["id"]) for _, a, _ in parser.elements if "id" in a}
    for attrs, link in cells:
        before, after = str(attrs["data-from"]), str(attrs["data-to"])
        count = behaviour["transitions"][before][after]
        assert attrs["data-count"] == str(count)
        if count:
            assert link == f"#moved-{before}-{after}" and link[1:] in ids
        else:
            assert link is None
    moved = sum(
        c["count"] for c in behaviour["transition_causes"] if c["from"] == "admit" and
        c["to"] == "refer"
    )  # fmt: skip
    assert moved == behaviour["transitions"]["admit"]["refer"] > 0
    assert "causes-admit-refer" in ids
    assert sum(c["count"] for c in behaviour["transition_causes"]) == behaviour["changed_count"]
    assert parser.having("svg", **{"class": "chart equity-diff", "data-field": "housing"})


# --- in a browser ----------------------------------------------------------------------------

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)


def _chromium(tmp_path: Path, page: Path, *options: str) -> str:
    assert CHROMIUM is not None
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}", "--host-resolver-rules=MAP * ~NOTFOUND",
        *options, page.resolve().as_uri(),
    ]  # fmt: skip
    environment = {**os.environ, "HOME": str(tmp_path)}
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=180, check=False, env=environment
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and rows of RGB(A) bytes of an 8-bit, non-interlaced PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    position, data = 8, b""
    width = height = channels = 0
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        body = png[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and colour in (2, 6)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            data += body
        position += 12 + length
    raw = zlib.decompress(data)
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        filter_type = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if filter_type == 1:
                line[i] = (line[i] + left) & 0xFF
            elif filter_type == 2:
                line[i] = (line[i] + up) & 0xFF
            elif filter_type == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif filter_type == 4:
                estimate = left + up - corner
                pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
                nearest = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[i] = (line[i] + nearest) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, channels, rows


def _colours(png: bytes) -> Counter[tuple[int, int, int]]:
    _, channels, rows = _pixels(png)
    found: Counter[tuple[int, int, int]] = Counter()
    for row in rows:
        for i in range(0, len(row), channels):
            found[(row[i], row[i + 1], row[i + 2])] += 1
    return found


@needs_chromium
def test_chromium_renders_the_simulation_charts_with_their_data(
    simulation: tuple[dict[str, Any], str], tmp_path: Path
) -> None:
    data, html = simulation
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    dom = _parse(_chromium(tmp_path, page, "--dump-dom"))
    svgs = [a for tag, a, _ in dom.elements if tag == "svg"]
    assert len(svgs) == 3 + len(data["domains"]) + 2  # bars, histograms, needs, equity
    bars = dom.having("rect", **{"class": "bar"})
    assert sum(int(str(a["data-count"])) for a, _ in bars) == sum(
        sum(d["scores"].values()) for d in data["domains"]
    )
    (report,) = data["equity"]
    rendered = [a["data-count"] for a, _ in dom.having("rect", **{"class": "admit-rate"})]
    assert rendered == [str(row["outcomes"]["admit"]["count"]) for row in report["groups"]]
    shot = tmp_path / "report.png"
    _chromium(tmp_path, page, f"--screenshot={shot}", "--window-size=900,700",
              "--force-device-scale-factor=1", "--hide-scrollbars")  # fmt: skip
    colours = _colours(shot.read_bytes())
    admit, defer, refer = (46, 125, 50), (249, 168, 37), (198, 40, 40)
    # the outcome bars, in their colours, proportional to the counts (16 pixels high each)
    widths = {name: colours[colour] / 16 for name, colour in
              (("admit", admit), ("defer", defer), ("refer", refer))}  # fmt: skip
    largest = max(data["outcomes"].values())
    for name, width in widths.items():
        assert width == pytest.approx(400 * data["outcomes"][name] / largest, abs=3)
    assert len(colours) > 50  # text, bars and tables: not a blank page


@needs_chromium
def test_chromium_renders_the_transition_matrix(
    diff: tuple[dict[str, Any], str], tmp_path: Path
) -> None:
    data, html = diff
    page = tmp_path / "diff.html"
    page.write_text(html, encoding="utf-8")
    dom = _parse(_chromium(tmp_path, page, "--dump-dom"))
    cells = dom.having("rect", **{"class": "cell"})
    matrix = data["behaviour"]["transitions"]
    assert {(a["data-from"], a["data-to"]): a["data-count"] for a, _ in cells} == {
        (before, after): str(matrix[before][after]) for before in matrix for after in matrix
    }
    assert all(link is not None for a, link in cells if a["data-count"] != "0")
    shot = tmp_path / "diff.png"
    _chromium(tmp_path, page, f"--screenshot={shot}", "--window-size=900,900",
              "--force-device-scale-factor=1", "--hide-scrollbars")  # fmt: skip
    colours = _colours(shot.read_bytes())
    white = colours[(255, 255, 255)]
    assert sum(colours.values()) - white > 20_000  # the matrix's shaded cells and its text
