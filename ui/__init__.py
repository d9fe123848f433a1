"""What the pages share, and no page: cached reads, the message after a rerun, the session keys, the sign-in glue,
the outage banner and the production checks. Money and dates are formatted by data_access.money."""
