"""The Airtable mirror's side of the layer: mirror records, the outbox, and the rows
(the only module that knows Airtable field names)."""
