"""What the server-rendered consoles of every tier share.

A console is one more adapter over a tier's service functions, beside its JSON API and its
command line. This library holds the parts that do not depend on which tier serves the
console: one-time sign-in links (:mod:`consolekit.signin`), server-side sessions with idle
expiry (:mod:`consolekit.sessions`), the session cookie (:mod:`consolekit.cookies`), CSRF
tokens (:mod:`consolekit.csrf`), server-side pagination (:mod:`consolekit.pagination`), and the
base templates, filters and static files (:mod:`consolekit.templating`). It never imports a
tier: a tier declares its own tables from the field sets here and passes them in.
"""
