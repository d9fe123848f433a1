"""ui.flash: a message set before a rerun shows on the next run, once."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from data_access.documents.exports import plain


def script() -> None:
    import streamlit as st

    from ui.flash import Note, flash, show_flash

    st.title("Page")
    show_flash()
    if st.button("Save", key="save"):
        flash("Saved <b>it</b>.", Note("Temporary password for jo, shown once.", code="s3cret-Pa55"))
    if st.button("Fail", key="fail"):
        flash(Note("One failed.", "error"), Note("Look here.", "info"))
    st.button("Again", key="again")


def test_a_message_shows_after_the_rerun_and_only_once() -> None:
    app = AppTest.from_function(script, default_timeout=30).run()
    assert not app.success
    app.button(key="save").click().run()
    assert not app.exception, app.exception
    assert app.success[0].value == plain("Saved <b>it</b>.")  # shown as text, never as markup
    assert "`s3cret-Pa55`" in app.success[1].value and "Temporary password for jo" in app.success[1].value
    app.button(key="again").click().run()
    assert not app.success


def test_each_message_keeps_its_kind() -> None:
    app = AppTest.from_function(script, default_timeout=30).run()
    app.button(key="fail").click().run()
    assert [e.value for e in app.error] == ["One failed."]
    assert [i.value for i in app.info] == ["Look here."]
