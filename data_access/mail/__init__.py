"""E-mail to customers: messages queued in the outbox in the same transaction as what they tell (`reminders`),
delivered over SMTP or written as .eml files to the outbox folder (`outbox`), with the server settings read from
BILLING_DESK_SMTP_URL (`smtp`)."""
