"""Sources: turn a service's pages into candidate records (ids, metadata, licence, image URLs)."""
