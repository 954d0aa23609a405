"""How the app is served: Django's own pieces, adapted to run well under ASGI.

Settings name these classes in MIDDLEWARE and DATABASES, and advisor/ stays
configuration only. An app only for its system checks (serving/checks.py):
no models, no URLs.
"""
