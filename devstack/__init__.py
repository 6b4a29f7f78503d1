"""The whole stack on one machine for tests and the benchmark: the launcher (`devstack.stack`)
and the loopback stand-ins for the two remote APIs Parley calls (Twilio, Stripe), which check
what they receive. Installed with the application (not shipped to production images)."""
