DROP INDEX actions_finished;
