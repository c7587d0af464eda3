"""The outside world behind the ports: Twilio (and its sandbox), SQS and SNS, SSM secrets."""
