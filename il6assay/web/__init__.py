"""The review app in the browser (``il6assay serve``): accounts, roles, signed decisions.

``accounts`` (argon2id passwords, roles, lockout, the separation-of-duties
policy), ``sessions`` (database-kept sessions, idle timeout, CSRF tokens),
``decisions`` (electronic signatures and web masks, with separation of
duties), ``runs`` (the queue), ``app`` (the Flask pages), ``server``
(waitress). Nothing here is imported by ``il6assay --help``.
"""
