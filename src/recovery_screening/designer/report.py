"""A simulation as one self-contained HTML page: inline SVG bars and histograms, no script,
no stylesheet or font from the network, so it opens anywhere (and offline)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from recovery_screening.designer.simulate import Simulation

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse}td,th{padding:.15rem .6rem;text-align:left}
td.count,th.count{text-align:right;font-variant-numeric:tabular-nums}
.never{color:#a00;font-weight:bold}svg text{font-size:12px;fill:#222}
"""
_COLOURS = {"admit": "#2e7d32", "defer": "#f9a825", "refer": "#c62828"}
_BAR = "#1565c0"


def _bars(rows: Sequence[tuple[str, int]], colour: str = _BAR) -> str:
    """Horizontal bars, one per row, each labelled with its name and count."""
    if not rows:
        return "<p>(none)</p>"
    largest = max(count for _, count in rows) or 1
    height = 20 * len(rows) + 4
    parts = [f'<svg role="img" width="720" height="{height}" xmlns="http://www.w3.org/2000/svg">']
    for index, (name, count) in enumerate(rows):
        y = 20 * index + 2
        width = round(400 * count / largest)
        fill = _COLOURS.get(name, colour)
        parts.append(
            f'<text x="0" y="{y + 13}">{escape(name)}</text>'
            f'<rect x="250" y="{y}" width="{width}" height="16" fill="{fill}"/>'
            f'<text x="{256 + width}" y="{y + 13}">{count}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _histogram(scores: dict[str, int]) -> str:
    """Vertical bars, one per score, labelled with the score below and the count above."""
    if not scores:
        return "<p>(no decided scores)</p>"
    items = sorted(((int(score), count) for score, count in scores.items()))
    largest = max(count for _, count in items) or 1
    low, high = items[0][0], items[-1][0]
    span = high - low + 1
    step = max(24, 600 // span)
    parts = [
        f'<svg role="img" width="{step * span + 20}" height="160" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    for score, count in items:
        x = 10 + (score - low) * step
        bar = round(110 * count / largest)
        parts.append(
            f'<rect x="{x}" y="{130 - bar}" width="{step - 4}" height="{bar}" fill="{_BAR}"/>'
            f'<text x="{x}" y="{125 - bar}">{count}</text>'
            f'<text x="{x}" y="148">{score}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(rows: Sequence[tuple[str, int]], table_id: str, header: str) -> str:
    body = "".join(
        f'<tr><td>{escape(name)}</td><td class="count" data-name="{escape(name)}">{count}</td></tr>'
        for name, count in rows
    )
    return (
        f'<table id="{table_id}"><tr><th>{escape(header)}</th><th class="count">applicants</th>'
        f"</tr>{body}</table>"
    )


def _ranked(entries: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(entry["name"], entry["count"]) for entry in entries]


def html_report(simulation: Simulation) -> str:
    """The whole report page. Every number shown is also in a table cell, for reading back."""
    data = simulation.to_dict()
    ruleset = data["ruleset"]
    outcomes = list(data["outcomes"].items())
    title = f"Simulation of {ruleset['id']} {ruleset['version']}"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p>Cohort <code>{escape(data['cohort'])}</code>: "
        f'<span id="applicants">{data["applicants"]}</span> applicants, '
        f'<span id="evaluated">{data["evaluated"]}</span> evaluated, '
        f'<span id="invalid">{data["invalid"]}</span> invalid. '
        f"Ruleset hash <code>{escape(ruleset['content_hash'])}</code>.</p>",
        "<h2>Outcomes</h2>",
        _bars(outcomes),
        _table(outcomes, "outcomes", "outcome"),
        "<h2>Deciding reasons</h2>",
        _bars(_ranked(data["reasons"])),
        _table(_ranked(data["reasons"]), "reasons", "reason code"),
        "<h2>Referral targets</h2>",
        _bars(_ranked(data["referrals"])),
        _table(_ranked(data["referrals"]), "referrals", "referral target"),
        "<h2>Rule coverage</h2>",
    ]
    never = data["never_fired"]
    out.append(
        '<p class="never" id="never-fired">Rules that never fired: '
        + (escape(", ".join(never)) if never else "(none)")
        + "</p>"
    )
    coverage_rows = "".join(
        f"<tr><td>{entry['kind']}</td><td>{escape(entry['rule'])}</td>"
        f'<td class="count" data-name="{escape(entry["rule"])}">{entry["fired"]}</td></tr>'
        for entry in data["rule_coverage"]
    )
    out.append(
        '<table id="coverage"><tr><th>kind</th><th>rule</th><th class="count">applied</th></tr>'
        f"{coverage_rows}</table>"
    )
    out.append("<h2>Domain scores</h2>")
    for domain in data["domains"]:
        out.append(f"<h3>{escape(domain['title'])} (<code>{escape(domain['name'])}</code>)</h3>")
        out.append(_histogram(domain["scores"]))
        bands = [*domain["bands"].items(), ("band unknown", domain["band_unknown"])]
        out.append(_table(bands, f"bands-{domain['name']}", "band"))
    out.append("<h2>Missing answers that deferred people (needs)</h2>")
    out.append(_bars(_ranked(data["needs"][:20])))
    out.append(_table(_ranked(data["needs"]), "needs", "answer"))
    if data["invalid_answers"]:
        out.append("<h2>Invalid applicants (by field and rule)</h2>")
        invalid = [(f"{e['path']} [{e['code']}]", e["count"]) for e in data["invalid_answers"]]
        out.append(_table(invalid, "invalid-answers", "field [rule]"))
    out.append("</body></html>")
    return "\n".join(out)
