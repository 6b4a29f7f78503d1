"""The portal sign-in secret of the shared test stack (tests/conftest.py starts it with these;
the browser tests sign tokens with them)."""

PORTAL_TOKEN_SECRET = "test-portal-token-secret-0123456789abcdef"  # noqa: S105 - test only
PORTAL_TOKEN_AUDIENCE = "parley-widget-test"
