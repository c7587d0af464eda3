"""The domain's own words: records, errors, phones, settings, observability, ports, leases."""
