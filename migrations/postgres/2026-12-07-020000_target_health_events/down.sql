DROP TABLE target_health_events;
