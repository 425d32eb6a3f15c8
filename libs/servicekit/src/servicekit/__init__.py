"""What the GCC and customer backend services share: sessions, errors, migrations, auth."""
