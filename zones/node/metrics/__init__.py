"""What a zone counts and times for Prometheus: the metrics, in one registry per zone.

The series that describe state (children, hosts, instances, free room) are not
kept here: the zone reads them when scraped (zones.router.observing), so every
worker of a zone reports the same state from the database.
"""
