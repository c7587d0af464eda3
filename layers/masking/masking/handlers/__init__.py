"""Events in, answers out: Twilio webhooks, the admin API, the schedules."""
