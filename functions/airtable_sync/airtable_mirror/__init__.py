"""The Airtable mirror: airtable_sync's own package (never in the shared layer, so no
webhook function imports pyairtable). ``tables`` maps record kinds to the operator's
tables, ``writer`` upserts a batch, ``limiter`` paces it, ``links`` caches record ids,
``handler`` is the SQS side."""
