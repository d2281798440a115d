"""What the AWS backend shares: the table definition, boto3 clients, errors and secrets."""
