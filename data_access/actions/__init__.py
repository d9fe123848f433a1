"""The write side: each action checks its permission, opens one transaction, makes its change and records one audit event in it."""
