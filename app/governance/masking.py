"""Personal identifiers and sensitive words in free text (issue 12, item 3).

Pure functions over compiled patterns: `screen` finds French phone numbers, e-mail
addresses, licence plates (SIV and the old FNI format), NIRs (key checked) and IBANs
(checked mod 97), replaces each with its French marker when the text is shared beyond the
national police, and names the sensitive words it contains (health, religion, origin, sex
life, political or union opinions), which are only reported, never masked.

Identifiers are searched one kind after the other, the most specific first (an IBAN or a
NIR holds digit groups a phone pattern could take); a marker holds no digit, so a later
pattern never matches inside an earlier one's marker. A candidate whose key does not check
is left as it is: a number that happens to have the shape is not a NIR.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """What a warning names: an identifier masked, or a sensitive word found."""

    phone = "phone"
    email = "email"
    licence_plate = "licence_plate"
    nir = "nir"
    iban = "iban"
    sensitive_health = "sensitive_health"
    sensitive_religion = "sensitive_religion"
    sensitive_origin = "sensitive_origin"
    sensitive_sex_life = "sensitive_sex_life"
    sensitive_politics = "sensitive_politics"
    sensitive_union = "sensitive_union"


# What replaces an identifier in a stored text. Not labels but the stored text's format, the
# one API.md promises readers (so here, beside the patterns, and not in `app.wording`).
MARKERS = {
    Kind.phone: "[téléphone masqué]",
    Kind.email: "[adresse électronique masquée]",
    Kind.licence_plate: "[immatriculation masquée]",
    Kind.nir: "[NIR masqué]",
    Kind.iban: "[IBAN masqué]",
}
IDENTIFIER_KINDS = frozenset(MARKERS)

# --- Identifiers ---------------------------------------------------------------------------

# Not glued to a letter, a digit or a dash on either side (a longer number, a reference).
_START = r"(?<![\w-])"
_END = r"(?![\w-])"


def _nir_checks(match: re.Match[str]) -> bool:
    """The key is 97 minus the 13 digits mod 97; Corsica's 2A and 2B count as 19 and 18."""
    digits = re.sub(r"[ .]", "", match.group(0)).upper()
    body = digits[:13].replace("2A", "19").replace("2B", "18")
    return 97 - int(body) % 97 == int(digits[13:])


def _iban_checks(match: re.Match[str]) -> bool:
    """ISO 13616: the first four characters moved to the end, letters as 10..35, mod 97 = 1."""
    compact = match.group(0).replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _not_an_hour(match: re.Match[str]) -> bool:
    """An old plate's letters, unless they are the "H" of "22H30"."""
    return match.group("letters") != "H"


@dataclass(frozen=True)
class _Pattern:
    kind: Kind
    regex: re.Pattern[str]
    # A cheap test that the pattern may match at all (most texts hold no '@', no digit).
    hint: Callable[[str], bool]
    checks: Callable[[re.Match[str]], bool] | None = None


def _has_digit(text: str) -> bool:
    return any(c.isdigit() for c in text)


# SIV letters leave out I, O and U; the plate is written in capitals, or in any case with dashes.
_SIV_LETTER = "[A-HJ-NP-TV-Z]"
_DEPARTMENT = r"(?:0[1-9]|1\d|[3-8]\d|9[0-5]|2[AB]|97[1-6])"


def _pairs_of_digits(separator: str) -> str:
    """Four pairs of digits, one separator (or none) between all of them: "12 34 56 78" or
    "12.34.56.78", not the "02.2026 12" of a date followed by an hour."""
    return rf"(?P<{separator}>[ .-]?)\d{{2}}(?:(?P={separator})\d{{2}}){{3}}"


PATTERNS: tuple[_Pattern, ...] = (
    _Pattern(
        Kind.iban,
        re.compile(_START + r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?" + _END),
        _has_digit,
        _iban_checks,
    ),
    _Pattern(
        Kind.nir,
        re.compile(
            _START
            + r"[1-478][ .]?\d{2}[ .]?\d{2}[ .]?(?:\d{2}|2[ABab])[ .]?\d{3}[ .]?\d{3}[ .]?\d{2}"
            + _END
        ),
        _has_digit,
        _nir_checks,
    ),
    _Pattern(
        Kind.email,
        re.compile(r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])"),
        lambda text: "@" in text,
    ),
    _Pattern(
        Kind.phone,
        re.compile(
            rf"(?<![\w+])(?:0[1-9]{_pairs_of_digits('national')}"
            rf"|(?:\+|00)33[ .-]?(?:\(0\)[ .-]?)?[1-9]{_pairs_of_digits('international')})(?!\w)"
        ),
        _has_digit,
    ),
    _Pattern(
        Kind.licence_plate,
        re.compile(
            _START
            + rf"(?:{_SIV_LETTER}{{2}} ?\d{{3}} ?{_SIV_LETTER}{{2}}"
            + rf"|(?i:{_SIV_LETTER}{{2}}-\d{{3}}-{_SIV_LETTER}{{2}}))"
            + _END
        ),
        _has_digit,
    ),
    _Pattern(
        Kind.licence_plate,
        re.compile(
            _START + r"\d{1,4}(?P<s>[ -]?)(?P<letters>[A-Z]{1,3})(?P=s)" + _DEPARTMENT + _END
        ),
        _has_digit,
        _not_an_hour,
    ),
)

# --- Sensitive words -----------------------------------------------------------------------

# Whole words, matched on the text without accents, in lower case. Words a GPO writes about
# places rather than people ("église", "syndic", "race" of a dog, "grève" of the buses) are
# left out: a warning nobody can act on teaches writers to ignore them all.
SENSITIVE_WORDS: dict[Kind, tuple[str, ...]] = {
    Kind.sensitive_health: (
        r"malades?",
        r"maladies?",
        r"handicap(?:e|ee|es|ees|s)?",
        r"hospitalise(?:e|s|es)?",
        r"hospitalisations?",
        r"psychiatri(?:e|que|ques)",
        r"psychiatres?",
        r"depression",
        r"depressi(?:f|fs|ve|ves)",
        r"seropositi(?:f|fs|ve|ves)",
        r"vih",
        r"sida",
        r"cancers?",
        r"diabet(?:e|ique|iques)",
        r"toxicomanes?",
        r"toxicomanie",
        r"alcooliques?",
        r"alcoolisme",
        r"schizophren(?:e|es|ie)",
        r"bipolaires?",
        r"autistes?",
        r"autisme",
        r"enceintes?",
        r"grossesses?",
        r"invalidite",
        r"epilep(?:sie|tique|tiques)",
        r"alzheimer",
        r"sante mentale",
        r"troubles? psychiques?",
    ),
    Kind.sensitive_religion: (
        r"musulman(?:e|s|es)?",
        r"jui(?:f|fs|ve|ves)",
        r"chretien(?:ne|s|nes)?",
        r"catholiques?",
        r"protestant(?:e|s|es)?",
        r"evangeliques?",
        r"islam",
        r"islamiques?",
        r"mosquees?",
        r"synagogues?",
        r"imams?",
        r"rabbins?",
        r"pretres?",
        r"ramadan",
        r"voilee?s?",
        r"kippa",
        r"bouddhistes?",
        r"hindou(?:e|s|es)?",
        r"athees?",
        r"salafistes?",
        r"pratiquant(?:e|s|es)?",
        r"temoins? de jehovah",
    ),
    Kind.sensitive_origin: (
        r"maghrebin(?:e|s|es)?",
        r"africain(?:e|s|es)?",
        r"arabes?",
        r"roms?",
        r"gitan(?:e|s|es)?",
        r"tsiganes?",
        r"manouches?",
        r"asiatiques?",
        r"sans[- ]papiers",
        r"ethnies?",
        r"ethniques?",
        r"d'origine",
        r"origine etrangere",
        r"algerien(?:ne|s|nes)?",
        r"marocain(?:e|s|es)?",
        r"tunisien(?:ne|s|nes)?",
        r"turc(?:s|que|ques)?",
        r"roumain(?:e|s|es)?",
        r"tchetchene(?:s)?",
        r"albanais(?:e|es)?",
        r"kosovar(?:e|s|es)?",
        r"syrien(?:ne|s|nes)?",
        r"afghan(?:e|s|es)?",
        r"senegalais(?:e|es)?",
        r"malien(?:ne|s|nes)?",
        r"comorien(?:ne|s|nes)?",
    ),
    Kind.sensitive_sex_life: (
        r"homosexuel(?:le|s|les)?",
        r"homosexualite",
        r"gays?",
        r"lesbiennes?",
        r"bisexuel(?:le|s|les)?",
        r"transgenres?",
        r"transsexuel(?:le|s|les)?",
        r"orientation sexuelle",
        r"vie sexuelle",
        r"prostitue(?:e|s|es)?",
        r"prostitution",
        r"libertin(?:e|s|es)?",
        r"echangistes?",
    ),
    Kind.sensitive_politics: (
        r"extreme droite",
        r"extreme gauche",
        r"communistes?",
        r"anarchistes?",
        r"antifas?",
        r"gilets? jaunes?",
        r"militant(?:e|s|es)? politiques?",
        r"opinions? politiques?",
        r"partis? politiques?",
        r"front national",
        r"rassemblement national",
        r"france insoumise",
        r"royalistes?",
        r"identitaires?",
        r"zadistes?",
    ),
    Kind.sensitive_union: (
        r"syndicats?",
        r"syndica(?:l|le|les|ux)",
        r"syndicalistes?",
        r"syndique(?:e|s|es)?",
        r"cgt",
        r"cfdt",
        r"force ouvriere",
        r"unsa",
        r"delegue(?:e|s|es)? syndica(?:l|le|les|ux)",
    ),
}


def _by_first_letter(fragments: Iterable[str]) -> str:
    """One alternation, its branches grouped by first letter: the engine tries a branch
    only where its letter is (the word list, tried whole at every word, cost 2 ms on
    10,000 characters; grouped, a fraction of it)."""
    groups: dict[str, list[str]] = {}
    for fragment in fragments:
        groups.setdefault(fragment[0], []).append(fragment[1:])
    return "|".join(f"{letter}(?:{'|'.join(rest)})" for letter, rest in sorted(groups.items()))


_ANY_SENSITIVE = re.compile(
    r"(?<!\w)(?:" + _by_first_letter(w for ws in SENSITIVE_WORDS.values() for w in ws) + r")\b"
)
# Which kind a word found is of (asked only for the few words found).
_KIND_OF = {kind: re.compile("|".join(words)) for kind, words in SENSITIVE_WORDS.items()}


def plain_letters(text: str) -> str:
    """The text in lower case without its accents ("Hospitalisée" -> "hospitalisee")."""
    lowered = text.casefold()
    if lowered.isascii():
        return lowered
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def sensitive_kinds(text: str) -> list[Kind]:
    """The kinds of sensitive words the text holds, in the order of the word list."""
    words = {match.group(0) for match in _ANY_SENSITIVE.finditer(plain_letters(text))}
    return [kind for kind, regex in _KIND_OF.items() if any(regex.fullmatch(w) for w in words)]


# --- Screening -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Screened:
    """A text as it is to be stored, and what was found in it (each kind once)."""

    text: str
    masked: tuple[Kind, ...]
    sensitive: tuple[Kind, ...]

    @property
    def kinds(self) -> tuple[Kind, ...]:
        return self.masked + self.sensitive


def identifiers(text: str) -> list[Kind]:
    """The kinds of identifiers the text holds (nothing is replaced)."""
    return list(_replace(text, mask=False)[1])


def _replace(text: str, *, mask: bool) -> tuple[str, tuple[Kind, ...]]:
    found: dict[Kind, None] = {}
    for pattern in PATTERNS:
        if not pattern.hint(text):
            continue

        def substitute(match: re.Match[str], pattern: _Pattern = pattern) -> str:
            if pattern.checks is not None and not pattern.checks(match):
                return match.group(0)
            found[pattern.kind] = None
            return MARKERS[pattern.kind] if mask else match.group(0)

        text = pattern.regex.sub(substitute, text)
    return text, tuple(found)


def screen(text: str, *, shared: bool) -> Screened:
    """The text to store: its identifiers replaced by markers when `shared` (readable
    beyond the national police), kept otherwise; its sensitive words reported either way."""
    sensitive = tuple(sensitive_kinds(text))
    if not shared:
        return Screened(text, (), sensitive)
    masked_text, masked = _replace(text, mask=True)
    return Screened(masked_text, masked, sensitive)
