"""The daemon's HTTP API (aiohttp): routes of CONTRACT.md section 5, auth, OpenAPI, dashboard."""
