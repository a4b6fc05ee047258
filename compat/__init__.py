"""The sms-activate-compatible HTTP API (`/stubs/handler_api.php`), a thin layer over services/.

    endpoint.py   the Starlette handler: parameters, API-key auth, rate limit, never a traceback
    actions.py    one function per protocol action, each calling the services
    answers.py    how answers are printed: amounts, phones, times, JSON
    errors.py     refusals -> protocol tokens
    countries.py  the protocol's numeric country ids <-> the catalog

The protocol is described in contract/compat.md; the choices it leaves open in
docs/adr/0003-compat-protocol.md.
"""
