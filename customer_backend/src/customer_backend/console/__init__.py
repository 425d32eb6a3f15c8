"""The Control Tower console: server-rendered pages for the customer's admins under /console."""
