"""The collections dashboard (`recaudo dashboard`): KPIs and the debtor view
from Postgres, consumer lag from Kafka, charts as server-rendered SVG."""
