"""Thin GraphQL resolvers: parse the arguments, call one service function, map the result."""
