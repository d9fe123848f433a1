"""Who may sign in: passwords and lockouts, the user store (auth.yaml), users and their roles."""
