DROP TABLE auto_assign_soaks;
ALTER TABLE target_filter_queries DROP COLUMN auto_assign_pause_reason;
ALTER TABLE target_filter_queries DROP COLUMN auto_assign_paused_at;
ALTER TABLE target_filter_queries DROP COLUMN auto_assign_soak_error_threshold;
ALTER TABLE target_filter_queries DROP COLUMN auto_assign_health_gate;
ALTER TABLE target_filter_queries DROP COLUMN auto_assign_soak_time;
ALTER TABLE rollouts DROP COLUMN health_gate;
