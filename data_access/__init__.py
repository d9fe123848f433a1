"""Billing Desk's data layer: models, queries, actions, policy, permissions, import, demo data and CLI.

Never imports streamlit; pages call the functions here and draw what they return.
"""
