"""Side effects behind protocols: clock, mail, SMS, outbox, events, rate limits."""
