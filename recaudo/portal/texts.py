"""The portal's words in the debtor's language (es, pt, en)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from recaudo.orchestration.templates import FALLBACK_LANGUAGE, LANGUAGES

TEXTS: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {
        "title": "Your account",
        "intro": "Here is what you owe and the ways you can settle it.",
        "account": "Account",
        "balance": "Balance",
        "overdue": "Overdue",
        "days_past_due": "Days past due",
        "offers": "Your options",
        "no_offers": "There are no options to choose online for this account. Please contact us.",
        "promise": "Pay {amount} on a date you choose",
        "promise_date": "Payment date (by {until})",
        "promise_button": "Promise to pay",
        "plan": "{instalments} {frequency} instalments of {instalment}, the first on {first}",
        "plan_last": "the last one is {last}",
        "plan_button": "Choose this plan",
        "settlement": "Settle the account with {amount} by {due} (you save {discount})",
        "settlement_button": "Settle",
        "pay_now": "Pay now on the bank's website",
        "MONTHLY": "monthly",
        "FORTNIGHTLY": "fortnightly",
        "WEEKLY": "weekly",
        "done_title": "Thank you",
        "done_promise": "We have recorded your promise to pay {amount} on {due}.",
        "done_plan": "We have recorded your plan: {instalments} instalments of {instalment}, "
        "the first on {first}.",
        "used_title": "Already chosen",
        "used": "This link has already been used to choose an option ({when}). "
        "Nothing has changed.",
        "expired_title": "This link has expired",
        "expired": "For your security, links work for a limited time. "
        "Please use the link in our latest message, or contact us.",
        "invalid_title": "This link is not valid",
        "invalid": "The link is incomplete or has been changed. "
        "Please open it again from our message, or contact us.",
        "gone_title": "This option is no longer available",
        "gone": "Your account has changed since the page was shown. "
        "Please open the link again to see your current options.",
        "date_title": "Please choose another date",
        "date": "The date must be between {since} and {until}.",
        "nothing_title": "Nothing to show",
        "nothing": "We could not find an open account for this link. Please contact us.",
        "busy_title": "Please try again",
        "busy": "We could not record your choice just now. Nothing has changed; "
        "please try again in a minute.",
    },
    "es": {
        "title": "Su cuenta",
        "intro": "Aquí puede ver lo que debe y las formas de ponerse al día.",
        "account": "Cuenta",
        "balance": "Saldo",
        "overdue": "Vencido",
        "days_past_due": "Días de atraso",
        "offers": "Sus opciones",
        "no_offers": "No hay opciones para elegir en línea para esta cuenta. "
        "Por favor, contáctenos.",
        "promise": "Pagar {amount} en la fecha que usted elija",
        "promise_date": "Fecha de pago (hasta el {until})",
        "promise_button": "Comprometerme a pagar",
        "plan": "{instalments} cuotas {frequency} de {instalment}, la primera el {first}",
        "plan_last": "la última es de {last}",
        "plan_button": "Elegir este plan",
        "settlement": "Cancelar la cuenta con {amount} hasta el {due} (ahorra {discount})",
        "settlement_button": "Cancelar la deuda",
        "pay_now": "Pagar ahora en el sitio del banco",
        "MONTHLY": "mensuales",
        "FORTNIGHTLY": "quincenales",
        "WEEKLY": "semanales",
        "done_title": "Gracias",
        "done_promise": "Registramos su compromiso de pagar {amount} el {due}.",
        "done_plan": "Registramos su plan: {instalments} cuotas de {instalment}, "
        "la primera el {first}.",
        "used_title": "Ya eligió una opción",
        "used": "Este enlace ya se usó para elegir una opción ({when}). No cambió nada.",
        "expired_title": "Este enlace venció",
        "expired": "Por su seguridad, los enlaces funcionan por un tiempo limitado. "
        "Use el enlace de nuestro último mensaje o contáctenos.",
        "invalid_title": "Este enlace no es válido",
        "invalid": "El enlace está incompleto o fue modificado. "
        "Ábralo de nuevo desde nuestro mensaje o contáctenos.",
        "gone_title": "Esta opción ya no está disponible",
        "gone": "Su cuenta cambió desde que se mostró la página. "
        "Abra el enlace de nuevo para ver sus opciones actuales.",
        "date_title": "Elija otra fecha",
        "date": "La fecha debe estar entre el {since} y el {until}.",
        "nothing_title": "No hay nada que mostrar",
        "nothing": "No encontramos una cuenta abierta para este enlace. Por favor, contáctenos.",
        "busy_title": "Intente de nuevo",
        "busy": "No pudimos registrar su elección en este momento. No cambió nada; "
        "intente de nuevo en un minuto.",
    },
    "pt": {
        "title": "Sua conta",
        "intro": "Veja quanto você deve e as formas de regularizar.",
        "account": "Conta",
        "balance": "Saldo",
        "overdue": "Em atraso",
        "days_past_due": "Dias de atraso",
        "offers": "Suas opções",
        "no_offers": "Não há opções para escolher on-line para esta conta. "
        "Por favor, fale conosco.",
        "promise": "Pagar {amount} na data que você escolher",
        "promise_date": "Data do pagamento (até {until})",
        "promise_button": "Prometer pagamento",
        "plan": "{instalments} parcelas {frequency} de {instalment}, a primeira em {first}",
        "plan_last": "a última é de {last}",
        "plan_button": "Escolher este plano",
        "settlement": "Quitar a conta com {amount} até {due} (economia de {discount})",
        "settlement_button": "Quitar",
        "pay_now": "Pagar agora no site do banco",
        "MONTHLY": "mensais",
        "FORTNIGHTLY": "quinzenais",
        "WEEKLY": "semanais",
        "done_title": "Obrigado",
        "done_promise": "Registramos sua promessa de pagar {amount} em {due}.",
        "done_plan": "Registramos seu plano: {instalments} parcelas de {instalment}, "
        "a primeira em {first}.",
        "used_title": "Opção já escolhida",
        "used": "Este link já foi usado para escolher uma opção ({when}). Nada mudou.",
        "expired_title": "Este link expirou",
        "expired": "Para sua segurança, os links funcionam por tempo limitado. "
        "Use o link da nossa última mensagem ou fale conosco.",
        "invalid_title": "Este link não é válido",
        "invalid": "O link está incompleto ou foi alterado. "
        "Abra-o novamente a partir da nossa mensagem ou fale conosco.",
        "gone_title": "Esta opção não está mais disponível",
        "gone": "Sua conta mudou desde que a página foi exibida. "
        "Abra o link novamente para ver suas opções atuais.",
        "date_title": "Escolha outra data",
        "date": "A data deve estar entre {since} e {until}.",
        "nothing_title": "Nada para mostrar",
        "nothing": "Não encontramos uma conta aberta para este link. Por favor, fale conosco.",
        "busy_title": "Tente novamente",
        "busy": "Não conseguimos registrar sua escolha agora. Nada mudou; "
        "tente novamente em um minuto.",
    },
}


def language_from(accept_language: str | None) -> str:
    """The first of es, pt, en the browser asks for (a refused token names no debtor)."""
    for part in (accept_language or "").split(","):
        lang = part.split(";", 1)[0].strip().split("-", 1)[0].lower()
        if lang in LANGUAGES:
            return lang
    return FALLBACK_LANGUAGE
