"""The study database: accepted runs and their results, SQLite by default, PostgreSQL by URL.

Nothing heavy is imported here (``il6assay --help`` must stay fast): the
schema is in ``models``, connections and migrations in ``engine``, the push in
``push``, reading back in ``read``, REDCap in ``redcap`` (the click commands
are in ``il6assay.cli.db``).
"""

# The environment variable naming the study database (read without importing SQLAlchemy).
ENV_VAR = "IL6ASSAY_DB"
