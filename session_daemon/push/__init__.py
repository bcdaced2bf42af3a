"""Push notifications for inbound WhatsApp messages (issue 12; CONTRACT.md, `users/{uid}`).

- `payload`: the FCM v1 message for one thread (pure).
- `recipients`: who is notified, the same rule as `whatsappProxyGetAccountsStaff` (pure), and
  the store reads behind it.
- `fcm`: the FCM v1 HTTP adapter (injectable base URL and credentials: firebase-admin hard-codes
  its endpoint and FCM has no emulator).
- `tokens`: dropping a token FCM reports dead, only if the user still holds it.
- `notifier`: coalescing per thread over a short window, off the inbound path.
"""
