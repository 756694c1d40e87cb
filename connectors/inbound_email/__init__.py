"""Inbound email: debtors' replies to collection emails, as REPLIED channel
responses of the dispatch they answer.

Two ways in: a local SMTP receiver (``recaudo inbound-email run``, aiosmtpd)
for the embedded default or behind a bank's own mail relay, and Mailgun's
inbound routes on the webhook service (``POST /mailgun/inbound``). Both thread
a reply by the token recaudo put in the outbound email (:mod:`.threads`) and
keep only what the debtor wrote (:mod:`.quotes`).
"""
