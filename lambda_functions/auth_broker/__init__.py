"""Lambda handlers of the auth-broker stack: broker accounts, broker sessions (Zerodha OAuth
callback), the scheduled session refresh and pre-open health check, and the user profile."""
