"""image-service: upload, list, sign and serve images on a filesystem + SQLite or on S3 + DynamoDB."""

__version__ = "0.1.0"
