"""The debtor's self-service portal: a personal, signed, expiring link in
every message (:mod:`~recaudo.portal.link`, :mod:`~recaudo.portal.token`), the
page it opens with the offers the bank's bounds allow
(:mod:`~recaudo.portal.offers`, :mod:`~recaudo.portal.pages`), and the service
that serves it (:mod:`~recaudo.portal.server`, ``recaudo portal run``)."""
