"""Upstream activation services as suppliers: we buy from another service that speaks the
sms-activate protocol (contract/compat.md; contract/suppliers.md, 3) — sms-activate itself,
HeroSMS, GrizzlySMS, SMSHub's buyer API, or another SMS Rooms.

    protocol.py  the answers we read, parsed strictly: anything unknown is a failure, never success
    client.py    one call per action over HTTP, each under a deadline
    upstreams.py which suppliers are upstreams, and a client for one
    sync.py      getPrices and getBalance in the background, into stock and the admin's view
    source.py    the NumberSource: getNumberV2 under routing's deadline; endings to the relay
    relay.py     setStatus 8/6/3 through the outbox, until acknowledged
    codes.py     getStatus with backoff while an activation lives; codes ingested as SMS
    install.py   what an app registers and runs for all of this
"""
