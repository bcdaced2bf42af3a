"""The balance planner: which live daemon should own each account. Pure.

Every daemon runs the same plan on what it read from the store and acts only on its own part
(acquire what is assigned to it and free; hand over what it holds and is assigned elsewhere),
so the daemons converge without talking to each other. The plan is deterministic and moves as
little as it can:

- an account held by a live daemon stays there unless that daemon has more than its share;
- the shares differ by at most one (the larger shares go to the daemons holding most now);
- an account that is pairing (showing QR codes) is never moved while its owner lives: moving it
  would throw the QR the operator is scanning away;
- a daemon is never given more pairing accounts than its pairing limit; a pairing account that
  fits nowhere stays unassigned (and waits) rather than break a limit.

The counts differ by at most one whenever the pairing accounts allow it (they are at most
`max_pairings` per daemon, so only a daemon pinned above its share by pairings can break it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class DaemonSlot:
    instance_id: str
    max_pairings: int = 3


@dataclass(frozen=True)
class AccountSlot:
    account_id: str
    holder: str | None  # the holder of a live lease, None when free/expired/corrupt
    pairing: bool = False


Plan = dict[str, str | None]


def plan(accounts: Iterable[AccountSlot], daemons: Iterable[DaemonSlot]) -> Plan:
    """account id -> the instance that should own it (None: nobody can take it now)."""
    live = {d.instance_id: d for d in daemons}
    order = sorted(live)
    items = sorted(accounts, key=lambda a: a.account_id)
    if not order:
        return {a.account_id: None for a in items}
    held: dict[str, list[AccountSlot]] = {d: [] for d in order}
    pool: list[AccountSlot] = []
    for acc in items:
        if acc.holder in held:
            held[acc.holder].append(acc)
        else:
            pool.append(acc)
    # shares: base for all, +1 for the `extra` daemons that hold most now (fewest moves)
    base, extra = divmod(len(items), len(order))
    by_load = sorted(order, key=lambda d: (-len(held[d]), d))
    share = {d: base + (1 if i < extra else 0) for i, d in enumerate(by_load)}

    target: Plan = {}
    count = dict.fromkeys(order, 0)
    pairings = dict.fromkeys(order, 0)

    def place(acc: AccountSlot, d: str) -> None:
        target[acc.account_id] = d
        count[d] += 1
        pairings[d] += acc.pairing

    for d in order:  # pairing sessions stay where they are
        for acc in held[d]:
            if acc.pairing:
                place(acc, d)
    # pairing accounts without a live owner next: they have fewer places to go
    for acc in (a for a in pool if a.pairing):
        fits = [d for d in order if pairings[d] < max(live[d].max_pairings, 0)]
        if not fits:
            target[acc.account_id] = None  # waits for pairing room rather than break a limit
            continue
        place(acc, min(fits, key=lambda d: (count[d] - share[d], count[d], d)))
    pool = [a for a in pool if not a.pairing]
    # then keep as many of its other accounts as each daemon's share allows; release the rest
    for d in order:
        movable = [a for a in held[d] if not a.pairing]
        room = max(share[d] - count[d], 0)
        for acc in movable[:room]:
            place(acc, d)
        pool.extend(movable[room:])
    for acc in sorted(pool, key=lambda a: a.account_id):
        # the daemon furthest below its share, then the least loaded, then by id
        place(acc, min(order, key=lambda d: (count[d] - share[d], count[d], d)))
    return target


def spread(target: Mapping[str, str | None], daemons: Iterable[str]) -> dict[str, int]:
    """How many accounts each daemon is given (0 for those given none)."""
    out = dict.fromkeys(daemons, 0)
    for owner in target.values():
        if owner is not None:
            out[owner] = out.get(owner, 0) + 1
    return out
