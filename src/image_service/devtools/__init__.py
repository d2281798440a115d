"""Tools for development and tests, never imported by the service: left out of the Lambda zip
(deploy/package.py)."""
