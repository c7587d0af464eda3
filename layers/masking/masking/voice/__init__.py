"""Calls, shaped like SMS: routing, TwiML, click-to-call."""
