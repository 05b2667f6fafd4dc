"""The management REST API under /api/v1/ (Django REST Framework; never on the /v1/messages hot path).

Who may do what:
- Staff (a session, or a DRF token of a staff user) see and manage every key and every usage row.
- Any other signed-in user sees only their own keys and usage; another user's key is a 404.
- Users may revoke their own keys (a leaked key should be killable by its owner at once), but only
  staff issue keys: issuing is where limits and budgets are set, so it stays an admin decision.
- Anonymous requests get a JSON 401; the API renders JSON only.

A key's secret appears once, in the body of the create response; afterwards only its prefix.
"""
