"""Shipping the service: the Lambda artifact, built for Lambda's architecture and Python."""
