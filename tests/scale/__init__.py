"""Team scale: several workers on PostgreSQL + Redis, the deployment files, credential rotation."""
