"""The management REST API under /api/v1/ (Django REST Framework; never on the /v1/messages hot path).

Who may do what follows the admin's model permissions (routing/access.py, docs/management-api.md):
- A staff user holding `routing.view_proxykey` (or change) sees every key; `routing.view_usagelog`
  (or change) every usage row. Anyone else, staff or not, sees only their own; another's key is a 404.
- Issuing needs `routing.add_proxykey` (else 403); only a superuser issues a key for a superuser.
- Revoking another user's key needs `routing.change_proxykey`; owners may always revoke their own.
- Sign-in: a session, or a management API token (django-rest-knox: stored hashed, expiring).
  Anonymous requests get a JSON 401; the API renders JSON only.

A key's secret appears once, in the body of the create response; afterwards only its prefix.
"""
