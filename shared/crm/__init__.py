"""CRM core: extraction, ask, aggregate (client totals). Pure logic; no I/O at import."""
