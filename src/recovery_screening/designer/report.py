"""A simulation or a diff as one self-contained HTML page: inline SVG bars, histograms against
band thresholds, a transition matrix and equity charts; no script, no stylesheet or font from the
network, so it opens anywhere (and offline)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from recovery_screening.designer.diff import RulesetDiff, short_value
from recovery_screening.designer.equity import ADMIT, BELOW, TOO_SMALL
from recovery_screening.designer.simulate import Simulation
from recovery_screening.outcomes import OUTCOMES

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse}td,th{padding:.15rem .6rem;text-align:left}
td.count,th.count{text-align:right;font-variant-numeric:tabular-nums}
.never{color:#a00;font-weight:bold}svg text{font-size:12px;fill:#222}
td.rules{font-size:.8rem;max-width:20rem}th{vertical-align:bottom}
td{overflow-wrap:anywhere}summary{cursor:pointer}
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


_BAND_TINTS = ("#e3f2fd", "#fff3e0", "#e8f5e9", "#fce4ec", "#ede7f6", "#e0f7fa")
_BAND_FILLS = ("#1565c0", "#ef6c00", "#2e7d32", "#ad1457", "#4527a0", "#00838f")
_MAX_COLUMNS = 120


def _band_histogram(domain: dict[str, Any]) -> str:
    """The domain's score distribution over its whole score range, each band a tinted span with
    its name, bars in the band's colour and a dashed line at each band threshold."""
    scores = {int(score): count for score, count in domain["scores"].items()}
    bands = domain["band_ranges"]
    low, high = int(domain["score_range"][0]), int(domain["score_range"][1])
    if scores:
        low, high = min(low, *scores), max(high, *scores)
    width_in_scores = high - low + 1
    per_column = -(-width_in_scores // _MAX_COLUMNS)  # scores per column, rounding up
    columns = -(-width_in_scores // per_column)
    step = max(4, min(40, 640 // columns))
    left, top, base = 10, 34, 150

    def x(score: float) -> float:
        return left + (score - low) / per_column * step

    binned: dict[int, int] = {}
    for score, count in scores.items():
        start = low + (score - low) // per_column * per_column
        binned[start] = binned.get(start, 0) + count
    largest = max(binned.values(), default=0) or 1
    parts = [
        f'<svg class="chart histogram" data-domain="{escape(domain["name"])}" role="img" '
        f'width="{round(x(high + 1)) + 20}" height="{base + 22}" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    for index, band in enumerate(bands):
        band_left, band_right = x(max(band["minimum"], low)), x(min(band["maximum"], high) + 1)
        if band_right <= band_left:
            continue
        parts.append(
            f'<rect class="band" data-band="{escape(band["name"])}" x="{band_left:.1f}" y="4" '
            f'width="{band_right - band_left:.1f}" height="{base - 4}" '
            f'fill="{_BAND_TINTS[index % len(_BAND_TINTS)]}"/>'
            f'<text x="{band_left + 2:.1f}" y="16">{escape(band["name"])}</text>'
        )
        if index:
            parts.append(
                f'<line class="threshold" data-score="{band["minimum"]}" x1="{band_left:.1f}" '
                f'y1="4" x2="{band_left:.1f}" y2="{base}" stroke="#333" stroke-dasharray="4 3"/>'
                f'<text x="{band_left + 2:.1f}" y="30">&#8805; {band["minimum"]}</text>'
            )
    for start, count in sorted(binned.items()):
        band_index = _band_index(bands, start)
        fill = _BAND_FILLS[band_index % len(_BAND_FILLS)] if band_index is not None else _BAR
        bar = round((base - top - 14) * count / largest)
        parts.append(
            f'<rect class="bar" data-score="{start}" data-count="{count}" x="{x(start):.1f}" '
            f'y="{base - bar}" width="{max(step - 2, 2)}" height="{bar}" fill="{fill}"/>'
        )
        if step >= 20:
            parts.append(f'<text x="{x(start):.1f}" y="{base - bar - 3}">{count}</text>')
    tick = max(1, 28 // step) * per_column
    for score in range(low, high + 1, tick):
        parts.append(f'<text x="{x(score):.1f}" y="{base + 16}">{score}</text>')
    parts.append("</svg>")
    if not scores:
        parts.append("<p>(no decided scores)</p>")
    return "".join(parts)


def _band_index(bands: Sequence[dict[str, Any]], score: int) -> int | None:
    for index, band in enumerate(bands):
        if band["minimum"] <= score <= band["maximum"]:
            return index
    return None


_NEEDS_SHOWN = 20
_NEED_ALONE = "#6a1b9a"
_NEED_WITH_OTHERS = "#ce93d8"


def _needs_chart(needs: Sequence[dict[str, Any]]) -> str:
    """The missing answers most often needed, with the question's label; the dark part of each
    bar counts deferred applicants for whom that answer was the only one missing."""
    if not needs:
        return "<p>(none)</p>"
    shown = needs[:_NEEDS_SHOWN]
    largest = max(entry["count"] for entry in shown) or 1
    height = 20 * len(shown) + 24
    parts = [
        f'<svg class="chart needs" role="img" width="900" height="{height}" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    for index, entry in enumerate(shown):
        y = 20 * index + 2
        width = round(300 * entry["count"] / largest)
        alone = round(300 * entry["alone"] / largest)
        label = entry["name"] + (f" - {entry['label']}" if entry.get("label") else "")
        if len(label) > 70:
            label = label[:67] + "..."
        parts.append(
            f'<text x="0" y="{y + 13}">{escape(label)}</text>'
            f'<rect class="need" data-name="{escape(entry["name"])}" '
            f'data-count="{entry["count"]}" data-alone="{entry["alone"]}" x="520" y="{y}" '
            f'width="{width}" height="16" fill="{_NEED_WITH_OTHERS}"/>'
            f'<rect x="520" y="{y}" width="{alone}" height="16" fill="{_NEED_ALONE}"/>'
            f'<text x="{526 + width}" y="{y + 13}">{entry["count"]} ({entry["alone"]} alone)'
            "</text>"
        )
    legend = 20 * len(shown) + 18
    parts.append(
        f'<rect x="0" y="{legend - 10}" width="12" height="12" fill="{_NEED_ALONE}"/>'
        f'<text x="16" y="{legend}">deferred with only this answer missing</text>'
        f'<rect x="300" y="{legend - 10}" width="12" height="12" fill="{_NEED_WITH_OTHERS}"/>'
        f'<text x="316" y="{legend}">needed along with other answers</text>'
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
        out.append(_band_histogram(domain))
        bands = [*domain["bands"].items(), ("band unknown", domain["band_unknown"])]
        out.append(_table(bands, f"bands-{domain['name']}", "band"))
    out.append("<h2>Missing answers that held people back (needs)</h2>")
    out.append(_needs_chart(data["needs"]))
    out.append(_table(_ranked(data["needs"]), "needs", "answer"))
    if data["invalid_answers"]:
        out.append("<h2>Invalid applicants (by field and rule)</h2>")
        invalid = [(f"{e['path']} [{e['code']}]", e["count"]) for e in data["invalid_answers"]]
        out.append(_table(invalid, "invalid-answers", "field [rule]"))
    if "equity" in data:
        out.append(_equity_section(data["equity"]))
    out.append("</body></html>")
    return "\n".join(out)


def _page_head(title: str) -> list[str]:
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
    ]


# --- equity --------------------------------------------------------------------------------

_FLAGGED = "#c62828"
_SMALL = "#9e9e9e"
_OLD = "#90a4ae"
_SCALE = 400
_LABEL_WIDTH = 170


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _rate_bar(row: dict[str, Any], y: int, fill: str, css: str, height: int = 14) -> str:
    """One admit rate as a bar with its 95% interval as a whisker."""
    admit = row["outcomes"][ADMIT]
    left = _LABEL_WIDTH
    low, high = left + _SCALE * admit["low"], left + _SCALE * admit["high"]
    middle = y + height / 2
    return (
        f'<rect class="{css}" data-count="{admit["count"]}" data-rate="{admit["rate"]}" '
        f'x="{left}" y="{y}" width="{_SCALE * admit["rate"]:.1f}" height="{height}" '
        f'fill="{fill}"/>'
        f'<line x1="{low:.1f}" y1="{middle}" x2="{high:.1f}" y2="{middle}" stroke="#000"/>'
        f'<line x1="{low:.1f}" y1="{y + 2}" x2="{low:.1f}" y2="{y + height - 2}" stroke="#000"/>'
        f'<line x1="{high:.1f}" y1="{y + 2}" x2="{high:.1f}" y2="{y + height - 2}" '
        'stroke="#000"/>'
    )


def _fill(row: dict[str, Any]) -> str:
    if row["judgement"] == BELOW:
        return _FLAGGED
    return _SMALL if row["judgement"] == TOO_SMALL else _COLOURS["admit"]


def _threshold_line(rate: float, height: int, css: str, colour: str, text: str) -> str:
    x = _LABEL_WIDTH + _SCALE * rate
    return (
        f'<line class="{css}" data-rate="{rate:.4f}" x1="{x:.1f}" y1="0" x2="{x:.1f}" '
        f'y2="{height}" stroke="{colour}" stroke-dasharray="5 3"/>'
        f'<text x="{x + 3:.1f}" y="{height + 12}">{escape(text)}</text>'
    )


def _reference_rate(report: dict[str, Any], reference: str | None, side: str | None) -> float:
    for row in report["groups"]:
        if row["group"] == reference:
            entry = row if side is None else row[side]
            return float(entry["outcomes"][ADMIT]["rate"])
    return 0.0


def _equity_chart(report: dict[str, Any]) -> str:
    """Admit rate per group with its interval; red under four-fifths of the reference group's
    rate (the dashed line), grey when the group is too small to judge."""
    rows = report["groups"]
    height = 22 * len(rows) + 6
    parts = [
        f'<svg class="chart equity" data-field="{escape(report["field"])}" role="img" '
        f'width="900" height="{height + 34}" xmlns="http://www.w3.org/2000/svg">',
        _axis(height + 20),
    ]
    for index, row in enumerate(rows):
        y = 22 * index + 4
        admit = row["outcomes"][ADMIT]
        flag = " FLAGGED" if row["flagged"] else ""
        parts.append(
            f'<g data-group="{escape(row["group"])}" data-flagged="{str(row["flagged"]).lower()}">'
            f'<text x="0" y="{y + 12}">{escape(row["group"])}</text>'
            + _rate_bar(row, y, _fill(row), "admit-rate")
            + f'<text x="{_LABEL_WIDTH + _SCALE + 8}" y="{y + 12}">{_percent(admit["rate"])} '
            f"of {row['count']}{flag}</text></g>"
        )
    reference = report["reference"]
    if reference is not None:
        rate = _reference_rate(report, reference, None) * report["four_fifths"]
        parts.append(_threshold_line(rate, height, "four-fifths", "#000", f"4/5 of {reference}"))
    parts.append("</svg>")
    return "".join(parts)


def _equity_table(report: dict[str, Any]) -> str:
    head = "".join(f'<th class="count">{name} (95% CI)</th>' for name in OUTCOMES)
    body = []
    for row in report["groups"]:
        cells = "".join(
            f'<td class="count">{_percent(rate["rate"])} '
            f"({_percent(rate['low'])}-{_percent(rate['high'])})</td>"
            for rate in (row["outcomes"][name] for name in OUTCOMES)
        )
        ratio = f"{row['admit_ratio']:.2f}" if row["admit_ratio"] is not None else "-"
        rules = "<br>".join(
            f"{escape(r['rule'])} {r['decided']} ({100 * r['excess']:+.1f} pts)"
            for r in _rules_shown(row, report["reference"])
        )
        body.append(
            f'<tr><td>{escape(row["group"])}</td><td class="count" '
            f'data-name="{escape(row["group"])}">{row["count"]}</td>{cells}'
            f'<td class="count">{ratio}</td><td>{escape(row["judgement"])}</td>'
            f'<td class="rules">{rules}</td></tr>'
        )
    return (
        f'<table id="equity-{escape(report["field"])}"><tr><th>group</th>'
        f'<th class="count">applicants</th>{head}<th class="count">admit ratio</th>'
        f"<th>judgement</th><th>rules behind the non-admits (excess over the reference)</th>"
        f"</tr>{''.join(body)}</table>"
    )


def _rules_shown(row: dict[str, Any], reference: str | None) -> list[dict[str, Any]]:
    """The rules behind most of a group's shortfall: those with the largest excess over the
    reference group (for the reference group itself, those that decided most non-admits)."""
    if row["group"] == reference:
        return sorted(row["rules"], key=lambda r: (-r["decided"], r["rule"]))[:3]
    return [r for r in row["rules"] if r["excess"] > 0][:3]


def _equity_intro(min_group_size: int) -> str:
    return (
        "<p>Admit rate per group with its 95% Wilson interval. A group is flagged (red) when its "
        "admit rate is under four-fifths of the most-admitted group's (the dashed line) and its "
        "interval lies below that group's; grey groups are too small to judge (under "
        f"{min_group_size} applicants, or a shortfall the intervals cannot tell from chance). "
        "The rules listed decided the group's non-admits, with the excess over the reference "
        "group in percentage points of the group.</p>"
    )


def _axis(y: int) -> str:
    """Tick labels under a rate chart: 0%, 25%, ..., 100%."""
    return "".join(
        f'<line x1="{_LABEL_WIDTH + _SCALE * q / 4:.0f}" y1="{y - 4}" '
        f'x2="{_LABEL_WIDTH + _SCALE * q / 4:.0f}" y2="{y}" stroke="#999"/>'
        f'<text x="{_LABEL_WIDTH + _SCALE * q / 4 - 10:.0f}" y="{y + 12}">{25 * q}%</text>'
        for q in range(5)
    )


def _equity_section(reports: Sequence[dict[str, Any]]) -> str:
    if not reports:
        return ""
    out = [
        "<h2>Equity: who the ruleset holds back</h2>",
        _equity_intro(reports[0]["min_group_size"]),
    ]
    for report in reports:
        reference = report["reference"]
        out.append(
            f"<h3>By <code>{escape(report['field'])}</code> ({escape(report['source'])}); "
            f"reference group: {escape(reference) if reference is not None else 'none'}</h3>"
        )
        out.append(_equity_chart(report))
        out.append(_equity_table(report))
    return "\n".join(out)


def _equity_diff_chart(report: dict[str, Any]) -> str:
    """Per group, the old version's admit rate (grey) above the new version's, each with its
    interval; dashed lines at four-fifths of each version's reference group."""
    rows = report["groups"]
    height = 36 * len(rows) + 6
    parts = [
        f'<svg class="chart equity-diff" data-field="{escape(report["field"])}" role="img" '
        f'width="900" height="{height + 48}" xmlns="http://www.w3.org/2000/svg">',
        _axis(height + 34),
    ]
    for index, row in enumerate(rows):
        y = 36 * index + 4
        old, new = row["old"], row["new"]
        flag = " FLAGGED" if new["flagged"] else ""
        parts.append(
            f'<g data-group="{escape(row["group"])}" '
            f'data-flagged="{str(new["flagged"]).lower()}">'
            f'<text x="0" y="{y + 20}">{escape(row["group"])}</text>'
            + _rate_bar(old, y, _OLD, "admit-rate-old", 13)
            + _rate_bar(new, y + 15, _fill(new), "admit-rate-new", 13)
            + f'<text x="{_LABEL_WIDTH + _SCALE + 8}" y="{y + 20}">'
            f"{_percent(old['outcomes'][ADMIT]['rate'])} &#8594; "
            f"{_percent(new['outcomes'][ADMIT]['rate'])} of {row['count']}{flag}</text></g>"
        )
    for side, colour, offset in (("old", _OLD, 0), ("new", "#000", 14)):
        reference = report["reference"][side]
        if reference is not None:
            rate = _reference_rate(report, reference, side) * report["four_fifths"]
            parts.append(
                _threshold_line(
                    rate,
                    height + offset,
                    f"four-fifths-{side}",
                    colour,
                    f"4/5 of {reference} ({side})",
                )
            )
    parts.append("</svg>")
    return "".join(parts)


def _equity_diff_section(reports: Sequence[dict[str, Any]]) -> str:
    if not reports:
        return ""
    out = [
        "<h2>Equity: whom the change helps or holds back</h2>",
        _equity_intro(reports[0]["min_group_size"]),
        "<p>For each group the upper bar is the old version, the lower bar the new.</p>",
    ]
    for report in reports:
        reference = report["reference"]
        out.append(
            f"<h3>By <code>{escape(report['field'])}</code> ({escape(report['source'])}); "
            f"reference group: old {escape(str(reference['old']))}, "
            f"new {escape(str(reference['new']))}</h3>"
        )
        out.append(_equity_diff_chart(report))
        for side in ("old", "new"):
            side_report = {**report, "reference": reference[side],
                           "field": f"{report['field']}-{side}",
                           "groups": [{"group": row["group"], "count": row["count"], **row[side]}
                                      for row in report["groups"]]}  # fmt: skip
            out.append(f"<h4>{side} version</h4>")
            out.append(_equity_table(side_report))
    return "\n".join(out)


# --- diff ----------------------------------------------------------------------------------


def _anchor(before: str, after: str) -> str:
    return f"moved-{before}-{after}"


def _transition_matrix(behaviour: dict[str, Any]) -> str:
    """From-outcome rows by to-outcome columns, shaded by count; each cell links to the rules
    that moved those applicants."""
    matrix = behaviour["transitions"]
    largest = max((matrix[a][b] for a in OUTCOMES for b in OUTCOMES), default=0) or 1
    cell_w, cell_h, left, top = 110, 44, 110, 40
    size_w = left + cell_w * len(OUTCOMES) + 10
    size_h = top + cell_h * len(OUTCOMES) + 10
    parts = [
        f'<svg class="chart transitions" role="img" width="{size_w}" height="{size_h}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<text x="{left}" y="14">new outcome &#8594;</text>',
        f'<text x="0" y="{top - 8}">old outcome &#8595;</text>',
    ]
    for column, after in enumerate(OUTCOMES):
        parts.append(f'<text x="{left + cell_w * column + 8}" y="{top - 8}">{after}</text>')
    for row_index, before in enumerate(OUTCOMES):
        y = top + cell_h * row_index
        parts.append(f'<text x="0" y="{y + 27}">{before}</text>')
        for column, after in enumerate(OUTCOMES):
            count = matrix[before][after]
            x = left + cell_w * column
            shade = 0.08 + 0.92 * (count / largest) ** 0.5 if count else 0.0
            colour = "#fff" if shade > 0.55 else "#222"
            cell = (
                f'<rect class="cell" data-from="{before}" data-to="{after}" '
                f'data-count="{count}" x="{x}" y="{y}" width="{cell_w - 4}" '
                f'height="{cell_h - 4}" fill="#1565c0" fill-opacity="{shade:.3f}" '
                'stroke="#999"/>'
                f'<text x="{x + 10}" y="{y + 26}" style="fill:{colour}">{count}</text>'
            )
            parts.append(f'<a href="#{_anchor(before, after)}">{cell}</a>' if count else cell)
    parts.append("</svg>")
    return "".join(parts)


def _moved_sections(behaviour: dict[str, Any]) -> list[str]:
    """One section per transition: the pairs of deciding rules (old -> new) behind it."""
    out = []
    for before in OUTCOMES:
        for after in OUTCOMES:
            count = behaviour["transitions"][before][after]
            if not count:
                continue
            causes = [
                c for c in behaviour["transition_causes"]
                if c["from"] == before and c["to"] == after
            ]  # fmt: skip
            moved = sum(c["count"] for c in causes)
            out.append(
                f'<h3 id="{_anchor(before, after)}">{before} &#8594; {after}: {count} '
                f"applicant{'s' if count != 1 else ''}</h3>"
            )
            if before == after:
                out.append(
                    f"<p>{count - moved} kept the same deciding rules; {moved} were decided "
                    "by other rules.</p>"
                )
            if causes:
                rows = "".join(
                    f"<tr><td>{escape(c['old'])}</td><td>{escape(c['new'])}</td>"
                    f'<td class="count">{c["count"]}</td></tr>'
                    for c in causes
                )
                out.append(
                    f'<table id="causes-{before}-{after}"><tr><th>deciding rules, old</th>'
                    f'<th>deciding rules, new</th><th class="count">applicants</th></tr>'
                    f"{rows}</table>"
                )
    return out


_OPEN_CHANGES = 12


def _structural(changes: Sequence[dict[str, Any]]) -> list[str]:
    """The structural changes as a table, each value shortened; folded away when there are many
    (a `<details>` element: no script)."""
    if not changes:
        return ["<h2>Structural changes</h2>", "<p>(none)</p>"]
    rows = "".join(
        f"<tr><td>{escape(c['section'])}</td><td>{escape(c['id'])}</td>"
        f"<td>{escape(c['change'])}</td><td>"
        + "<br>".join(
            f"{escape(name)}: {escape(short_value(pair['old']))} &#8594; "
            f"{escape(short_value(pair['new']))}"
            for name, pair in c["fields"].items()
        )
        + "</td></tr>"
        for c in changes
    )
    table = (
        '<table id="structural"><tr><th>section</th><th>id</th><th>change</th>'
        f"<th>fields (old &#8594; new)</th></tr>{rows}</table>"
    )
    opened = " open" if len(changes) <= _OPEN_CHANGES else ""
    return [
        "<h2>Structural changes</h2>",
        f"<details{opened}><summary>{len(changes)} change{'s' if len(changes) != 1 else ''}"
        f"</summary>{table}</details>",
    ]


def diff_html_report(diff: RulesetDiff) -> str:
    """The diff as one page: the transition matrix with the rules behind each cell, band
    changes, (when grouped) the equity of both versions, then the structural changes."""
    data = diff.to_dict()
    old, new = data["old"], data["new"]
    title = f"Diff of {old['id']} {old['version']} and {new['id']} {new['version']}"
    out = _page_head(title)
    out.append(
        f"<p>Old hash <code>{escape(old['content_hash'])}</code>, new hash "
        f"<code>{escape(new['content_hash'])}</code>.</p>"
    )
    behaviour = data.get("behaviour")
    if behaviour is not None:
        out.append(
            f"<h2>Behaviour on <code>{escape(behaviour['cohort'])}</code></h2>"
            f'<p><span id="compared">{behaviour["compared"]}</span> of '
            f'<span id="applicants">{behaviour["applicants"]}</span> applicants compared, '
            f'<span id="changed">{behaviour["changed_count"]}</span> changed (outcome or '
            "deciding rules). Each cell of the matrix links to the rules that moved those "
            "applicants.</p>"
        )
        out.append(_transition_matrix(behaviour))
        out.extend(_moved_sections(behaviour))
        if behaviour["band_changes"]:
            out.append("<h2>Domain band changes</h2>")
            bands = [
                (f"{b['domain']}: {b['old']} -> {b['new']}", b["count"])
                for b in behaviour["band_changes"]
            ]
            out.append(_table(bands, "band-changes", "domain: old band -> new band"))
        if "equity" in behaviour:
            out.append(_equity_diff_section(behaviour["equity"]))
    out.extend(_structural(data["structural"]))
    out.append("</body></html>")
    return "\n".join(out)
