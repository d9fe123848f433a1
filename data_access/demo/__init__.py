"""Deterministic demo data for a CSP partner: customers, subscriptions, two years of billing, tickets, policies.

Everything is drawn from one `random.Random(seed)` and dated relative to `today`, so the same seed and day give
the same rows. Payments and credit notes are replayed in date order under the ledger's own rules (a payment pays
the invoice it names, or else the customer's oldest open invoices; what no open invoice absorbs stays unapplied),
so every stored open balance agrees with its allocations and credit notes. A few customers are placed on purpose
in each overdue range of the default collections policy, so every stage of it has someone to act on.
"""

from data_access.demo.writer import database_is_empty, seed_demo

__all__ = ["database_is_empty", "seed_demo"]
