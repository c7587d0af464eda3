"""What the operator, Zapier and the schedules run: provisioning, numbers, sessions,
clients, pool stats and the schedules' rules."""
