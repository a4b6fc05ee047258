"""Upstream activation services as suppliers: we buy from another service that speaks the
sms-activate protocol (contract/compat.md; contract/suppliers.md, 3) — sms-activate itself,
HeroSMS, GrizzlySMS, SMSHub's buyer API, or another SMS Rooms.

    protocol.py  the answers we read, parsed strictly: anything unknown is a failure, never success
    client.py    one call per action over HTTP, each under a deadline
"""
