"""The business rules of SMS Rooms, free of any web framework (no strawberry, no starlette)."""
