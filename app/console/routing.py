"""The console's route class: the API's transaction per request, errors as pages.

A console POST declares the CSRF check instead of the Idempotency-Key claim (a person's
form is not retried by a program). A refusal a person meets is a French page, or the form
again with the message next to its field (each screen does that for the errors it expects);
what the person may not see is the same 404 page as an unknown address.
"""

from __future__ import annotations

import logging

from fastapi.exceptions import RequestValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.console.rendering import render, with_notices
from app.core.direct import Handler
from app.core.errors import ApiError, SeeOther
from app.core.requests import current_request_id
from app.core.routing import TransactionalRoute
from app.governance import screening

logger = logging.getLogger("app.errors")
CHECKS_CSRF = "checks_csrf"

TITLES = {
    400: "Requête invalide",
    403: "Accès refusé",
    404: "Page introuvable",
    409: "Action impossible",
    412: "Modifié entre-temps",
    413: "Envoi trop volumineux",
    415: "Envoi invalide",
    422: "Saisie invalide",
    429: "Trop de tentatives",
    500: "Erreur du service",
}
EXPLANATIONS = {
    400: "La page demandée contient des paramètres invalides.",
    403: "Votre rôle ne permet pas cette action.",
    404: "La page demandée n'existe pas, ou vous n'y avez pas accès.",
    409: "L'état de la fiche ne permet pas cette action.",
    412: "La fiche a été modifiée entre-temps par une autre personne. Rechargez la page "
    "pour voir sa version actuelle, puis refaites votre modification.",
    413: "L'envoi dépasse la taille permise.",
    415: "Le formulaire envoyé n'est pas lisible.",
    422: "Une valeur saisie est invalide.",
    429: "Trop de tentatives : patientez avant de réessayer.",
    500: "Le service n'a pas pu répondre. Si le problème persiste, transmettez l'identifiant "
    "ci-dessous à l'équipe d'exploitation.",
}


def error_page(request: Request, status: int, message: str | None = None) -> Response:
    return render(
        request,
        "errors/error.html",
        me=getattr(request.state, "me", None),
        status=status,
        title=TITLES.get(status, "Erreur"),
        message=message or EXPLANATIONS.get(status, ""),
        # Said only for the service's own failures, for the operator to find them in the logs.
        request_id=current_request_id() if status >= 500 else None,
    )


class ConsoleRoute(TransactionalRoute):
    post_marker = CHECKS_CSRF
    post_requirement = "the CSRF check (dependencies=[CsrfChecked])"

    async def run(self, handle: Handler, request: Request, session: AsyncSession) -> Response:
        """The API's transaction; a form saved and redirected carries what its texts held
        to the page that follows (the page tells it next to the form)."""
        response = await super().run(handle, request, session)
        if response.status_code == 303 and (found := screening.warnings(session)):
            response.headers["location"] = with_notices(response.headers["location"], found)
        return response

    def render_error(self, exc: ApiError, request: Request) -> Response:
        if isinstance(exc, SeeOther):
            return RedirectResponse(exc.location, status_code=303)
        # A refusal explained in French when the service gave one; a 404 says nothing more.
        message = exc.fr if exc.status != 404 else None
        response = error_page(request, exc.status, message)
        if "Retry-After" in exc.headers:
            response.headers["Retry-After"] = exc.headers["Retry-After"]
        return response

    def render_invalid(self, exc: RequestValidationError, request: Request) -> Response | None:
        return error_page(request, 400)

    def render_unexpected(self, exc: Exception, request: Request) -> Response:
        logger.error("unhandled error", exc_info=exc)
        return error_page(request, 500)
