"""The `whatsappProxy*` door: framework-free handlers (`endpoints`), the daemon client
(`backend`) and the Flask adapter that `main.py` wraps."""
