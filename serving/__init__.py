"""How the app is served: Django's own pieces, adapted to run well under ASGI.

Not an app (no models, no URLs): settings name these classes in MIDDLEWARE
and DATABASES, and advisor/ stays configuration only.
"""
