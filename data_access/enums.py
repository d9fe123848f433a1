"""The fixed sets of values the domain uses (Partner Center's and the helpdesk's), apart from the ORM."""

from __future__ import annotations

import enum


class Choices(enum.StrEnum):
    @classmethod
    def values(cls) -> list[str]:
        return [member.value for member in cls]


class SubscriptionStatus(Choices):
    ACTIVE = "Active"
    SUSPENDED = "Suspended"
    PENDING = "Pending"
    EXPIRED = "Expired"
    DELETED = "Deleted"
    DISABLED = "Disabled"


class BillingCycle(Choices):
    MONTHLY = "monthly"
    ANNUAL = "annual"


class ActivityKind(Choices):
    REMINDER_SENT = "reminder_sent"
    CALL = "call"
    EMAIL = "email"
    PROMISE_TO_PAY = "promise_to_pay"
    PAYMENT_PLAN = "payment_plan"
    DISPUTE_OPENED = "dispute_opened"
    DISPUTE_RESOLVED = "dispute_resolved"
    NOTE = "note"


class StageAction(Choices):
    REMINDER = "reminder"
    FINAL_NOTICE = "final_notice"
    SUSPENSION_ELIGIBLE = "suspension_eligible"
    REVIEW_FOR_CANCELLATION = "review_for_cancellation"


class TicketCategory(Choices):
    BILLING_QUESTION = "billing question"
    INVOICE_DISPUTE = "invoice dispute"
    PAYMENT = "payment"
    SUBSCRIPTION_CHANGE = "subscription change"
    TECHNICAL = "technical"
    OTHER = "other"


class Severity(Choices):
    CRITICAL = "critical"
    MODERATE = "moderate"
    MINIMAL = "minimal"


class TicketStatus(Choices):
    NEW = "new"
    OPEN = "open"
    PENDING_CUSTOMER = "pending customer"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    CLOSED = "closed"


class EscalationKind(Choices):
    COMMERCIAL = "commercial"
    TECHNICAL = "technical"


class SupportVehicle(Choices):
    PREMIER = "Premier Support for Partners"
    ADVANCED = "Advanced Support for Partners"
    SIGNATURE = "Signature Cloud Support"


class EscalationStatus(Choices):
    SUBMITTED = "submitted"
    IN_PROGRESS = "in progress"
    WAITING_ON_PARTNER = "waiting on partner"
    RESOLVED = "resolved"
    CLOSED = "closed"
