"""Staff who work the box: offline sign-in, roles, tokens, and the guard on every API route."""
