"""The service's French, written once: labels of every coded value, dates and numbers in
French formats, and the summaries of audit events (each problem's timeline reads them), so
that the timeline, the minutes and the console say the same thing the same way.

Names in code and in the API stay English; this is the only place where they are French.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

from app.actions.models import ActionStatus
from app.core.clock import PARIS
from app.core.outbox import EventType
from app.core.visibility import Visibility
from app.gpos.models import GpoKind
from app.identity.models import Role
from app.indicators.models import Direction
from app.meetings.models import MeetingStatus
from app.problems.models import Displacement, Outcome, Priority, ProblemStatus
from app.reference.models import CategoryFamily, OrganisationKind
from app.reports.models import ReportSource, ReportStatus
from app.reports.schemas import Decision
from app.webhooks.models import DeliveryStatus

# --- Labels of coded values ------------------------------------------------------------------

LABELS: dict[Enum, str] = {
    ProblemStatus.new: "nouveau",
    ProblemStatus.open: "ouvert",
    ProblemStatus.monitoring: "en suivi",
    ProblemStatus.closed: "clos",
    Outcome.eliminated: "éliminé",
    Outcome.reduced: "réduit en nombre",
    Outcome.harm_reduced: "gravité réduite",
    Outcome.better_handled: "mieux pris en charge",
    Outcome.responsibility_shifted: "confié à l'organisme compétent",
    Outcome.no_improvement: "sans amélioration",
    Outcome.duplicate: "doublon",
    Outcome.not_in_scope: "hors du champ du GPO",
    Displacement.unknown: "non évalué",
    Displacement.none: "aucun déplacement",
    Displacement.displacement: "déplacement constaté",
    Displacement.diffusion: "diffusion des bénéfices",
    Priority.low: "basse",
    Priority.normal: "normale",
    Priority.high: "haute",
    Priority.urgent: "urgente",
    Visibility.partners: "partenaires du GPO",
    Visibility.police: "polices nationale et municipale",
    Visibility.restricted: "restreinte (police nationale)",
    ActionStatus.planned: "prévue",
    ActionStatus.in_progress: "en cours",
    ActionStatus.done: "réalisée",
    ActionStatus.cancelled: "annulée",
    MeetingStatus.planned: "prévue",
    MeetingStatus.held: "tenue",
    MeetingStatus.cancelled: "annulée",
    ReportStatus.received: "reçu",
    ReportStatus.accepted: "accepté",
    ReportStatus.rejected: "rejeté",
    ReportSource.api: "API",
    ReportSource.open311: "Open311",
    Direction.decrease: "à la baisse",
    Direction.increase: "à la hausse",
    GpoKind.general: "GPO territorial",
    GpoKind.transport: "GPO transports",
    Role.admin: "administrateur",
    Role.facilitator: "animateur",
    Role.commander: "commandement",
    Role.partner: "partenaire",
    Role.auditor: "auditeur (journal des accès)",
    OrganisationKind.national_police: "police nationale",
    OrganisationKind.municipal_police: "police municipale",
    OrganisationKind.landlord: "bailleur",
    OrganisationKind.transport_operator: "opérateur de transport",
    OrganisationKind.municipality: "commune",
    OrganisationKind.metropolis: "métropole",
    OrganisationKind.prosecutor: "parquet",
    OrganisationKind.prefecture: "préfecture",
    OrganisationKind.other: "autre",
    CategoryFamily.incivility: "incivilités",
    CategoryFamily.drugs: "stupéfiants",
    CategoryFamily.residential: "tranquillité résidentielle",
    CategoryFamily.transport: "transports",
    CategoryFamily.violence: "violences",
    CategoryFamily.road: "insécurité routière",
    CategoryFamily.other: "autre",
    Decision.create_problem: "problème créé",
    Decision.attach: "rattaché à un problème existant",
    Decision.reject: "rejeté",
    # Webhooks (issue 11): the events a partner's system may subscribe to, and deliveries.
    EventType.report_triaged: "signalement trié",
    EventType.report_problem_changed: "statut ou résultat du problème d'un signalement",
    EventType.action_assigned: "action confiée",
    EventType.action_updated: "action modifiée",
    EventType.action_due_soon: "action à échéance dans les 7 jours",
    EventType.action_overdue: "action en retard",
    EventType.meeting_planned: "réunion planifiée",
    EventType.meeting_held: "réunion tenue",
    EventType.gpo_cadence_breached: "GPO en retard de réunion",
    DeliveryStatus.pending: "en attente",
    DeliveryStatus.succeeded: "réussie",
    DeliveryStatus.failed: "échouée",
}


def label(value: Any) -> str:
    """The French label of a coded value; an uncoded value as it is, a missing one "—"."""
    if value is None:
        return "—"
    if isinstance(value, Enum):
        return LABELS.get(value, str(value.value))
    return str(value)


# --- Dates and numbers ---------------------------------------------------------------------


def day(value: date) -> str:
    """14/03/2026; a date-time is the day it falls on in Europe/Paris."""
    if isinstance(value, datetime):
        value = value.astimezone(PARIS).date()
    return value.strftime("%d/%m/%Y")


def moment(value: datetime) -> str:
    """14/03/2026 à 18 h 30, in Europe/Paris."""
    local = value.astimezone(PARIS)
    return f"{local.strftime('%d/%m/%Y')} à {local.strftime('%H h %M')}"


def number(value: float) -> str:
    """12,5 (a decimal comma; no needless decimals)."""
    return f"{value:g}".replace(".", ",")


def evaluation_sheet(year: int) -> str:
    """The name of the annual evaluation's sheet in its xlsx file."""
    return f"Évaluation annuelle {year}"


def _display(value: Any) -> str:
    if isinstance(value, date):
        return day(value)
    if isinstance(value, float | int) and not isinstance(value, bool):
        return number(value)
    return label(value)


# --- Audit summaries (the timeline's sentences) ------------------------------------------------

SUMMARIES: dict[str, str] = {
    "bootstrap.admin_created": "Administrateur d'amorçage créé",
    "bootstrap.token_registered": "Jeton d'amorçage enregistré (GPO_BOOTSTRAP_ADMIN_TOKEN)",
    "bootstrap.token_restored": "Jeton d'amorçage rétabli (GPO_BOOTSTRAP_ADMIN_TOKEN)",
    "bootstrap.token_revoked": "Jeton d'amorçage révoqué (GPO_BOOTSTRAP_ADMIN_TOKEN a changé)",
    "user.create": "Utilisateur {name} créé ({role})",
    "user.update": "Utilisateur {name} modifié",
    "user.notifications": "Notifications de {name} modifiées",
    "token.create": "Jeton « {name} » créé pour {user}",
    "token.revoke": "Jeton « {name} » révoqué",
    "token.revoke_disabled": "Jeton « {name} » révoqué (compte désactivé)",
    "organisation.create": "Organisation {name} créée",
    "organisation.update": "Organisation {name} modifiée",
    "category.create": "Catégorie « {label} » créée",
    "category.update": "Catégorie « {label} » modifiée",
    "action_kind.create": "Type d'action « {label} » créé",
    "action_kind.update": "Type d'action « {label} » modifié",
    "gpo.create": "{kind} {name} créé",
    "gpo.update": "GPO {name} modifié",
    "meeting.create": "Réunion du GPO {gpo} du {day} enregistrée ({status})",
    "meeting.update": "Réunion du GPO {gpo} du {day} modifiée",
    "review.create": "Examiné en réunion du {day} : {note}",
    "problem.create": "Problème {reference} créé : {title}",
    "problem.create_from_report": "Problème {reference} créé depuis le signalement {report}",
    "problem.update": "Problème {reference} modifié",
    "problem.update_raised": "Problème {reference} modifié ; visibilité relevée à « {visibility} » "
    "(catégorie sensible « {category} »)",
    "problem.visibility_raised": "Visibilité relevée à « {visibility} » : la catégorie "
    "« {category} » est sensible",
    "comment.create": "Commentaire de {author} : {body}",
    "action.create": "Action « {title} » confiée à {assignee}, échéance le {due}",
    "action.update": "Action « {title} » modifiée",
    "action.move": "Action « {title} » : {source} → {target}",
    "indicator.create": "Indicateur « {name} » : référence {value} {unit} du {start} au {end}",
    "indicator.update": "Indicateur « {name} » modifié",
    "measurement.create": "Mesure « {name} » : {value} {unit} du {start} au {end}",
    "report.create": "Signalement {reference} reçu ({category})",
    "report.update": "Signalement {reference} orienté",
    "report.attach": "Signalement {report} rattaché au problème {problem}",
    "report.triage": "Signalement {reference} trié : {decision}",
}


def summary(event: str, /, **values: Any) -> str:
    """The sentence for an `event` (an audit action); coded values, dates and numbers are
    written in French ("Statut : ouvert → clos", "échéance le 15/04/2026")."""
    return SUMMARIES[event].format(**{name: _display(value) for name, value in values.items()})


def problem_moved(
    source: ProblemStatus, target: ProblemStatus, outcome: Outcome | None, note: str | None
) -> str:
    """ "Statut : ouvert → clos (réduit en nombre). Appels au 17 divisés par deux." """
    text = f"Statut : {label(source)} → {label(target)}"
    if outcome is not None:
        text += f" ({label(outcome)})"
    if note:
        text += f". {note}"
    return text


# --- What a person is told when a form is refused ---------------------------------------------

FIELD_ERRORS = {
    "missing": "Ce champ est obligatoire.",
    "too_short": "Ce champ est trop court.",
    "too_long": "Ce champ est trop long.",
    "pattern": "Le format n'est pas celui attendu.",
    "number": "Saisissez un nombre.",
    "too_small": "La valeur est trop petite.",
    "too_large": "La valeur est trop grande.",
    "choice": "Choisissez une valeur de la liste.",
    "date": "Saisissez une date valide (jour, mois, année).",
    "refused": "Cette valeur n'est pas acceptée.",
    "invalid": "Cette valeur n'est pas valide.",
}
# Messages of the API's own validators, as a person should read them.
_VALIDATOR_MESSAGES = {
    "lat and lon go together": "Indiquez la latitude et la longitude, ou aucune des deux.",
    "period_end is before period_start": "La fin de la période précède son début.",
    "must be a date": FIELD_ERRORS["date"],
    "may not be null": FIELD_ERRORS["missing"],
    "must be a JSON number": FIELD_ERRORS["number"],
    "must be between 1900-01-01 and 2999-12-31": "Saisissez une date entre 1900 et 2999.",
    "a date-time needs an offset": FIELD_ERRORS["date"],
    "may not contain": "Ce texte contient un caractère de contrôle qui n'est pas accepté.",
}
_ERROR_TYPES = {
    "missing": "missing",
    "string_too_long": "too_long",
    "string_pattern_mismatch": "pattern",
    "float_parsing": "number",
    "float_type": "number",
    "int_parsing": "number",
    "int_type": "number",
    "int_from_float": "number",
    "finite_number": "number",
    "enum": "choice",
    "literal_error": "choice",
    "uuid_parsing": "choice",
    "uuid_type": "choice",
    "date_parsing": "date",
    "date_from_datetime_parsing": "date",
    "datetime_parsing": "date",
    "datetime_from_date_parsing": "date",
    "timezone_aware": "date",
    "too_long": "too_long",
}


def field_error(error: Any) -> str:
    """A Pydantic validation error of a form's field, in French."""
    kind = str(error.get("type", ""))
    context = error.get("ctx") or {}
    if kind == "string_too_short":
        minimum = int(context.get("min_length", 1))
        if minimum <= 1:
            return FIELD_ERRORS["missing"]
        return f"Au moins {minimum} caractères."
    if kind == "string_too_long" and "max_length" in context:
        return f"Au plus {context['max_length']} caractères."
    if kind in ("greater_than_equal", "greater_than"):
        bound = context.get("ge", context.get("gt"))
        if bound is None:
            return FIELD_ERRORS["too_small"]
        return f"La valeur doit être au moins {_display(bound)}."
    if kind in ("less_than_equal", "less_than"):
        bound = context.get("le", context.get("lt"))
        if bound is None:
            return FIELD_ERRORS["too_large"]
        return f"La valeur doit être au plus {_display(bound)}."
    if kind == "value_error":
        message = str(error.get("msg", ""))
        for english, french in _VALIDATOR_MESSAGES.items():
            if english in message:
                return french
        return FIELD_ERRORS["invalid"]
    return FIELD_ERRORS[_ERROR_TYPES.get(kind, "invalid")]


REFUSALS = {
    400: "La demande n'est pas valide.",
    403: "Votre rôle ne permet pas cette action.",
    404: "Cette fiche n'existe pas, ou vous n'y avez pas accès.",
    409: "L'état de la fiche ne permet pas cette action.",
    412: "La fiche a été modifiée entre-temps : rechargez la page, puis refaites votre "
    "modification.",
    422: "Une valeur saisie n'est pas acceptée.",
}


def refusal(status: int) -> str:
    return REFUSALS.get(status, "L'action n'a pas pu être faite.")


# What the console tells a person when the service refuses a change (the API's detail stays
# English); `refused(key, ...)` formats one, coded values in French.
REFUSED = {
    "move": "{noun} est « {source} » et ne peut pas passer à « {target} »{allowed}.",
    "problem.closed_no_actions": "Ce problème est clos : rouvrez-le avant d'y ajouter des actions.",
    "problem.needs_outcome": "Choisissez le résultat pour clore le problème.",
    "problem.outcome_only_closing": "Le résultat ne se choisit qu'en clôturant le problème.",
    "problem.displacement_only_closing": "Le déplacement ne se note qu'en clôturant le problème.",
    "problem.needs_note": "Dites pourquoi le problème est rouvert.",
    "problem.sensitive_stays": "La catégorie « {category} » est sensible (informations "
    "transmises à la CROSS) : ses problèmes restent en visibilité « restreinte (police "
    "nationale) ». Si la catégorie est erronée, corrigez-la d'abord, puis la visibilité.",
    "problem.new_closes_as": "Un problème nouveau ne se clôt que comme « doublon » ou « hors "
    "du champ du GPO » : ouvrez-le d'abord.",
    "evidence.no_indicator": "Clore comme « {outcome} » demande une preuve : le problème n'a "
    "aucun indicateur. Ajoutez-en un avec sa référence, puis une mesure postérieure qui montre "
    "une amélioration.",
    "evidence.no_measurement": "Clore comme « {outcome} » demande une preuve : aucun "
    "indicateur n'a de mesure après sa période de référence ({names}).",
    "evidence.not_improved": "Clore comme « {outcome} » demande une preuve : la dernière "
    "mesure d'aucun indicateur ne fait mieux que sa référence ({names}). Enregistrez la mesure "
    "qui montre le résultat, ou choisissez un autre résultat (« sans amélioration », « mieux "
    "pris en charge »…).",
    "measurement.before_baseline": "La période se termine avant le début de la période de "
    "référence.",
    "measurement.overlaps_baseline": "La période chevauche la période de référence (qui se "
    "termine le {end}) : une mesure vient après elle.",
    "meeting.cancelled_no_review": "Cette réunion a été annulée : rien n'y a été examiné.",
    "report.not_routed": "Ce signalement n'est encore rattaché à aucun GPO : un administrateur "
    "doit d'abord l'orienter.",
    "report.routed_already_triaged": "Ce signalement a déjà été trié : il reste à son GPO.",
    "report.attach_needs_problem": "Choisissez le problème auquel rattacher le signalement.",
    "report.reject_needs_note": "Indiquez au partenaire la raison du rejet.",
    "report.problem_of_another_gpo": "Ce problème appartient à un autre GPO.",
    "comment.level": "Vous ne pourriez pas lire un commentaire de ce niveau.",
    "webhook.url_absolute": "Saisissez une adresse complète, commençant par https://.",
    "webhook.url_credentials": "L'adresse ne doit pas contenir d'identifiant ni de mot de "
    "passe : la signature authentifie les envois.",
    "webhook.url_https": "L'adresse doit commencer par https:// (envoi chiffré).",
    "webhook.url_public": "L'adresse doit être publique : pas d'adresse locale, privée ou "
    "de bouclage.",
}


def refused(key: str, /, **values: Any) -> str:
    return REFUSED[key].format(**{name: _display(value) for name, value in values.items()})


# The nouns of the state machines, for `move` refusals.
LIFECYCLE_NOUNS = {
    "problem": "Ce problème",
    "action": "Cette action",
    "meeting": "Cette réunion",
    "report": "Ce signalement",
}


def move_refused(noun: str, source: Any, target: Any, allowed: list[Any]) -> str:
    choices = ", ".join(f"« {label(a)} »" for a in allowed)
    return refused(
        "move",
        noun=LIFECYCLE_NOUNS.get(noun, noun),
        source=source,
        target=target,
        allowed=f" (possible : {choices})" if allowed else " : c'est un état final",
    )


# Information governance (issue 12): what the retention purge leaves in place of a text.
ERASED_TEXT = "[texte effacé : durée de conservation écoulée]"
# An audit event's summary, erased (the hash chain keeps its digest: `app.governance.chain`).
ERASED_SUMMARY = "Résumé effacé (durée de conservation écoulée)"


def purge_summary(problems: int, erased: int) -> str:
    return (
        f"Purge de conservation : {erased} texte(s) effacé(s) "
        f"sur {problems} problème(s) clos depuis plus longtemps que la durée de conservation"
    )


# The purposes a console session declares before reading police data (X-Access-Purpose).
ACCESS_PURPOSES = {
    "meeting": "préparation ou tenue d'une réunion du GPO",
    "follow_up": "suivi d'un problème ou d'une action",
    "investigation": "enquête",
    "statistics": "statistiques et évaluation",
    "audit": "contrôle et audit",
}
