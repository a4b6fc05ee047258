"""The event bus and the live feed (GraphQL subscriptions)."""
