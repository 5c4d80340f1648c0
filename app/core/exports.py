"""Tables as files for spreadsheets, written once for the API and the console: CSV in the
form French Excel opens, CSV for machines, and xlsx.

- `FRENCH` (the default CSV): UTF-8 with a byte order mark (without it Excel reads the file
  as Windows-1252 and breaks the accents), `;` between cells (French Excel's list separator:
  a comma-separated file opens as one column) and a decimal comma (`15,5`, what French Excel
  reads as a number once `;` separates the cells).
- `PLAIN` (for machines): `,` between cells, a decimal point, no byte order mark (a parser
  that does not expect one would read it into the first column's name).
- Both end lines with CRLF and quote as RFC 4180 says.
- Text that a spreadsheet would evaluate (it begins with `=`, `+`, `-`, `@`, a tab or a
  carriage return: OWASP's list for CSV injection) is made inert by a leading apostrophe,
  in both CSV forms: the names of GPOs and organisations are typed by people. Only text is
  touched: numbers, negative ones included, stay numbers. In xlsx, text is stored as a
  string cell (never a formula), exactly as typed, with Excel's quote prefix when it looks
  like a formula so that editing the cell keeps it text.
- A file holding police or restricted content (`app.core.visibility.classified`) says so in
  the header `X-Classification: diffusion-restreinte`, never in its body: the first line of
  a CSV stays its header row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from starlette.responses import Response

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell as SheetCell

JSON = "application/json"
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8; header=present"
EXTENSIONS = {CSV: "csv", XLSX: "xlsx"}
CLASSIFICATION_HEADER = "X-Classification"
RESTRICTED_DISTRIBUTION = "diffusion-restreinte"

Cell = str | int | float | None
Row = Mapping[str, Cell]
Delimiter = Literal[";", ","]

# OWASP's CSV injection list: what makes Excel, LibreOffice or Google Sheets start a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(text: str) -> bool:
    return text.startswith(FORMULA_START)


def inert(text: str) -> str:
    """`text`, with an apostrophe before it if a spreadsheet would evaluate it."""
    return "'" + text if looks_like_formula(text) else text


@dataclass(frozen=True)
class CsvForm:
    delimiter: Delimiter
    decimal: str
    bom: bool

    def cell(self, value: Cell) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            return inert(value)
        if isinstance(value, float):
            return repr(value).replace(".", self.decimal)
        return str(value)


FRENCH = CsvForm(delimiter=";", decimal=",", bom=True)
PLAIN = CsvForm(delimiter=",", decimal=".", bom=False)
CSV_FORMS: dict[Delimiter, CsvForm] = {";": FRENCH, ",": PLAIN}


def in_order(columns: Sequence[str], row: Row) -> list[Cell]:
    """The row's cells in the order of `columns`, None where it has none; a cell outside
    the columns is a bug of the caller, not something to drop."""
    if unknown := set(row) - set(columns):
        raise ValueError(f"cells outside the columns: {sorted(unknown)}")
    return [row.get(column) for column in columns]


def csv_file(columns: Sequence[str], rows: Sequence[Row], form: CsvForm = FRENCH) -> bytes:
    """A header row of `columns`, then each row's cells in that order (a missing cell
    is empty)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=form.delimiter, lineterminator="\r\n")
    writer.writerow([form.cell(column) for column in columns])
    for row in rows:
        writer.writerow([form.cell(value) for value in in_order(columns, row)])
    return ("\ufeff" if form.bom else "").encode() + buffer.getvalue().encode()


def xlsx_file(columns: Sequence[str], rows: Sequence[Row], sheet_title: str) -> bytes:
    """One sheet: a header row of `columns` (frozen), then the rows; numbers as numbers,
    text as string cells whatever it begins with."""
    # Imported when a spreadsheet is asked for: openpyxl is 13 MiB of every worker's memory.
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title[:31])  # Excel's limit for a sheet's name
    sheet.freeze_panes = "A2"

    def cell(value: Cell) -> SheetCell:
        if not isinstance(value, str):
            return WriteOnlyCell(sheet, value=value)
        # openpyxl refuses the C0 controls XML cannot hold; the input never lets them in.
        written = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
        written.data_type = "s"  # openpyxl would store "=..." as a formula
        if looks_like_formula(value):
            written.quotePrefix = True
        return written

    sheet.append([cell(column) for column in columns])
    for row in rows:
        sheet.append([cell(value) for value in in_order(columns, row)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def classification_headers(classified: bool) -> dict[str, str]:
    """The marking of a response whose content holds police or restricted material."""
    return {CLASSIFICATION_HEADER: RESTRICTED_DISTRIBUTION} if classified else {}


def table_file(
    media_type: str,
    columns: Sequence[str],
    rows: Sequence[Row],
    *,
    name: str,
    sheet_title: str,
    delimiter: Delimiter = ";",
    classified: bool = False,
) -> Response:
    """The table as a download (`name` plus the format's extension), in CSV of the form
    `delimiter` chooses, or in xlsx, marked `X-Classification` when `classified`. Never kept
    by a cache: tables hold what the person may see."""
    if media_type == XLSX:
        content, content_type = xlsx_file(columns, rows, sheet_title), XLSX
    else:
        content, content_type = csv_file(columns, rows, CSV_FORMS[delimiter]), CSV_CONTENT_TYPE
    return Response(
        content,
        headers={
            "Content-Type": content_type,
            "Content-Disposition": f'attachment; filename="{name}.{EXTENSIONS[media_type]}"',
            "Cache-Control": "no-store",
            **classification_headers(classified),
        },
    )


def negotiate(accept: str | None, offers: Sequence[str]) -> str:
    """The offer the `Accept` header prefers: the one of highest `q`, each offer weighed by
    the most specific range that matches it (`text/csv` before `text/*` before `*/*`), ties
    going to the earlier offer. The first offer without `Accept`, or when nothing offered is
    acceptable: the API answers JSON rather than 406, as all of its routes do."""
    ranges: list[tuple[str, str, float]] = []
    for part in (accept or "").split(","):
        media, *parameters = (piece.strip() for piece in part.split(";"))
        kind, _, subtype = media.lower().partition("/")
        if not kind or not subtype:
            continue
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
                if not 0 <= quality <= 1:  # nan, inf and the like: not a weight
                    quality = 0.0
        ranges.append((kind, subtype, quality))

    def weight(offer: str) -> float:
        kind, _, subtype = offer.partition("/")
        matches = [
            (2 if (k, s) == (kind, subtype) else 1 if k == kind and s == "*" else 0, quality)
            for k, s, quality in ranges
            if (k, s) in ((kind, subtype), (kind, "*"), ("*", "*"))
        ]
        return max(matches)[1] if matches else 0.0

    weights = [weight(offer) for offer in offers]
    best = max(weights, default=0.0)
    return offers[weights.index(best)] if best > 0 else offers[0]
