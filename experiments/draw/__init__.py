"""The draw page: draw a digit and watch trained networks answer, and look through a test set
with their answers. ``api`` is the Flask application (pages and JSON API), ``server`` the
bounded HTTP server it runs in, ``web/`` the pages' static files; ``nnsweep.experiments.serve`` is the
command that starts it on a run."""
