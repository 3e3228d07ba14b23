DROP TABLE rollout_soaks;
ALTER TABLE rollouts DROP COLUMN soak_time;
