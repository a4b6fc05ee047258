"""SMS Gateway for Android (a phone with SIM cards) as a supplier (contract/suppliers.md, 2).

signature.py  X-Signature / X-Timestamp: HMAC-SHA256 of the raw body and the timestamp
envelope.py   the app's webhook events, validated field by field into our own types
webhook.py    `POST /suppliers/{code}/android`: verify, then ingest an SMS or learn the SIMs
"""
