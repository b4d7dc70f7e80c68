"""Persistence of the review service: tables, migrations, repository functions."""
