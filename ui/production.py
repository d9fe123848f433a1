"""What keeps a production server from starting: each is something a team of servers must get right."""

from __future__ import annotations

import streamlit as st

from data_access.auth import users
from data_access.config import settings


def production_problems() -> list[str]:
    """Demo passwords that still work, and a cookie key that each server would make up for itself."""
    problems = []
    if demo := users.demo_passwords_in_use():
        problems.append(
            f"Demo passwords still work ({', '.join(demo)}). Give those users real passwords or remove them from "
            "auth.yaml (`python -m data_access users reset-password USER`)."
        )
    if not settings().cookie_key:
        problems.append(
            "BILLING_DESK_COOKIE_KEY is not set. Set it to a long random string, the same on every app server, "
            "so a sign-in made on one server is honoured by the others."
        )
    return problems


def refuse_to_serve_unready_production() -> None:
    """In production, stop every run with the list of what to fix until nothing is left on it."""
    if settings().environment == "production" and (problems := production_problems()):
        st.error(
            "Billing Desk will not start in production until this is fixed, then restart:\n\n"
            + "\n".join(f"- {problem}" for problem in problems)
        )
        st.stop()
