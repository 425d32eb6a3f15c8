"""What the server-rendered consoles of every tier share.

A console is one more adapter over a tier's service functions, beside its JSON API and its
command line. This library holds the parts that do not depend on which tier serves the
console: one-time sign-in links (:mod:`consolekit.signin`), server-side sessions with idle
expiry (:mod:`consolekit.sessions`), the session cookie (:mod:`consolekit.cookies`), CSRF
tokens (:mod:`consolekit.csrf`), server-side pagination (:mod:`consolekit.pagination`), the
base templates, filters and static files with htmx (:mod:`consolekit.templating`), the console
shell a tier declares once (:mod:`consolekit.web`: addresses, cookies, rendering, redirects,
error pages) and the sign-in pages over a tier's backend (:mod:`consolekit.signin_pages`).
It never imports a tier: a tier declares its own tables from the field sets here and passes them in.
"""
