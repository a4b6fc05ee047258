"""Local stand-ins of payment processors' APIs, for tests: they answer the few calls SMS Rooms
makes with the shapes the processors document, and build the notifications they would send.
`localstripe` (checked with stripe 16) has no Checkout Sessions, hence our own Stripe stand-in.
"""
