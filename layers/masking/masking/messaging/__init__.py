"""SMS: routing, keywords and long bodies, delivery status callbacks, delivery failures."""
