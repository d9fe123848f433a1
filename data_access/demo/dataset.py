"""The whole demo data set, drawn in a fixed order from one random generator."""

from __future__ import annotations

from datetime import date

from data_access.demo.audit_trail import AuditTrail, Story
from data_access.demo.collections_history import (
    CollectionsHistory,
    suspend_for_non_payment,
    suspended_and_reinstated,
)
from data_access.demo.customers import draw_customers, place_overdue_customers
from data_access.demo.draw import Draw, Row
from data_access.demo.invoices import draw_invoices, microsoft_invoices
from data_access.demo.ledger import Ledger
from data_access.demo.partner_center import partner_center
from data_access.demo.payments import PaymentPlanner
from data_access.demo.policy import partner_profile, policy, policy_stages
from data_access.demo.support import holidays, support_offering, support_targets
from data_access.demo.tickets import Helpdesk
from data_access.models import (
    AuditEvent,
    Base,
    CollectionsActivity,
    CollectionsPolicy,
    CreditNote,
    Customer,
    Escalation,
    ExchangeRate,
    Holiday,
    Invoice,
    MicrosoftInvoice,
    PartnerCenterImport,
    PartnerCenterLine,
    PartnerProfile,
    Payment,
    PaymentAllocation,
    PolicyStage,
    Subscription,
    SupportOffering,
    SupportTarget,
    Ticket,
)


def demo_tables(*, customer_count: int, seed: int, today: date) -> dict[type[Base], list[Row]]:
    """Rows for each table in the order they are inserted; the same seed and day give the same rows."""
    draw = Draw(seed=seed, today=today)
    customers = draw_customers(draw, customer_count)
    place_overdue_customers(draw, customers)
    invoices = draw_invoices(draw, customers)
    planner = PaymentPlanner(draw)
    planner.plan(customers)
    ledger = Ledger()
    ledger.replay(planner, invoices)
    suspended = suspend_for_non_payment(draw, customers)
    past = suspended_and_reinstated(draw, customers, ledger)
    history = CollectionsHistory(draw, dispute_opened=planner.dispute_opened, suspended=suspended, past=past)
    activities = history.record(customers, invoices, ledger.credit_notes)
    helpdesk = Helpdesk(draw, dispute_opened=planner.dispute_opened)
    helpdesk.record(customers, invoices)
    collections_policy, stages = policy(draw), policy_stages()
    partner = partner_profile(draw)
    offering, targets = support_offering(draw), support_targets()
    holiday_rows = holidays(draw)
    payables = microsoft_invoices(draw, invoices)
    microsoft = partner_center(draw, customers, payables)
    story = Story(
        customers=customers,
        invoices=invoices,
        ledger=ledger,
        activities=activities,
        policy=collections_policy,
        partner=partner,
        stages=stages,
        offering=offering,
        targets=targets,
        tickets=helpdesk.tickets,
        escalations=helpdesk.escalations.rows,
        microsoft_invoices=payables,
        past_suspensions=past,
        imported_files=microsoft.imported,
    )
    trail = AuditTrail(draw, story).rows()
    return {
        Customer: [customer.row for customer in customers],
        Subscription: [s.row for customer in customers for s in customer.subscriptions],
        Invoice: [invoice.row() for invoice in invoices],
        Payment: ledger.payments,
        PaymentAllocation: ledger.allocations,
        CreditNote: ledger.credit_notes,
        CollectionsActivity: activities,
        CollectionsPolicy: [collections_policy],
        PartnerProfile: [partner],
        PolicyStage: stages,
        SupportOffering: [offering],
        SupportTarget: targets,
        Holiday: holiday_rows,
        Ticket: helpdesk.tickets,
        Escalation: helpdesk.escalations.rows,
        MicrosoftInvoice: payables,
        ExchangeRate: microsoft.rates,
        PartnerCenterImport: microsoft.imports,
        PartnerCenterLine: microsoft.lines,
        AuditEvent: trail,
    }
