"""One-off operator commands (``python -m tools.<name>``): Airtable schema and import."""
