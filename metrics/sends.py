"""What the keepers' transactions did: counted by instruction and by what became of them, and
— for the landed ones — what they moved on (markets decided, funding updated)."""

from __future__ import annotations

from chain.sender import AlreadyDone, Expired, Fenced, GaveUp, Landed, Refused, SendResult
from metrics import definitions as m

SEND_OUTCOMES: dict[type, str] = {Landed: "landed", AlreadyDone: "already_done",
                                  Refused: "refused", Expired: "expired", GaveUp: "gave_up",
                                  Fenced: "fenced"}
# a landed instruction of these names moves a market on to this result
MARKET_RESULTS = {"approve_market": "approved", "reject_market": "rejected",
                  "finalize_market": "finalized"}
# each result exported at 0 from the start: the dashboard shows 0, not no data, until a market
# moves on
for _result in MARKET_RESULTS.values():
    m.markets_resolved.labels(_result)


def record_send(instruction: str, result: SendResult) -> None:
    """Count a send of `instruction` (its IDL name) by its result."""
    m.transactions.labels(instruction, SEND_OUTCOMES[type(result)]).inc()
    if not isinstance(result, Landed):
        return
    m.confirmation_time.labels(instruction).observe(result.confirmed_after_s)
    if instruction in MARKET_RESULTS:
        m.markets_resolved.labels(MARKET_RESULTS[instruction]).inc()
    elif instruction == "update_funding":
        m.funding_updates.inc()
