"""Carry the old backend's linked WhatsApp sessions over (Baileys auth state → whatsmeow).

- `values`, `protowire`, `baileys`, `baileys_keys`: pure decoding and validation of the Baileys
  7.0.0-rc.9 multi-file auth state into `model.ImportedSession` (whatsmeow's rows).
- `whatsmeow_db`: the session database writer the neonize transport uses;
  `simulated_marker`: the simulated transport's import path.
- `sources`, `guard`, `runner`: where the files come from (the old volume or `wa_sessions/*`),
  the refusal to import an account the old backend may still serve, and the per-account run
  behind `superparty-daemon import-sessions`. See docs/session-import.md.
"""
