"""The HTTP edge: the GraphQL endpoint, operations routes and middleware (no business rules)."""
