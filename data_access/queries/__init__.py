"""The read side, one module per subject: each function checks its permission and returns DataFrames or frozen dataclasses, never live ORM objects. Queries never import actions."""
