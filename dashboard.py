"""Billing Desk entry point: page settings and navigation. Sign-in and role filtering arrive with the auth issue."""

import streamlit as st

st.set_page_config(page_title="Billing Desk", page_icon=":material/account_balance:", layout="wide")

PAGES = [
    st.Page(
        "app_pages/overview.py",
        title="Overview",
        icon=":material/dashboard:",
        url_path="overview",
        default=True,
    ),
]

st.navigation(PAGES).run()
