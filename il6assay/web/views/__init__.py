"""The review app's routes, one Flask Blueprint per job, registered by ``create_app``.

``signin`` (sign-in, sign-out, the language switch), ``queue`` (the queue, a
run's page, its history), ``decisions`` (masks with their refit preview,
signatures, push), ``study`` (the controls and study overview pages),
``files`` (the favicon, plotly.js and a report's frame files).
"""
