"""The minutes (compte rendu), in French, as Markdown or as printable HTML.

Both renderings walk the same sections, so they always say the same thing; every piece of
recorded text is escaped for the format it lands in. Minutes showing police or restricted
problems begin with the "diffusion restreinte" notice, in both.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from dataclasses import dataclass

from app.meetings.service import Minutes
from app.wording import RESTRICTED_NOTICE, day, label, moment


def _of(reference: str | None) -> str:
    """The problem an action belongs to, unless the reader may not see it."""
    return f" ({reference})" if reference else ""


@dataclass
class Line:
    """One item: parts are (text, strong) pairs, joined as written."""

    parts: list[tuple[str, bool]]


@dataclass
class Section:
    title: str
    lines: list[Line]
    empty: str = "Néant."
    subtitle: str | None = None


def sections(m: Minutes) -> tuple[list[tuple[str, str]], list[Section]]:
    header = [
        ("Date", moment(m.scheduled_at)),
        ("Lieu", m.location or "non précisé"),
        ("Réunion", label(m.status)),
        (
            "Période couverte",
            f"depuis le {moment(m.since)}" if m.since else "depuis la création du GPO",
        ),
    ]
    sections = [
        Section("Présents", [Line([(name, False)]) for name in m.attendees], "Non renseigné."),
        Section(
            "Problèmes examinés",
            [
                Line([(ref, True), (f" — {title}" + (f" : {note}" if note else ""), False)])
                for ref, title, note in m.reviewed
            ],
        ),
        Section(
            "Problèmes ouverts depuis la réunion précédente",
            [
                Line([(ref, True), (f" — {title} ({label(status)})", False)])
                for ref, title, status in m.opened
            ],
        ),
        Section(
            "Problèmes clos depuis la réunion précédente",
            [
                Line(
                    [
                        (ref, True),
                        (
                            f" — {title} — résultat : {label(outcome) if outcome else '?'}"
                            + (f" ({note})" if note else ""),
                            False,
                        ),
                    ]
                )
                for ref, title, outcome, note in m.closed
            ],
        ),
        Section(
            "Actions décidées",
            [
                Line([(title, True), (f"{_of(ref)} — confiée à {who}, échéance {day(due)}", False)])
                for title, who, ref, due in m.decided
            ],
        ),
    ]
    for organisation, late in m.overdue_by_organisation.items():
        sections.append(
            Section(
                "Actions en retard",
                [
                    Line([(title, True), (f"{_of(ref)} — échéance {day(due)}", False)])
                    for title, ref, due in late
                ],
                subtitle=organisation,
            )
        )
    if not m.overdue_by_organisation:
        sections.append(Section("Actions en retard", []))
    if m.notes:
        sections.append(Section("Notes", [Line([(m.notes, False)])]))
    return header, sections


# Inline emphasis, links, HTML and headings; list items always start with "- " themselves.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def _md(text: str) -> str:
    # One line per item: line breaks become spaces; spaces around the parts are kept.
    return _MARKDOWN_SPECIAL.sub(r"\\\1", re.sub(r"\s+", " ", text))


def markdown(m: Minutes) -> str:
    header, parts = sections(m)
    out = [f"**{_md(RESTRICTED_NOTICE)}**", ""] if m.classified else []
    out += [f"# Compte rendu — {_md(m.gpo_name)}", ""]
    out += [f"**{label} :** {_md(value)}  " for label, value in header]
    previous_title = None
    for section in parts:
        if section.title != previous_title:
            out += ["", f"## {section.title}", ""]
            previous_title = section.title
        if section.subtitle:
            out += [f"### {_md(section.subtitle)}", ""]
        if not section.lines:
            out.append(section.empty)
        for line in section.lines:
            text = "".join(f"**{_md(t)}**" if strong else _md(t) for t, strong in line.parts)
            out.append(f"- {text}")
    return "\n".join(out) + "\n"


_CSS = """
body { font-family: "Marianne", Arial, sans-serif; max-width: 50em; margin: 2em auto;
       color: #161616; line-height: 1.45; }
h1 { font-size: 1.6em; border-bottom: 2px solid #000091; padding-bottom: .3em; }
h2 { font-size: 1.2em; color: #000091; margin-top: 1.6em; }
h3 { font-size: 1em; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; }
dt { font-weight: bold; }
.classification { font-weight: bold; border: 2px solid #ce0500; color: #ce0500; padding: .5em; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } }
"""


def style_digest() -> str:
    """The CSP source that allows the printable page's own stylesheet."""
    digest = base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
    return f"sha256-{digest}"


def html_page(m: Minutes) -> str:
    esc = html.escape
    header, parts = sections(m)
    out = [
        "<!DOCTYPE html>",
        '<html lang="fr"><head><meta charset="utf-8">',
        f"<title>Compte rendu — {esc(m.gpo_name)}</title>",
        f"<style>{_CSS}</style></head><body>",
    ]
    if m.classified:
        out.append(f'<p class="classification">{esc(RESTRICTED_NOTICE)}</p>')
    out += [
        f"<h1>Compte rendu — {esc(m.gpo_name)}</h1>",
        "<dl>",
    ]
    out += [f"<dt>{esc(label)}</dt><dd>{esc(value)}</dd>" for label, value in header]
    out.append("</dl>")
    previous_title = None
    for section in parts:
        if section.title != previous_title:
            out.append(f"<h2>{esc(section.title)}</h2>")
            previous_title = section.title
        if section.subtitle:
            out.append(f"<h3>{esc(section.subtitle)}</h3>")
        if not section.lines:
            out.append(f"<p>{esc(section.empty)}</p>")
            continue
        out.append("<ul>")
        for line in section.lines:
            text = "".join(
                f"<strong>{esc(t)}</strong>" if strong else esc(t) for t, strong in line.parts
            )
            out.append(f"<li>{text}</li>")
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
