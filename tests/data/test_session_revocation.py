"""Ending sessions: a sign-out, a password change or reset and a disable end every session the user signed in
before them, by the session's own sign-in time (a cookie re-emitted since carries that time, not its own)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from data_access.auth import signin, users
from data_access.errors import InvalidAction
from data_access.models import utcnow
from data_access.permissions import Actor
from tests.support.actors import ADMIN, USERMGR


def test_a_sign_out_ends_sessions_signed_in_before_it_and_no_later_one(database: str) -> None:
    signed_in = utcnow()
    assert not signin.session_revoked("sales", signed_in)
    signin.record_sign_out("sales", now=signed_in + timedelta(seconds=5))
    assert signin.session_revoked("sales", signed_in)
    assert signin.session_revoked("sales", signed_in + timedelta(seconds=4, microseconds=999_999))
    assert not signin.session_revoked("sales", signed_in + timedelta(seconds=5))
    assert not signin.session_revoked("sales", signed_in + timedelta(seconds=6))
    assert not signin.session_revoked("billing", signed_in)


def test_a_session_without_a_known_sign_in_time_ends_at_any_revocation(database: str) -> None:
    assert not signin.session_revoked("sales", None)
    signin.record_sign_out("sales")
    assert signin.session_revoked("sales", None)


def test_an_earlier_sign_out_arriving_late_does_not_bring_sessions_back(database: str) -> None:
    now = utcnow()
    signin.record_sign_out("sales", now=now)
    signin.record_sign_out("sales", now=now - timedelta(minutes=5))
    assert signin.session_revoked("sales", now - timedelta(seconds=1))


@pytest.mark.parametrize(
    "revoke",
    [
        pytest.param(lambda: users.reset_password(USERMGR, "sales"), id="reset"),
        pytest.param(lambda: users.disable_user(USERMGR, "sales"), id="disable"),
        pytest.param(
            lambda: users.change_own_password("sales", current="sales-demo", new="a-much-longer-password"),
            id="own-change",
        ),
    ],
)
def test_password_changes_and_disabling_end_earlier_sessions_only(database: str, revoke: object) -> None:
    before = utcnow()
    revoke()  # type: ignore[operator]
    after = utcnow()
    assert signin.session_revoked("sales", before)
    assert not signin.session_revoked("sales", after)
    assert not signin.session_revoked("billing", before)


def test_enabling_again_does_not_bring_back_a_session_from_before_the_disable(database: str) -> None:
    before = utcnow()
    users.disable_user(USERMGR, "sales")
    users.enable_user(USERMGR, "sales")
    assert signin.session_revoked("sales", before)
    assert users.actor_for("sales") is not None


def test_the_session_that_changes_its_own_password_stays_and_the_others_end(database: str) -> None:
    other_browser = utcnow()
    changed_at = users.change_own_password("sales", current="sales-demo", new="a-much-longer-password")
    assert other_browser < changed_at
    assert not signin.session_revoked("sales", changed_at)
    assert signin.session_revoked("sales", other_browser)


def test_role_changes_and_unlocks_end_no_session(database: str) -> None:
    before = utcnow()
    users.set_roles(USERMGR, "sales", ["Sales agent", "Helpdesk agent"])
    for _ in range(5):
        signin.check_password("sales", "wrong")
    users.unlock_user(USERMGR, "sales")
    assert not signin.session_revoked("sales", before)


def test_a_refused_change_ends_no_session(database: str) -> None:
    before = utcnow()
    with pytest.raises(InvalidAction, match="last active Global admin"):
        users.disable_user(Actor.of("other", ["Global admin"]), "admin")
    with pytest.raises(InvalidAction, match="not right"):
        users.change_own_password("admin", current="wrong", new="a-much-longer-password")
    assert not signin.session_revoked("admin", before)


def test_a_new_user_inherits_no_session_of_an_earlier_holder_of_the_name(database: str) -> None:
    earlier_holder = utcnow()
    users.add_user(ADMIN, username="jo", name="Jo", email="", roles=["Sales agent"])
    assert signin.session_revoked("jo", earlier_holder)
