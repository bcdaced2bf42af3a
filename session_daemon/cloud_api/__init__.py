"""The official WhatsApp Cloud API (Meta's Business Platform) as a second kind of account.

Pure logic first, I/O at the edges, so the transport port can wire it in without reshaping it:

- `signature`: `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with the app secret).
- `handshake`: the `hub.mode` / `hub.verify_token` / `hub.challenge` verification GET.
- `identity`: who a client is when Meta sends a phone, a business-scoped user id (BSUID), or both;
  the `clientJid` of a sender without a phone and the merge into the phone thread.
- `payloads`: a webhook body → typed events (messages, echoes, history, statuses, system changes),
  each with its dedup key; unknown kinds are counted, never fatal.
- `routing`: which account each change belongs to (`metadata.phone_number_id`).
- `convert`: typed events → the transport port's events (`MessageReceived`, `ReceiptReceived`), so
  the inbound pipeline, journal and receipts do not know which kind of account spoke.
- `statuses`: Meta's statuses onto the forward-only receipt rules (`failed` after `delivered` is
  an error on the message, not a step back).
- `window`: the 24-hour customer-service window.
- `errors`: Graph API errors → stable codes (retryable or not, stops the account or not).
- `outbound`: Meta's JSON bodies for sends; `graph`: the aiohttp Graph API client.
- `webhook`: the thin aiohttp handlers for `GET|POST /webhooks/whatsapp-cloud/{accountId}`.
"""
