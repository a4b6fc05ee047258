"""The SMSHub agent protocol (contract/suppliers.md, section 1): SIM banks, where we are the hub.

- `protocol`: the four messages' shapes, and strict parsing of every answer into a typed result
- `client`: the hub's calls to an agent (GET_SERVICES, GET_NUMBER, FINISH_ACTIVATION)
- `push`: the agent's call to us (PUSH_SMS at `POST /suppliers/{code}/smshub`)
- `agents`: an agent's URL and key, from the supplier registry (kind SMSHUB_AGENT)
- `finish`: FINISH_ACTIVATION carried by the outbox (services/outbox.py)
- `poller`: GET_SERVICES per agent; `availability`: its answers into stock (services/stock.py)
- `names`: our countries under SMSHub's names
- `source`: the NumberSource routing asks (GET_NUMBER), and how an ending is told back
- `hub`: all of it wired into one app (create_app)
"""
