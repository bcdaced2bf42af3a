"""Account leases: one owner daemon per WhatsApp number (issue 14).

- `record`: the lease document, parsed defensively (corrupt = expired) and the fence check.
- `engine`: acquire / renew / release / hand over, each in one store transaction.
- `fencing`: `check_fence(tx, fence, now)` for the transactions that commit a send or action.
- `instances`: heartbeats; a second live process under one instance id is refused.
- `identity`: the default instance id, stable per data folder and unique per process.
- `balance`: the pure planner that spreads accounts over the live daemons.
- `coordinator`: one daemon's tick that ties them together and drives its sessions.
"""
