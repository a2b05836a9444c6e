"""The Scrapy project: crawls the quotes site into a Redis Stream (docs/producer.md)."""
