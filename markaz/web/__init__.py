"""The web layer every markaz screen shares: Jinja2 templates, gettext catalogues, local assets, a live-state client.

The server holds the state and renders it; the page only presents it and sends taps back (DESIGN.md, Web screens).
"""
