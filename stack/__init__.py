"""The local stack: embedded Elasticsearch, Redis and a Celery worker as real processes."""
