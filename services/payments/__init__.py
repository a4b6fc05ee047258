"""Money in and out through payment processors (R10, R15), framework-free.

    processor.py      the small interface every processor implements, and what it reports
    demo.py stripe.py nowpayments.py      one module per processor
    registry.py       which processors this server has configured
    topups.py         createTopUp, topUps, paymentProviders
    settlement.py     a verified notification -> exactly one ledger movement
    notifications.py  raw webhook bytes -> verified notification -> settlement
    refunds.py        refund requests and their decision (R15)
    reconciliation.py top-ups whose processor and ledger disagree, and settling one of them
    clearing.py       the ledger accounts of payments (clearing per processor, debt per user)

Card data never reaches this code: the user pays on the processor's page (R10), and the balance
is credited only by the processor's signed notification (docs/adr/0008).
"""
