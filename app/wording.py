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
from app.governance.models import AccessPurpose
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
    "charter.accept": "Charte de partage de l'information (version {version}) acceptée par "
    "{name} ({via})",
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
    # Never the query itself: it names the person searched for (app/governance/search.py).
    "governance.subject_search": "Recherche de personne concernée ({length} caractères, "
    "{matches} résultats)",
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
    "problem.identifiers_kept": "Ce problème contient des identifiants personnels (téléphone, "
    "immatriculation, NIR…) conservés en visibilité « restreinte (police nationale) », y "
    "compris dans son historique : il ne peut pas être partagé au-delà de la police nationale.",
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
    "text.level": "Vous ne pourriez pas lire un texte de ce niveau.",
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


# --- The DPO's tools (app/governance) ------------------------------------------------------

# The purposes a read of police data is made for (`X-Access-Purpose`).
ACCESS_PURPOSES = {
    AccessPurpose.meeting: "préparation ou tenue d'une réunion du GPO",
    AccessPurpose.follow_up: "suivi d'un problème ou d'une action",
    AccessPurpose.investigation: "enquête ou procédure judiciaire",
    AccessPurpose.statistics: "statistiques et évaluation du contrat de sécurité",
    AccessPurpose.audit: "contrôle et audit (délégué à la protection des données, inspection)",
}
SERVICE_PURPOSES = {
    "problem_solving": "traitement en partenariat des problèmes de sécurité du quotidien "
    "examinés par les GPO (groupes de partenariat opérationnel)",
    "reporting": "réception et tri des signalements des partenaires (API et Open311)",
    "evaluation": "évaluation annuelle du contrat de sécurité (chiffres par GPO, commune, "
    "catégorie et organisation)",
    "notification": "information des partenaires : courriels et messages à leurs systèmes",
    "accountability": "journalisation des modifications et des consultations",
}
REGISTER = {
    "title": "Registre des activités de traitement — GPO",
    "controller": "Responsable du traitement",
    "dpo": "Délégué à la protection des données",
    "unset": "à compléter : {variable}",
    "purposes": "Finalités",
    "data_categories": "Catégories de données",
    "problem_categories": "Catégories de problèmes",
    "sensitive": "sensible (données pénales, directive 2016/680)",
    "not_sensitive": "ordinaire",
    "recipients": "Destinataires par type d'organisation",
    "clearance": "lit jusqu'au niveau",
    "none": "aucune",
    "internal_recipients": "Destinataires internes",
    "retention": "Durée de conservation",
    "legal_bases": "Bases légales",
    "security_measures": "Mesures de sécurité",
}
DATA_CATEGORIES = {
    "free_text": "Textes libres (et leurs copies : journal d'audit, messages envoyés)",
    "people": "Personnes : utilisateurs, connexions, destinataires de courriels",
    "locations": "Localisations des problèmes, signalements et réunions",
}
INTERNAL_RECIPIENTS = {
    Role.admin: "tous les textes, tous les GPO",
    Role.commander: "tous les textes, tous les GPO",
    Role.facilitator: "tous les textes des GPO qu'il anime",
    Role.auditor: "le journal des consultations, la vérification des chaînes d'empreintes et "
    "les outils du délégué à la protection des données ; aucun problème ni texte d'un GPO",
}
LEGAL_BASES = {
    "police_data": "Données de la police nationale et de la police municipale : directive (UE) "
    "2016/680 et titre III de la loi n° 78-17 du 6 janvier 1978 (Informatique et libertés).",
    "partners_data": "Données des partenaires : article 6(1)(e) du RGPD, mission d'intérêt "
    "public (prévention de la délinquance).",
    "confidentiality": "Confidentialité des échanges du GPO : article L132-5 du code de la "
    "sécurité intérieure.",
}


def retention_rule(years: int) -> str:
    return (
        f"Les textes libres d'un problème clos depuis plus de {years} an{'s' if years > 1 else ''}"
        " (et ceux de ses signalements, commentaires, examens et actions) sont effacés ; "
        "les références, catégories, dates, résultats et indicateurs restent, pour les "
        "chiffres des années passées (GPO_RETENTION_YEARS)."
    )


def security_measures(
    *,
    password_length: int,
    secret_length: int,
    production: bool,
    rate_per_minute: int,
    auth_failures_per_minute: int,
    metrics_open: bool,
    retention_years: int,
    charter_for_tokens: bool,
) -> list[str]:
    """What the service does to protect the data, as its code and settings do it."""
    return [
        "Mots de passe de la console hachés avec Argon2id (jamais conservés en clair) ; "
        f"{password_length} caractères au moins, mots de passe courants refusés.",
        "Jetons d'API, sessions et liens d'invitation : seul un HMAC-SHA256 de leur secret "
        "sous GPO_SECRET_KEY est conservé.",
        f"GPO_SECRET_KEY refusée au démarrage hors développement si elle est celle par défaut "
        f"ou compte moins de {secret_length} caractères"
        + (" (environnement : production)." if production else " (environnement : développement)."),
        "Cookies de session HttpOnly, SameSite=Lax"
        + (", Secure" if production else " (Secure en production)")
        + " ; jeton anti-CSRF sur chaque formulaire. Le chiffrement TLS est assuré par le "
        "serveur frontal : le service ne le termine pas.",
        "Règles d'accès appliquées dans chaque requête SQL : un partenaire ne lit que les "
        "problèmes de ses GPO dans son niveau (partenaires, police, restreint selon le type "
        "de son organisation) ; ce qui est caché répond « introuvable ».",
        "Les problèmes des catégories sensibles restent en diffusion restreinte.",
        "Journal d'audit de chaque modification (qui, quand, valeurs avant et après), écrit "
        "dans la même transaction que la modification.",
        "Journal de chaque consultation de données « police » ou « restreint » (qui, quand, "
        "quels enregistrements, pour quelle finalité : en-tête X-Access-Purpose, demandée une "
        "fois par session dans la console) ; ce journal et le journal d'audit sont chaînés par "
        "empreintes SHA-256, en insertion seule (déclencheurs de la base), vérifiables par "
        "GET /api/v1/governance/verify.",
        f"Textes libres effacés {retention_years} an{'s' if retention_years > 1 else ''} après "
        "la clôture du problème (tâche quotidienne, elle-même auditée) ; les chaînes "
        "d'empreintes restent vérifiables.",
        "Numéros de téléphone, adresses électroniques, immatriculations, NIR et IBAN masqués à "
        "l'écriture dans les textes lisibles hors de la police nationale ; mots révélant des "
        "données sensibles signalés à l'auteur.",
        "Textes, exports et pages imprimables classés : mention « DIFFUSION RESTREINTE » "
        "(art. L132-5 CSI) et réponses Cache-Control: no-store dès qu'ils portent des données "
        "« police » ou « restreint ».",
        "Charte de partage de l'information acceptée par chaque personne avant sa première "
        "consultation dans la console (version enregistrée)"
        + (
            ", et pour les jetons d'API."
            if charter_for_tokens
            else " ; pour les jetons d'API sur option (GPO_CHARTER_FOR_TOKENS)."
        ),
        f"Limites : {rate_per_minute} requêtes par minute et par jeton, "
        f"{auth_failures_per_minute} échecs d'authentification par minute et par adresse ; "
        "connexions à la console ralenties après des échecs répétés.",
        "Les paramètres des requêtes SQL (les textes saisis) ne sont jamais écrits dans les "
        "journaux techniques.",
        "Exports (CSV, xlsx) servis avec Cache-Control: no-store ; les cellules qu'un tableur "
        "évaluerait sont neutralisées.",
        "En-têtes de sécurité : Content-Security-Policy, X-Frame-Options DENY, "
        "X-Content-Type-Options nosniff, Referrer-Policy same-origin.",
        "Messages aux systèmes des partenaires signés (HMAC-SHA256), limités à ce que "
        "l'organisation destinataire peut lire.",
        "Métriques (GET /metrics) : "
        + (
            "ouvertes aux seules adresses et jetons de GPO_METRICS_ALLOW."
            if metrics_open
            else "fermées (GPO_METRICS_ALLOW vide)."
        ),
    ]


# --- Information governance ---------------------------------------------------------------------

# The marking at the head of minutes and printable pages holding police or restricted content
# (`app.core.visibility.classified`); CSV and GeoJSON carry it as a header instead.
RESTRICTED_NOTICE = (
    "DIFFUSION RESTREINTE — informations partagées dans le cadre du GPO, ne pas transmettre à "
    "des tiers (art. L132-5 du code de la sécurité intérieure)"
)

# Where a person accepted the charter, in its audit event.
CHARTER_CHANNELS = {"console": "console", "token": "jeton d'API"}


# --- Personal identifiers and sensitive words in free text (issue 12) -----------------------

# A warning's kind (`app.governance.masking.Kind`), as the console names it to the writer.
TEXT_WARNINGS = {
    "phone": "numéro de téléphone masqué",
    "email": "adresse électronique masquée",
    "licence_plate": "immatriculation masquée",
    "nir": "numéro de sécurité sociale (NIR) masqué",
    "iban": "IBAN masqué",
    "sensitive_health": "mot révélant l'état de santé",
    "sensitive_religion": "mot révélant une religion",
    "sensitive_origin": "mot révélant une origine",
    "sensitive_sex_life": "mot révélant la vie sexuelle",
    "sensitive_politics": "mot révélant une opinion politique",
    "sensitive_union": "mot révélant une appartenance syndicale",
}
# The fields of the forms, as the console names them in a warning.
TEXT_FIELDS = {
    "title": "titre",
    "description": "description",
    "objective": "objectif",
    "time_pattern": "horaires",
    "address": "adresse",
    "note": "note",
    "body": "commentaire",
    "public_note": "note pour le partenaire",
    "result_note": "compte rendu de l'action",
    "notes": "notes de réunion",
    "location": "lieu",
    "name": "nom",
    "source": "source",
}


def text_warning(field: str, kind: str) -> str:
    """ "description : numéro de téléphone masqué" """
    return f"{TEXT_FIELDS.get(field, field).capitalize()} : {TEXT_WARNINGS.get(kind, kind)}"


# Information governance (issue 12): what the retention purge leaves in place of a text.
ERASED_TEXT = "[texte effacé : durée de conservation écoulée]"
# An audit event's summary, erased (the hash chain keeps its digest: `app.governance.chain`).
ERASED_SUMMARY = "Résumé effacé (durée de conservation écoulée)"


def purge_summary(problems: int, erased: int) -> str:
    return (
        f"Purge de conservation : {erased} texte(s) effacé(s) "
        f"sur {problems} problème(s) clos depuis plus longtemps que la durée de conservation"
    )
