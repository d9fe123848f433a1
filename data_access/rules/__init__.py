"""Pure rules: no database, no Streamlit, no clock of their own."""
