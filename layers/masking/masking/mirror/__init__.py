"""The Airtable mirror's side of the layer: mirror records, the outbox, the rows (the only
module that knows Airtable field names) and what a routed webhook builds for them (``webhook``)."""
