"""The SMSHub agent protocol (contract/suppliers.md, section 1): SIM banks, where we are the hub.

- `protocol`: the four messages' shapes, and strict parsing of every answer into a typed result
- `client`: the hub's calls to an agent (GET_SERVICES, GET_NUMBER, FINISH_ACTIVATION)
- `push`: the agent's call to us (PUSH_SMS at `POST /suppliers/{code}/smshub`)
- `agents`: where an agent's URL and key come from (the seam the supplier registry replaces)
- `finish`: FINISH_ACTIVATION carried by the outbox (services/outbox.py)
- `poller`: GET_SERVICES per agent into availability
"""
