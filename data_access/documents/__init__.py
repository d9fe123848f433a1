"""What leaves the app as a document: the statement of account, customer-facing statements, exports."""
